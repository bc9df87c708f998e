"""An optimization run from a TOML config: agent from the prior, scorer, oracle log.

    chemloop optimize --config examples/qed.toml --output runs/qed
    chemloop optimize --output runs/qed --resume          # after a stop, or to extend the budget

Writes ``oracle_calls.csv`` (one row per unique oracle call, in order, appended as the
run goes), ``steps.csv``, ``top.csv``, ``report.html``, ``summary.json``, the config used,
the agent checkpoint, ``model_weights.json`` (which weights the model's name stood for: a resume
with others is refused), and ``state/`` (agent, optimizer, memory: what a resume needs).
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chemloop.config_files import read_toml, validate
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.rl.agent import Agent, StepReport
from chemloop.rl.diversity import scaffold_of
from chemloop.rl.oracle_log import OracleLog, counted, read_sources
from chemloop.rl.report import write_report
from chemloop.rl.settings import AgentSettings, make_agent
from chemloop.score.config import ScoreConfig
from chemloop.score.scorer import BUDGET_EXHAUSTED, Scorer

# Keys that only decide when to stop: a resumed run may change them, not the rest.
STOPPING_KEYS = {
    "budget",
    "max_steps",
    "target_score",
    "checkpoint_every",
    "patience",
    "plateau",
    "plateau_calls",
}
# PMO's REINVENT baseline stops a run whose 100 best scores stay the same for 5 steps once
# 1,000 molecules are scored (Gao et al. 2022, mol_opt); `plateau` is that rule.
PLATEAU_TOP = 100
PLATEAU_AFTER_CALLS = 1_000
WEIGHTS_RECORD = "model_weights.json"  # which weights the run's model name stood for at its start


class RunSection(AgentSettings):
    """``[run]``: the agent's settings (:class:`AgentSettings`, shared with ``bench pmo`` and campaigns)
    and what only a run has: its budget, model, seed and when it stops."""

    budget: int = Field(
        10_000, ge=1, description="unique molecules scored (oracle calls) before the run stops"
    )
    max_steps: int = Field(1_000, ge=1, description="agent updates (steps) at most")
    seed: int = Field(0, description="random seed of sampling, replay and the GA")
    model: str = Field("prior", description="checkpoint folder or shipped prior name")
    target_score: float | None = Field(None, description="stop once the top-10 mean of calls reaches this")
    patience: int = Field(
        20, ge=1, description="stop after this many steps in a row without a new molecule to score"
    )
    plateau: int | None = Field(
        None,
        ge=1,
        description=f"stop after this many steps in a row that leave the {PLATEAU_TOP} best scores "
        f"unchanged, counted once {PLATEAU_AFTER_CALLS:,} molecules are scored (PMO's rule); none disables",
    )
    # A collapsing agent writes few new molecules a step, so 5 steps can be a few dozen molecules;
    # counted in molecules, the rule tries as many as PMO's REINVENT did (5 steps x 64) before stopping.
    plateau_calls: int | None = Field(
        None,
        ge=1,
        description=f"stop after this many new molecules in a row leave the {PLATEAU_TOP} best scores "
        f"unchanged, counted once {PLATEAU_AFTER_CALLS:,} molecules are scored; none disables",
    )
    checkpoint_every: int = Field(10, ge=1, description="steps between saved states (for --resume)")


class OptimizeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: RunSection = Field(default_factory=RunSection, description="the optimizer and when it stops")
    score: ScoreConfig = Field(description="the objective: components, transforms, aggregation")

    @model_validator(mode="after")
    def _has_objective(self) -> OptimizeConfig:
        if not self.score.weighted:
            raise ValueError("score: at least one non-filter component needs a weight above 0")
        return self


@dataclass
class Progress:
    """What the progress bar shows after each step."""

    step: StepReport
    calls: int
    best: float
    scaffolds: int


def parse_config(data: dict, source: str) -> OptimizeConfig:
    """Validate a config mapping; errors name each bad key."""
    return validate(OptimizeConfig, data, f"config {source}")


def load_config(path: str | Path) -> OptimizeConfig:
    """Read and validate a TOML run config; plugin paths are relative to the config file."""
    path = Path(path)
    return parse_config(read_toml(path, "config"), str(path))


def resume_config(output: Path, new: OptimizeConfig | None = None) -> OptimizeConfig:
    """The stored config of a run, with the stopping rules of ``new`` if given."""
    stored_path = output / "config.json"
    if not stored_path.exists():
        raise ChemloopError(f"{output} holds no run to resume (no config.json)")
    stored = parse_config(json.loads(stored_path.read_text()), str(stored_path))
    if new is None:
        return stored
    old_run, new_run = stored.run.model_dump(), new.run.model_dump()
    changed = sorted(f"run.{k}" for k in old_run if k not in STOPPING_KEYS and old_run[k] != new_run[k])
    if stored.score != new.score:
        changed.append("score")
    if changed:
        raise ChemloopError(
            f"cannot resume {output} with a different {', '.join(changed)}; "
            f"only {', '.join(sorted(STOPPING_KEYS))} may change"
        )
    return new


def optimize(
    config: OptimizeConfig | None,
    output: str | Path,
    progress: Callable[[Progress], None] | None = None,
    resume: bool = False,
) -> Path:
    """Run until the budget, ``max_steps`` or ``target_score``; return the run folder.

    With ``resume``, continue the run in ``output`` from its last saved state; calls logged
    after that state stay in the log and the cache, so no molecule is scored twice.
    """
    started = time.perf_counter()
    output = Path(output)
    if resume:
        config = resume_config(output, config)
    elif (output / "oracle_calls.csv").exists():
        raise ChemloopError(f"{output} already holds a run; choose another --output or pass --resume")
    if config is None:
        raise ChemloopError("optimize needs a config (or --resume of an existing run)")
    output.mkdir(parents=True, exist_ok=True)
    run = config.run
    weights = _check_weights(output, run.model, resume)
    (output / "config.json").write_text(config.model_dump_json(indent=2))
    scorer = Scorer(config.score, budget=run.budget)
    log = OracleLog(output / "oracle_calls.csv", [c.label for c in config.score.components])
    agent = _make_agent(run)
    steps: list[StepReport] = []
    if resume:
        try:
            scorer.restore(log.read())
        except ValueError as err:
            raise ChemloopError(f"cannot resume: {err}") from None
        state = _saved_state(output)
        if state is not None:
            agent.load_state(state)
        steps = [s for s in _read_steps(output / "steps.csv") if s.step <= agent.steps]
    scaffolds = {scaffold_of(c.canonical) for c in scorer.calls}
    _write_steps(output / "steps.csv", steps)

    def score(smiles):  # None: past the budget, so never scored and not learned from
        return [None if r.reason == BUDGET_EXHAUSTED else r.score for r in scorer(smiles)]

    stalled = 0  # steps in a row whose batch held nothing new: the agent has collapsed
    plateau = Plateau(scorer.calls)
    while (
        agent.steps < run.max_steps
        and not scorer.exhausted
        and not _reached(scorer, run.target_score)
        and stalled < run.patience
        and not plateau.reached(run)
    ):
        logged = len(scorer.calls)
        report = agent.step(score)
        new_calls = scorer.calls[logged:]
        stalled = 0 if new_calls else stalled + 1
        plateau.update(new_calls, total=len(scorer.calls))
        log.append(new_calls, first_number=logged + 1, sources=_sources(new_calls, report))
        _write_steps(output / "steps.csv", [report], append=True)
        steps.append(report)
        scaffolds.update(scaffold_of(c.canonical) for c in new_calls)
        if agent.steps % run.checkpoint_every == 0:
            _save_state(agent, output)
        if progress:
            progress(Progress(report, len(scorer.calls), _best(scorer), len(scaffolds)))
    if not log.path.exists():  # no molecule was scored at all: still write the header
        log.append([], first_number=1)
    _save_state(agent, output)
    _write_top(output / "top.csv", scorer)
    checkpoint.save(
        output / "agent",
        agent.policy,
        agent.tokenizer,
        {"stage": run.update, "steps": agent.steps, "oracle_calls": len(scorer.calls)},
    )
    top10 = _top10(scorer)
    summary = {
        "steps": agent.steps,
        "stopped_by": _stop_reason(run, agent, scorer, stalled, plateau),
        "oracle_calls": len(scorer.calls),
        "ga_offspring_calls": read_sources(log.path).count("ga"),
        "best": _best(scorer) if scorer.calls else None,
        "top10_mean": sum(top10) / len(top10) if top10 else None,
        "unique_scaffolds": len(scaffolds),
        "last_step_validity": steps[-1].validity if steps else None,
        # Wall time of this invocation: a resumed run counts only the time since it resumed.
        "seconds_this_invocation": round(time.perf_counter() - started, 1),
        "resumed": resume,
        "model_weights_sha256": weights,
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    write_report(output)
    return output


class Plateau:
    """Steps in a row that left the best scores unchanged (counted once enough calls are made).

    A new molecule changes the best ``PLATEAU_TOP`` only if it scores above the lowest of them.
    """

    def __init__(self, calls: list) -> None:
        self.best = sorted((counted(c.score) for c in calls), reverse=True)[:PLATEAU_TOP]
        self.steps = 0
        self.calls = 0  # new molecules scored since the best last changed

    def update(self, new_calls: list, total: int) -> None:
        scores = [counted(c.score) for c in new_calls]
        floor = self.best[-1] if len(self.best) == PLATEAU_TOP else float("-inf")
        changed = any(s > floor for s in scores)
        if changed:
            self.best = sorted(self.best + scores, reverse=True)[:PLATEAU_TOP]
        counting = not changed and total > PLATEAU_AFTER_CALLS
        self.steps = self.steps + 1 if counting else 0
        self.calls = self.calls + len(scores) if counting else 0

    def reached(self, run: RunSection) -> bool:
        """True once either plateau rule of ``run`` (in steps or in molecules) says stop."""
        by_steps = run.plateau is not None and self.steps >= run.plateau
        return by_steps or (run.plateau_calls is not None and self.calls >= run.plateau_calls)


def _sources(calls: list, report: StepReport) -> list[str]:
    """Each new call's source: ``ga`` for the step's GA offspring, ``agent`` for its samples."""
    offspring = set(report.offspring)
    return ["ga" if c.canonical in offspring else "agent" for c in calls]


def _make_agent(run: RunSection) -> Agent:
    return make_agent(checkpoint.load(run.model), run, run.seed)


def _check_weights(output: Path, model: str, resume: bool) -> str:
    """The digest of the run's model weights, recorded at its start; a resume with other weights
    behind the same name (a newer shipped prior) is refused: the run would mix two models."""
    digest = checkpoint.weights_digest(model)
    record = output / WEIGHTS_RECORD
    if resume and record.exists():
        started = json.loads(record.read_text())["sha256"]
        if started != digest:
            raise ChemloopError(
                f"{output} was started with other weights of model {model!r} (sha256 {started}, "
                f"now {digest}); it cannot be resumed with these"
            )
    else:
        record.write_text(json.dumps({"model": model, "sha256": digest}, indent=2))
    return digest


def _save_state(agent: Agent, output: Path) -> None:
    """Write the new state beside the old one, then swap, so a kill mid-write loses nothing."""
    fresh, current, old = output / "state.new", output / "state", output / "state.old"
    shutil.rmtree(fresh, ignore_errors=True)
    agent.save_state(fresh)
    if current.exists():
        shutil.rmtree(old, ignore_errors=True)
        current.rename(old)
    fresh.rename(current)
    shutil.rmtree(old, ignore_errors=True)


def _saved_state(output: Path) -> Path | None:
    for candidate in (output / "state", output / "state.old"):  # .old: killed mid-swap
        if (candidate / "agent_state.json").exists():
            return candidate
    return None


def _stop_reason(run: RunSection, agent: Agent, scorer: Scorer, stalled: int, plateau: Plateau) -> str:
    if scorer.exhausted:
        return "budget"
    if _reached(scorer, run.target_score):
        return "target_score"
    if stalled >= run.patience:
        return "patience"
    if plateau.reached(run):
        return "plateau"
    return "max_steps"


def _best(scorer: Scorer) -> float:
    return max((c.score for c in scorer.calls if c.score == c.score), default=float("nan"))


def _top10(scorer: Scorer) -> list[float]:
    return sorted((c.score for c in scorer.calls if c.score == c.score), reverse=True)[:10]


def _reached(scorer: Scorer, target: float | None) -> bool:
    if target is None:
        return False
    best = _top10(scorer)
    return len(best) == 10 and sum(best) / 10 >= target


STEP_COLUMNS = ["step", "mean_score", "best_score", "validity", "loss"]


def _write_steps(path: Path, steps: list[StepReport], append: bool = False) -> None:
    with path.open("a" if append else "w", newline="") as handle:
        writer = csv.writer(handle)
        if not append:
            writer.writerow(STEP_COLUMNS)
        writer.writerows([getattr(s, c) for c in STEP_COLUMNS] for s in steps)


def _read_steps(path: Path) -> list[StepReport]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [
            StepReport(int(r["step"]), *(float(r[c]) for c in STEP_COLUMNS[1:]))
            for r in csv.DictReader(handle)
        ]


def _write_top(path: Path, scorer: Scorer, n: int = 100) -> None:
    ranked = sorted((c for c in scorer.calls if c.score == c.score), key=lambda c: c.score, reverse=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "smiles", "score"])
        writer.writerows([i, c.canonical, c.score] for i, c in enumerate(ranked[:n], start=1))
