"""An optimization run from a TOML config: agent from the prior, scorer, oracle log.

    chemloop optimize --config examples/qed.toml --output runs/qed

Writes ``oracle_calls.csv`` (one row per unique oracle call, in order), ``top.csv``,
``steps.csv``, ``report.html``, the config used and the agent checkpoint.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.rl.diversity import ScaffoldDiversityFilter
from chemloop.rl.reinvent import ReinventAgent, StepReport
from chemloop.rl.report import write_report
from chemloop.score.config import ScoreConfig
from chemloop.score.scorer import Scorer


class RunSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: int = Field(10_000, ge=1, description="unique oracle calls")
    max_steps: int = Field(1_000, ge=1)
    seed: int = 0
    model: str = Field("prior", description="checkpoint folder or shipped prior name")
    batch_size: int = Field(64, ge=1)
    sigma: float = Field(128.0, gt=0, description="weight of the score in the augmented likelihood")
    lr: float = Field(1e-4, gt=0)
    replay: int = Field(8, ge=0, description="remembered molecules added to each batch")
    diversity_bucket: int | None = Field(25, ge=1, description="scaffold bucket size; none disables")
    target_score: float | None = Field(None, description="stop once the top-10 mean of calls reaches this")


class OptimizeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: RunSection = Field(default_factory=RunSection)
    score: ScoreConfig


def load_config(path: str | Path) -> OptimizeConfig:
    """Read and validate a TOML run config; plugin paths are relative to the config file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ChemloopError(f"cannot read config {path}: {err}") from None
    for entry in data.get("score", {}).get("components", []):
        if isinstance(entry, dict) and "path" in entry:
            entry["path"] = str((path.parent / entry["path"]).resolve())
    try:
        return OptimizeConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ChemloopError(f"invalid config {path}: {problems}") from None


def optimize(
    config: OptimizeConfig, output: str | Path, progress: Callable[[StepReport, int], None] | None = None
) -> Path:
    """Run until the budget or ``max_steps`` is spent; return the run folder."""
    output = Path(output)
    if (output / "oracle_calls.csv").exists():
        raise ChemloopError(f"{output} already holds a run; choose another --output")
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(config.model_dump_json(indent=2))
    run = config.run
    scorer = Scorer(config.score, budget=run.budget)
    diversity = ScaffoldDiversityFilter(run.diversity_bucket) if run.diversity_bucket else None
    agent = ReinventAgent(
        checkpoint.load(run.model),
        sigma=run.sigma,
        lr=run.lr,
        batch_size=run.batch_size,
        replay=run.replay,
        diversity=diversity,
        seed=run.seed,
    )

    def score(smiles):
        return [r.score for r in scorer(smiles)]

    steps = []
    while agent.steps < run.max_steps and not scorer.exhausted and not _reached(scorer, run.target_score):
        report = agent.step(score)
        steps.append(report)
        if progress:
            progress(report, len(scorer.calls))
    _write_calls(output / "oracle_calls.csv", scorer)
    _write_top(output / "top.csv", scorer)
    with (output / "steps.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "mean_score", "best_score", "validity", "loss"])
        writer.writerows([s.step, s.mean_score, s.best_score, s.validity, s.loss] for s in steps)
    checkpoint.save(
        output / "agent",
        agent.agent,
        agent.tokenizer,
        {"stage": "reinvent", "steps": agent.steps, "oracle_calls": len(scorer.calls)},
    )
    scored = [c.score for c in scorer.calls if c.score == c.score]  # NaN != NaN
    summary = {"steps": agent.steps, "oracle_calls": len(scorer.calls), "best": max(scored, default=None)}
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    write_report(output)
    return output


def _reached(scorer: Scorer, target: float | None) -> bool:
    if target is None:
        return False
    best = sorted((c.score for c in scorer.calls if c.score == c.score), reverse=True)[:10]
    return len(best) == 10 and sum(best) / 10 >= target


def _write_calls(path: Path, scorer: Scorer) -> None:
    labels = [c.label for c in scorer.config.components]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["call", "smiles", "score", *(f"{x}_raw" for x in labels), *labels])
        for number, call in enumerate(scorer.calls, start=1):
            writer.writerow(
                [
                    number,
                    call.canonical,
                    call.score,
                    *(call.raw[x] for x in labels),
                    *(call.transformed[x] for x in labels),
                ]
            )


def _write_top(path: Path, scorer: Scorer, n: int = 100) -> None:
    ranked = sorted((c for c in scorer.calls if c.score == c.score), key=lambda c: c.score, reverse=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "smiles", "score"])
        writer.writerows([i, c.canonical, c.score] for i, c in enumerate(ranked[:n], start=1))
