"""``chemloop bench campaign --series``: a simulated campaign inside a chemical series.

Protocol. Series come from a corpus by :func:`chemloop.bench.series.find_series`'s rule (its
first 100 members each). Per seed, ``seed_molecules`` members drawn at random are measured before
round 1. The lab rewards the series and a direction within it: the *target* is the member, among
those not measured, with the highest QED, and a molecule measures
``10 × Tanimoto(molecule, target)`` (ECFP4) when it contains the series' scaffold, half that when
it does not, both judged on parent compounds (largest fragment, neutralized) unless the lab
measures SMILES as written. The target is never shown to any method.

Beside the campaign (the real ``propose`` with default settings unless overridden), with the same
seed data and budget (``rounds × batch`` molecules):

- ``random``: picks at random from a pool of the prior's samples (``candidates`` of them);
- ``greedy``: each round, the campaign's reward model (no RL) is fitted on everything measured
  and the top K of the same pool by predicted value are picked under the campaign's diversity
  rule;
- ``screen``: the same greedy rule on as many molecules of the corpus itself (a screening
  library; the seed molecules and the target left out).

The corpus is shuffled once with a fixed generator: its first ``reference_size`` molecules are
the reference whose lab values define a run's top-1% threshold (their 99th percentile); the
screening pools come from the rest. Reported per method and round: the share of picks on the
series' scaffold and the best measured value so far; per run, top-1% hits among the picks and
whether the best rose above the seed molecules' best; the share of picks that break a
computable principle of the default constitution.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import DataStructs
from rdkit.Chem import QED

from chemloop.bench.campaign import (
    REFERENCE_SEED,
    TOP_PERCENTILE,
    baseline_reward,
    campaign_config,
    campaign_folder,
    check_lab_measures,
    chemloop_seconds,
    distinct_pool,
    run_chemloop,
    run_greedy,
    write_values,
)
from chemloop.bench.machine import describe
from chemloop.bench.series import Series, read_corpus, series_of
from chemloop.chem.mol import parent_smiles, to_mol, try_mol
from chemloop.chem.series import morgan_fingerprints
from chemloop.constitution.principles import Constitution, default_constitution
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.generate import sample

OFF_SERIES_FACTOR = 0.5
SERIES_METHODS = ("chemloop", "random", "greedy", "screen")


class SeriesLab:
    """Measures molecules for one series and one hidden target member; with ``measures="compound"``
    each molecule's parent compound (largest fragment, neutralized) against the target's."""

    def __init__(self, series: Series, target: str, measures: str = "compound") -> None:
        self.compound = check_lab_measures(measures) == "compound"
        # A series found in pH-7 forms may have a charged scaffold ([NH+]): its parent is what a
        # compound's parent contains.
        self.scaffold = to_mol(self._measured(series.scaffold), "scaffold")
        self.target = target
        self._target_fp = morgan_fingerprints([self._measured(target)])[0]

    def _measured(self, smiles: str) -> str:
        return parent_smiles(smiles) if self.compound and try_mol(smiles) is not None else smiles

    def in_series(self, smiles: str) -> bool:
        mol = try_mol(self._measured(smiles))
        return mol is not None and mol.HasSubstructMatch(self.scaffold)

    def measure(self, smiles: Sequence[str]) -> list[float]:
        values = []
        measured = [self._measured(s) for s in smiles]
        for s, fp in zip(smiles, morgan_fingerprints(measured), strict=True):
            similarity = DataStructs.TanimotoSimilarity(fp, self._target_fp) if fp is not None else 0.0
            values.append(10.0 * similarity * (1.0 if self.in_series(s) else OFF_SERIES_FACTOR))
        return values


def seed_set(series: Series, seed: int, seed_molecules: int) -> tuple[list[str], str]:
    """The members measured before round 1 (drawn at random) and the hidden target: the member,
    among the rest, with the highest QED."""
    order = np.random.default_rng([seed, len(series.smiles)]).permutation(len(series.smiles))
    seed_smiles = [series.smiles[i] for i in order[:seed_molecules]]
    rest = [series.smiles[i] for i in order[seed_molecules:]]
    return seed_smiles, max(rest, key=lambda s: (QED.qed(to_mol(s)), s))


def _violating(smiles: Sequence[str], constitution: Constitution) -> float:
    """The share of ``smiles`` that break any computable principle of ``constitution``."""
    return round(sum(bool(constitution.violations(to_mol(s))) for s in smiles) / max(1, len(smiles)), 4)


def _round_summary(
    picks: list[list[str]], seed_best: float, lab: SeriesLab, threshold: float
) -> dict[str, Any]:
    best, best_so_far, in_series = seed_best, [round(seed_best, 4)], []
    hits = 0
    for chosen in picks:
        values = lab.measure(chosen)
        hits += sum(v >= threshold for v in values)
        best = max([best, *values])
        best_so_far.append(round(best, 4))
        in_series.append(round(sum(lab.in_series(s) for s in chosen) / max(1, len(chosen)), 4))
    flat = [s for chosen in picks for s in chosen]
    return {
        "in_series_per_round": in_series,
        "in_series": round(sum(lab.in_series(s) for s in flat) / max(1, len(flat)), 4),
        "violating": _violating(flat, default_constitution()),
        "best_so_far": best_so_far,
        "rose_above_seed": best > seed_best,
        "top1_hits": hits,
        "picks": picks,
    }


def _in_rounds(flat: Sequence[str], rounds: int, batch: int) -> list[list[str]]:
    return [list(flat[r * batch : (r + 1) * batch]) for r in range(rounds)]


def bench_series_campaign(
    data: str,
    series_count: int = 3,
    seeds: Sequence[int] = (0,),
    rounds: int = 3,
    batch: int = 12,
    seed_molecules: int = 12,
    min_members: int = 150,
    campaign: dict[str, Any] | None = None,
    reward: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    score: dict[str, Any] | None = None,
    reference_size: int = 10_000,
    progress: Callable[[str], None] | None = None,
    on_run: Callable[[dict], None] | None = None,
    resume: dict | None = None,
    work_dir: Path | None = None,
    lab_measures: str = "compound",
) -> dict:
    """Run the series protocol for ``series_count`` series of ``data`` × ``seeds``; ``score``: a
    ``[score]`` table of constraints and terms beside the learned reward (e.g. the constitution).
    ``on_run`` gets the result so far after each run (``"complete": false``), so that a stopped
    benchmark keeps the runs it finished; ``resume``, such an earlier result of the same protocol
    and settings, supplies the runs it holds, which are not run again; ``work_dir`` keeps each
    campaign (``seriesI_sSEED``), so a run stopped midway continues from its last measured round.
    ``lab_measures``: the lab measures each molecule's parent compound, or its SMILES as written."""
    say = progress or (lambda _: None)
    check_lab_measures(lab_measures)
    campaign, reward = dict(campaign or {}), dict(reward or {})
    started = time.perf_counter()
    corpus = read_corpus(data)
    chosen_series = series_of(corpus, count=series_count, min_members=min_members)
    probe = campaign_config(batch, 0, Path("seed.csv"), campaign, reward, run, score)
    constraints = probe.constraints()
    settings = probe.campaign
    shuffled = [corpus[i] for i in np.random.default_rng(REFERENCE_SEED).permutation(len(corpus))]
    split = min(reference_size, len(corpus) // 2)  # a small corpus keeps half for screening
    reference, library = shuffled[:split], shuffled[split:]
    prior = checkpoint.load(settings.model)
    runs: list[dict] = []
    protocol = {
        "benchmark": "series campaign",
        "data": data,
        "rounds": rounds,
        "batch": batch,
        "seeds": list(seeds),
        "seed_molecules": seed_molecules,
        "reference_size": len(reference),
        "lab": "10 × ECFP4 Tanimoto to the hidden target member (highest QED among unmeasured members); "
        f"× {OFF_SERIES_FACTOR} off the series' scaffold",
        "lab_measures": lab_measures,
        "baseline_rule": "greedy/screen: top-K by predicted mean under the campaign's diversity rule, "
        "from the prior's samples / from the corpus",
        "campaign_settings": settings.model_dump(mode="json", exclude={"seed_data", "seed", "batch"}),
        "constraints": None if constraints is None else constraints.model_dump(mode="json"),
    }

    def result(complete: bool) -> dict:
        return {
            **protocol,
            "runs": runs,
            "summary": {"runs": len(runs), **{m: _mean_summary(runs, m) for m in SERIES_METHODS}},
            "seconds": round(time.perf_counter() - started, 1),
            "complete": complete,
            "machine": describe(),
        }

    finished = _finished_runs(resume, protocol) if resume is not None else {}
    for series in chosen_series:
        for seed in seeds:
            if (series.scaffold, seed) in finished:
                runs.append(finished[(series.scaffold, seed)])
                continue
            seed_smiles, target = seed_set(series, seed, seed_molecules)
            lab = SeriesLab(series, target, lab_measures)
            threshold = float(np.percentile(lab.measure(reference), TOP_PERCENTILE))
            seed_values = lab.measure(seed_smiles)
            seed_best = max(seed_values)
            methods = {}
            with campaign_folder(work_dir, f"series{chosen_series.index(series)}_s{seed}") as folder:
                seed_csv = write_values(folder / "seed.csv", seed_smiles, seed_values)
                config = campaign_config(batch, seed, seed_csv, campaign, reward, run, score)
                picks = run_chemloop(config, rounds, lab, folder, say, lab_measures)
                seconds = chemloop_seconds(folder)
            methods["chemloop"] = {
                **_round_summary(picks, seed_best, lab, threshold),
                "seconds": round(seconds, 1),
            }
            prior_pool = distinct_pool(
                [m.canonical for m in sample(prior, settings.candidates, seed=seed).molecules if m.valid],
                {*seed_smiles, target},
                lab_measures,
            )
            library_order = np.random.default_rng([seed, 2]).permutation(len(library))
            screen_pool = distinct_pool(
                [library[i] for i in library_order], {*seed_smiles, target}, lab_measures
            )
            screen_pool = screen_pool[: settings.candidates]
            if min(len(prior_pool), len(screen_pool)) < rounds * batch:
                raise ChemloopError(f"pools too small for {rounds} × {batch} picks: add candidates or data")
            drawn = np.random.default_rng([seed, 1]).permutation(len(prior_pool))[: rounds * batch]
            baseline_picks = {"random": _in_rounds([prior_pool[i] for i in drawn], rounds, batch)}
            for method, pool in (("greedy", prior_pool), ("screen", screen_pool)):
                baseline_picks[method] = run_greedy(
                    pool,
                    seed_smiles,
                    rounds,
                    batch,
                    lab,
                    baseline_reward(probe.reward, seed),
                    settings.max_similarity,
                )
            for method, chosen in baseline_picks.items():
                methods[method] = _round_summary(chosen, seed_best, lab, threshold)
            ours = methods["chemloop"]
            say(
                f"{series.scaffold} seed {seed}: {ours['in_series']:.0%} of proposals in the series, "
                f"{ours['top1_hits']} top-1% hits, best {ours['best_so_far']}; "
                + ", ".join(
                    f"{m} {methods[m]['in_series']:.0%} / {methods[m]['top1_hits']} hits"
                    for m in SERIES_METHODS[1:]
                )
            )
            runs.append(
                {
                    "scaffold": series.scaffold,
                    "members_in_corpus": series.members,
                    "seed": seed,
                    "target": target,
                    "seed_molecules": seed_smiles,
                    "seed_best": round(seed_best, 4),
                    "top1_threshold": round(threshold, 4),
                    "methods": methods,
                }
            )
            if on_run is not None:
                on_run(result(complete=False))
    if not runs:
        raise ChemloopError(f"{data}: no series of at least {min_members} molecules by the rule")
    return result(complete=True)


RESUME_KEYS = (
    "data",
    "rounds",
    "batch",
    "seed_molecules",
    "reference_size",
    "campaign_settings",
    "constraints",
    "lab_measures",
)


def _finished_runs(earlier: dict, now: dict) -> dict[tuple[str, int], dict]:
    """The runs of an earlier result by (scaffold, seed); an error naming the first setting in which
    it differs from this benchmark's, since its runs would not be comparable."""
    for key in RESUME_KEYS:
        if earlier.get(key) != now[key]:
            raise ChemloopError(
                f"cannot resume: the earlier result's {key!r} differs "
                f"({earlier.get(key)!r} there, {now[key]!r} now)"
            )
    return {(r["scaffold"], r["seed"]): r for r in earlier.get("runs", [])}


def _mean_summary(runs: list[dict], method: str) -> dict[str, float]:
    """Over runs: mean share in the series, mean top-1% hits, mean share violating the constitution,
    and the number of runs whose best rose above the seeds'."""
    summaries = [r["methods"][method] for r in runs]
    return {
        "in_series": round(float(np.mean([s["in_series"] for s in summaries])), 4),
        "top1_hits": round(float(np.mean([s["top1_hits"] for s in summaries])), 2),
        "violating": round(float(np.mean([s["violating"] for s in summaries])), 4),
        "rose_above_seed": sum(s["rose_above_seed"] for s in summaries),
    }
