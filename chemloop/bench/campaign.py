"""``chemloop bench campaign``: a simulated design-make-test campaign where a PMO oracle is the lab.

Protocol: a campaign starts from a few measured seed molecules and runs R rounds
of K molecules. Beside it, with the same seed data and the same budget, run three baselines:

- ``random``: random picks from a fixed pool of the prior's samples (valid, unique);
- ``greedy``: each round, a reward model (the campaign's settings, no RL) is fitted on
  everything measured and scores the same pool of prior samples; the batch is the top K by
  predicted mean under the campaign's diversity rule (``select_batch`` with its
  ``max_similarity``), so only RL and the acquisition function differ from the campaign;
- ``screen``: the same greedy rule on a pool of MOSES test molecules.

The MOSES test set is shuffled once with a fixed generator and cut into disjoint slices:
the reference (``reference_size`` molecules whose oracle scores define the top-1%
threshold, their 99th percentile), then, per seed, the seed molecules and the screening
pool. The reference is the same for every seed; no method ever measures a reference molecule
through the seed or the screening slices (the prior may of course generate one).

A measured value is the oracle's score plus Gaussian noise of std ``noise``; the noise of a
molecule is fixed by (seed, SMILES), so two methods that measure the same molecule read the
same value. The lab measures the compound (``lab_measures="compound"``, the default): the oracle
scores each molecule's parent, its largest fragment neutralized, as a real assay measures a
compound whatever charge state or salt it was written in (``"as-written"`` scores the SMILES as
PMO does: an aryl ``[O-]`` may then score higher than the phenol it is). Hits (molecules in the
top 1%) and "best in the top 1%" are judged on the true, noise-free score of the designed
molecules (seed molecules excluded, as all methods share them); best-so-far is what the chemist
sees: the best *measured* value after each round.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import ValidationError

from chemloop.bench.machine import describe
from chemloop.chem.mol import new_compounds, parent_smiles, to_mol, try_canonical
from chemloop.config_files import validation_problems
from chemloop.data.corpus import load_moses
from chemloop.errors import ChemloopError
from chemloop.loop.acquisition import select_batch
from chemloop.loop.campaign import init_campaign, propose
from chemloop.loop.campaign_reads import molecules, status, stored_config
from chemloop.loop.config import CampaignConfig, CampaignSection, RewardSection
from chemloop.loop.results import import_results
from chemloop.loop.store import connect
from chemloop.model import checkpoint
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT
from chemloop.reward.data import ValueData
from chemloop.reward.features import FeatureTable
from chemloop.reward.model import RewardConfig, RewardModel
from chemloop.rl.settings import AgentSettings
from chemloop.score.config import ScoreConfig
from chemloop.score.oracles.pmo import oracle

METHODS: tuple[str, ...] = ("chemloop", "random", "greedy", "screen")
REFERENCE_SEED = 20240  # the reference slice does not depend on the run's seed
TOP_PERCENTILE = 99.0


class Assay(Protocol):
    """What a simulated lab offers a campaign: a measured value per molecule."""

    def measure(self, smiles: Sequence[str]) -> list[float]: ...


LAB_MEASURES = ("compound", "as-written")


def check_lab_measures(measures: str) -> str:
    if measures not in LAB_MEASURES:
        raise ChemloopError(f"lab_measures {measures!r} is not one of {', '.join(LAB_MEASURES)}")
    return measures


class _Lab:
    """The oracle as an assay: true scores (cached) and noisy measurements fixed per molecule; with
    ``measures="compound"`` the oracle scores each molecule's parent compound."""

    def __init__(self, task: str, noise: float, seed: int, measures: str = "compound") -> None:
        self.score_mols = oracle(task)
        self.noise, self.seed = noise, seed
        self.compound = check_lab_measures(measures) == "compound"
        self.true: dict[str, float] = {}

    def score(self, smiles: Sequence[str]) -> list[float]:
        new = [s for s in dict.fromkeys(smiles) if s not in self.true]
        if new:
            measured = [parent_smiles(s) if self.compound else s for s in new]
            for s, v in zip(new, self.score_mols([to_mol(m, "oracle") for m in measured]), strict=True):
                self.true[s] = 0.0 if v != v else float(v)  # NaN (a failed term) scores 0
        return [self.true[s] for s in smiles]

    def measure(self, smiles: Sequence[str]) -> list[float]:
        values = self.score(smiles)
        if self.noise <= 0:
            return values
        out = []
        for s, v in zip(smiles, values, strict=True):
            key = int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "little")
            out.append(v + float(np.random.default_rng([self.seed, key]).normal(0.0, self.noise)))
        return out


def canonical_unique(smiles: Sequence[str], exclude: Collection[str] = frozenset()) -> list[str]:
    out = (try_canonical(s) for s in smiles)
    return [c for c in dict.fromkeys(c for c in out if c) if c not in exclude]


def distinct_pool(smiles: Sequence[str], exclude: Collection[str], lab_measures: str) -> list[str]:
    """A baseline's pool: ``smiles`` canonical and unique, none of ``exclude``; where the lab
    measures compounds, one form of each parent compound and none of an excluded one's, as the
    campaign's candidates are new compounds."""
    pool = canonical_unique(smiles, exclude)
    return new_compounds(pool, exclude) if lab_measures == "compound" else pool


def campaign_config(
    batch: int,
    seed: int,
    seed_csv: Path,
    campaign: dict[str, Any],
    reward: dict[str, Any],
    run: dict[str, Any] | None = None,
    score: dict[str, Any] | None = None,
) -> CampaignConfig:
    section = CampaignSection(**{**campaign, "batch": batch, "seed": seed, "seed_data": seed_csv})
    scoring = {"score": ScoreConfig.model_validate(score)} if score else {}
    return CampaignConfig(
        campaign=section, reward=RewardSection(**reward), run=AgentSettings(**(run or {})), **scoring
    )


def write_values(path: Path, smiles: Sequence[str], values: Sequence[float]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "value"])
        writer.writerows(zip(smiles, values, strict=True))
    return path


def run_chemloop(
    config: CampaignConfig,
    rounds: int,
    lab: Assay,
    folder: Path,
    say: Callable[[str], None] = lambda _: None,
    lab_measures: str = "compound",
) -> list[list[str]]:
    """The real campaign code on a SQLite file: init with the seed CSV, then propose → measure → import.
    ``say`` hears one line per round (a run takes tens of minutes on the 2-core CPU).

    A folder that already holds the campaign (a stopped run kept in a work folder) continues after
    its last measured round; a round proposed but not measured is measured, not proposed again. It
    must have been measured by the same lab (``lab_measures``, kept in the folder; a folder from
    before it was kept was measured as written)."""
    database, timing_file = folder / "campaign.db", folder / "round_seconds.json"
    lab_file = folder / "lab_measures.txt"
    resuming = database.exists()
    factory = connect(f"sqlite:///{database}")
    seconds = json.loads(timing_file.read_text()) if timing_file.exists() else {}
    if not resuming:
        start = time.perf_counter()
        init_campaign(factory, "bench", config)
        seconds["0"] = time.perf_counter() - start  # the first reward model's fit
        lab_file.write_text(lab_measures)
    elif stored_config(factory, "bench") != config:
        raise ChemloopError(f"{folder} holds a campaign with other settings; use another work folder")
    elif (kept := lab_file.read_text() if lab_file.exists() else "as-written") != lab_measures:
        raise ChemloopError(f"{folder} holds a campaign whose lab measured {kept}; use another work folder")
    proposed_by_round = _proposals(factory)
    measured = {r["round"] for r in status(factory, "bench")["rounds"] if r["measured"]}
    picks = []
    for number in range(1, rounds + 1):
        if number in measured:
            picks.append(proposed_by_round[number])
            continue
        start = time.perf_counter()
        proposed = proposed_by_round.get(number) or propose(factory, "bench").smiles
        values = lab.measure(proposed)
        import_results(factory, "bench", write_values(folder / f"round{number}.csv", proposed, values))
        picks.append(proposed)
        seconds[str(number)] = seconds.get(str(number), 0.0) + time.perf_counter() - start
        timing_file.write_text(json.dumps(seconds))
        say(
            f"  round {number}/{rounds}: {len(proposed)} measured, mean {np.mean(values):.3f}, "
            f"best {max(values):.3f} ({seconds[str(number)]:.0f} s)"
        )
    return picks


def chemloop_seconds(folder: Path) -> float:
    """Seconds the campaign took (its first fit and every round measured), over every run that worked
    on it; a round stopped midway counts only as finished by the run that finished it."""
    timing_file = folder / "round_seconds.json"
    return sum(json.loads(timing_file.read_text()).values()) if timing_file.exists() else 0.0


def _proposals(factory) -> dict[int, list[str]]:
    """Each stored round's proposals, in rank order."""
    rows = [m for m in molecules(factory, "bench") if m["rank"] is not None and m["round"] > 0]
    by_round: dict[int, list[str]] = {}
    for row in sorted(rows, key=lambda m: (m["round"], m["rank"])):
        by_round.setdefault(row["round"], []).append(row["smiles"])
    return by_round


@contextmanager
def campaign_folder(work_dir: Path | None, name: str) -> Iterator[Path]:
    """``work_dir/name`` (kept, so a stopped campaign continues), or a temporary folder."""
    if work_dir is None:
        with tempfile.TemporaryDirectory() as folder:
            yield Path(folder)
        return
    folder = Path(work_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


def baseline_reward(settings: RewardSection, seed: int) -> RewardConfig:
    """The reward model the greedy and screening baselines fit: the campaign's, on values."""
    return RewardConfig(
        kind="values",
        features=settings.features,
        ensemble=settings.ensemble,
        hidden=settings.hidden,
        epochs=settings.epochs,
        parent_forms=settings.parent_forms,
        seed=seed,
    )


def run_greedy(
    pool: list[str],
    seed_smiles: list[str],
    rounds: int,
    batch: int,
    lab: Assay,
    reward: RewardConfig,
    max_similarity: float | None,
) -> list[list[str]]:
    """Each round: fit the reward model on all measurements, take the top K of the unmeasured pool."""
    table = FeatureTable(reward.features)  # the pool's features are computed once
    measured = list(seed_smiles)
    values = lab.measure(measured)
    picks = []
    for _ in range(rounds):
        model = RewardModel.fit(ValueData(measured, np.array(values), None, "bench"), reward, table=table)
        seen = set(measured)
        rest = [s for s in pool if s not in seen]
        mean, _ = model.predict(rest)
        chosen = [rest[i] for i in select_batch(rest, list(mean), k=batch, max_similarity=max_similarity)]
        measured += chosen
        values += lab.measure(chosen)
        picks.append(chosen)
    return picks


def _summary(picks: list[list[str]], seed_smiles: list[str], lab: _Lab, threshold: float, seconds: float):
    seed_values = lab.measure(seed_smiles)
    best, best_so_far = max(seed_values), [max(seed_values)]
    molecules = []
    for number, chosen in enumerate(picks, start=1):
        for s, value, true in zip(chosen, lab.measure(chosen), lab.score(chosen), strict=True):
            molecules.append({"round": number, "smiles": s, "value": value, "score": true})
            best = max(best, value)
        best_so_far.append(best)
    designed = molecules or [{"value": best, "score": max(lab.score(seed_smiles))}]
    top = max(designed, key=lambda m: m["value"])
    return {
        "best_so_far": best_so_far,
        "best_measured": best,
        "best_designed_score": top["score"],
        "top1_hits": sum(m["score"] >= threshold for m in molecules),
        "best_in_top1": top["score"] >= threshold,
        "measured": len(seed_smiles) + len(molecules),
        "seconds": round(seconds, 1),
        "molecules": molecules,
    }


def bench_campaign(
    task: str = "osimertinib_mpo",
    rounds: int = 6,
    batch: int = 12,
    seeds: Sequence[int] = (0,),
    noise: float = 0.0,
    seed_molecules: int = 10,
    reference_size: int = 10_000,
    pool_size: int | None = None,
    campaign: dict[str, Any] | None = None,
    reward: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    methods: Sequence[str] = METHODS,
    progress: Callable[[str], None] | None = None,
    score: dict[str, Any] | None = None,
    work_dir: Path | None = None,
    lab_measures: str = "compound",
) -> dict:
    """Simulate the campaign and its baselines for each seed; return a JSON-serializable dict.

    ``campaign`` and ``reward`` override :class:`CampaignSection` / :class:`RewardSection`
    fields (e.g. ``{"candidates": 500, "rl_steps": 5}``); unset fields keep their defaults.
    ``score`` is a ``[score]`` table of constraints and terms beside the learned reward.
    ``pool_size`` is the size of the baselines' pools (prior samples, MOSES molecules);
    by default the campaign's ``candidates``, so every method chooses from as many molecules.
    ``work_dir`` keeps each seed's campaign (``TASK_sSEED``): run again, a stopped one continues
    from its last measured round (:func:`run_chemloop`). ``lab_measures``: what the lab scores, each
    molecule's parent compound or its SMILES as written (see the module doc).
    """
    check_lab_measures(lab_measures)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ChemloopError(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    if rounds < 1 or batch < 1 or seed_molecules < 5 or reference_size < 100:
        raise ChemloopError("need rounds ≥ 1, batch ≥ 1, seed_molecules ≥ 5, reference_size ≥ 100")
    say = progress or (lambda _: None)
    campaign, reward = dict(campaign or {}), dict(reward or {})
    try:  # validates the overrides before any work
        probe = campaign_config(batch, 0, Path("seed.csv"), campaign, reward, run, score)
    except ValidationError as err:
        raise ChemloopError(f"invalid campaign settings: {validation_problems(err)}") from None
    settings, reward_settings = probe.campaign, probe.reward
    pool_size = pool_size or settings.candidates

    started = time.perf_counter()
    test = load_moses("test")
    order = np.random.default_rng(REFERENCE_SEED).permutation(len(test))
    reference = canonical_unique([test[i] for i in order[:reference_size]])
    rest = [test[i] for i in order[reference_size:]]
    reference_lab = _Lab(task, 0.0, 0, lab_measures)
    reference_scores = np.array(reference_lab.score(reference))
    threshold = float(np.percentile(reference_scores, TOP_PERCENTILE))
    say(f"reference: {len(reference)} MOSES test molecules, top-1% threshold {threshold:.4f}")

    prior = checkpoint.load(settings.model)
    runs = []
    for seed in seeds:
        lab = _Lab(task, noise, seed, lab_measures)
        lab.true.update(reference_lab.true)
        rng = np.random.default_rng(seed)
        shuffled = [rest[i] for i in rng.permutation(len(rest))[: 2 * (seed_molecules + pool_size)]]
        seed_smiles = canonical_unique(shuffled)[:seed_molecules]
        screen_pool = distinct_pool(shuffled, set(seed_smiles), lab_measures)[:pool_size]
        report = sample(prior, pool_size, seed=seed, precision=FLOAT)
        valid = [m.canonical for m in report.molecules if m.valid]
        prior_pool = distinct_pool(valid, set(seed_smiles), lab_measures)
        if len(prior_pool) < rounds * batch or len(screen_pool) < rounds * batch:
            raise ChemloopError(f"pools of {pool_size} molecules are too small for {rounds} × {batch} picks")
        model_reward = baseline_reward(reward_settings, seed)
        results = {}
        for method in methods:
            start, seconds = time.perf_counter(), None
            if method == "chemloop":
                with campaign_folder(work_dir, f"{task}_s{seed}") as folder:
                    seed_csv = write_values(folder / "seed.csv", seed_smiles, lab.measure(seed_smiles))
                    config = campaign_config(batch, seed, seed_csv, campaign, reward, run, score)
                    picks = run_chemloop(config, rounds, lab, folder, say, lab_measures)
                    seconds = chemloop_seconds(folder)  # over every run that worked on it
            elif method == "random":
                drawn = np.random.default_rng([seed, 1]).choice(
                    len(prior_pool), rounds * batch, replace=False
                )
                flat = [prior_pool[i] for i in drawn]
                picks = [flat[r * batch : (r + 1) * batch] for r in range(rounds)]
            else:
                pool = prior_pool if method == "greedy" else screen_pool
                picks = run_greedy(
                    pool, seed_smiles, rounds, batch, lab, model_reward, settings.max_similarity
                )
            seconds = time.perf_counter() - start if seconds is None else seconds
            results[method] = _summary(picks, seed_smiles, lab, threshold, seconds)
            r = results[method]
            say(
                f"seed {seed} {method}: best {r['best_measured']:.4f}, {r['top1_hits']} top-1% hits, "
                f"{r['seconds']:.0f} s"
            )
        runs.append({"seed": seed, "seed_molecules": seed_smiles, "methods": results})

    return {
        "task": task,
        "rounds": rounds,
        "batch": batch,
        "seeds": list(seeds),
        "noise": noise,
        "lab_measures": lab_measures,
        "seed_molecules": seed_molecules,
        "reference_size": len(reference),
        "pool_size": pool_size,
        "threshold": threshold,
        "top_percentile": TOP_PERCENTILE,
        "campaign_settings": settings.model_dump(mode="json", exclude={"seed_data", "seed", "batch"}),
        "reward_settings": reward_settings.model_dump(mode="json"),
        "run_settings": probe.run.model_dump(mode="json"),
        "baseline_rule": "greedy/screen: top-K by predicted mean under the campaign's diversity rule",
        "runs": runs,
        "summary": _mean_over_seeds(runs, methods),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": describe(),
    }


def _mean_over_seeds(runs: list[dict], methods: Sequence[str]) -> dict:
    summary = {}
    for method in methods:
        rows = [run["methods"][method] for run in runs]
        summary[method] = {
            "best_measured": float(np.mean([r["best_measured"] for r in rows])),
            "top1_hits": float(np.mean([r["top1_hits"] for r in rows])),
            "best_in_top1": float(np.mean([r["best_in_top1"] for r in rows])),
            "seconds": float(np.mean([r["seconds"] for r in rows])),
        }
    return summary


def format_table(result: dict):
    """A rich table: method | best after each round | top-1% hits | best in top 1%? | seconds."""
    from rich.table import Table

    table = Table(
        title=f"bench campaign: {result['task']}, {result['rounds']} × {result['batch']} after "
        f"{result['seed_molecules']} seed molecules, noise {result['noise']}; top-1% threshold "
        f"{result['threshold']:.3f} over {result['reference_size']} MOSES test molecules"
    )
    for column in ("seed", "method", "best after each round (0 = seed)", "top-1% hits", "best in top 1%?"):
        table.add_column(column)
    table.add_column("seconds", justify="right")
    for run in result["runs"]:
        for method, r in run["methods"].items():
            table.add_row(
                str(run["seed"]),
                method,
                " ".join(f"{v:.3f}" for v in r["best_so_far"]),
                str(r["top1_hits"]),
                f"{'yes' if r['best_in_top1'] else 'no'} ({r['best_designed_score']:.3f})",
                f"{r['seconds']:.0f}",
            )
    return table
