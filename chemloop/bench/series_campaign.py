"""``chemloop bench campaign --series``: a simulated campaign inside a chemical series.

Protocol. Series come from a corpus by :func:`chemloop.bench.series.find_series`'s rule (its
first 100 members each). Per seed, ``seed_molecules`` members drawn at random are measured before
round 1. The lab rewards the series and a direction within it: the *target* is the member, among
those not measured, with the highest QED, and a molecule measures
``10 × Tanimoto(molecule, target)`` (ECFP4) when it contains the series' scaffold, half that when
it does not. The target is never shown to any method.

Beside the campaign (the real ``propose`` with default settings unless overridden), the
``random`` baseline picks as many molecules at random from the prior's samples. Reported per
round: the share of picks on the series' scaffold and the best measured value so far; per run,
whether the best rose above the seed molecules' best.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import DataStructs
from rdkit.Chem import QED

from chemloop.bench.campaign import campaign_config, canonical_unique, run_chemloop, write_values
from chemloop.bench.series import Series, find_series
from chemloop.chem.mol import to_mol, try_mol
from chemloop.chem.series import morgan_fingerprints
from chemloop.constitution.principles import Constitution, load_constitution
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.generate import sample

OFF_SERIES_FACTOR = 0.5


class SeriesLab:
    """Measures molecules for one series and one hidden target member."""

    def __init__(self, series: Series, target: str) -> None:
        self.scaffold = to_mol(series.scaffold, "scaffold")
        self.target = target
        self._target_fp = morgan_fingerprints([target])[0]

    def in_series(self, smiles: str) -> bool:
        mol = try_mol(smiles)
        return mol is not None and mol.HasSubstructMatch(self.scaffold)

    def measure(self, smiles: Sequence[str]) -> list[float]:
        values = []
        for s, fp in zip(smiles, morgan_fingerprints(smiles), strict=True):
            similarity = DataStructs.TanimotoSimilarity(fp, self._target_fp) if fp is not None else 0.0
            values.append(10.0 * similarity * (1.0 if self.in_series(s) else OFF_SERIES_FACTOR))
        return values


def _violating(smiles: Sequence[str], constitution: Constitution) -> float:
    """The share of ``smiles`` that break any computable principle of ``constitution``."""
    return round(sum(bool(constitution.violations(to_mol(s))) for s in smiles) / max(1, len(smiles)), 4)


def _round_summary(picks: list[list[str]], seed_best: float, lab: SeriesLab) -> dict[str, Any]:
    best, best_so_far, in_series = seed_best, [round(seed_best, 4)], []
    for chosen in picks:
        best = max([best, *lab.measure(chosen)])
        best_so_far.append(round(best, 4))
        in_series.append(round(sum(lab.in_series(s) for s in chosen) / max(1, len(chosen)), 4))
    flat = [s for chosen in picks for s in chosen]
    return {
        "in_series_per_round": in_series,
        "in_series": round(sum(lab.in_series(s) for s in flat) / max(1, len(flat)), 4),
        "violating": _violating(flat, load_constitution()),
        "best_so_far": best_so_far,
        "rose_above_seed": best > seed_best,
        "picks": picks,
    }


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
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run the series protocol for ``series_count`` series of ``data`` × ``seeds``; ``score``: a
    ``[score]`` table of constraints and terms beside the learned reward (e.g. the constitution)."""
    say = progress or (lambda _: None)
    campaign, reward = dict(campaign or {}), dict(reward or {})
    started = time.perf_counter()
    chosen_series = find_series(data, count=series_count, min_members=min_members)
    settings = campaign_config(batch, 0, Path("seed.csv"), campaign, reward, run).campaign
    prior = checkpoint.load(settings.model)
    runs = []
    for series in chosen_series:
        for seed in seeds:
            rng = np.random.default_rng([seed, len(series.smiles)])
            order = rng.permutation(len(series.smiles))
            seed_smiles = [series.smiles[i] for i in order[:seed_molecules]]
            rest = [series.smiles[i] for i in order[seed_molecules:]]
            target = max(rest, key=lambda s: (QED.qed(to_mol(s)), s))
            lab = SeriesLab(series, target)
            seed_values = lab.measure(seed_smiles)
            methods = {}
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                seed_csv = write_values(Path(folder) / "seed.csv", seed_smiles, seed_values)
                config = campaign_config(batch, seed, seed_csv, campaign, reward, run, score)
                picks = run_chemloop(config, rounds, lab, Path(folder))
            methods["chemloop"] = {
                **_round_summary(picks, max(seed_values), lab),
                "seconds": time.perf_counter() - start,
            }
            pool = canonical_unique(
                [m.canonical for m in sample(prior, settings.candidates, seed=seed).molecules if m.valid],
                set(seed_smiles),
            )
            drawn = np.random.default_rng([seed, 1]).permutation(len(pool))[: rounds * batch]
            flat = [pool[i] for i in drawn]
            random_picks = [flat[r * batch : (r + 1) * batch] for r in range(rounds)]
            methods["random"] = _round_summary(random_picks, max(seed_values), lab)
            ours = methods["chemloop"]
            say(
                f"{series.scaffold} seed {seed}: {ours['in_series']:.0%} of proposals in the series "
                f"(random prior picks {methods['random']['in_series']:.0%}), best {ours['best_so_far']}"
            )
            runs.append(
                {
                    "scaffold": series.scaffold,
                    "members_in_corpus": series.members,
                    "seed": seed,
                    "target": target,
                    "seed_molecules": seed_smiles,
                    "seed_best": round(max(seed_values), 4),
                    "methods": methods,
                }
            )
    if not runs:
        raise ChemloopError(f"{data}: no series of at least {min_members} molecules by the rule")
    chemloop_runs = [r["methods"]["chemloop"] for r in runs]
    return {
        "benchmark": "series campaign",
        "data": data,
        "rounds": rounds,
        "batch": batch,
        "seeds": list(seeds),
        "seed_molecules": seed_molecules,
        "lab": "10 × ECFP4 Tanimoto to the hidden target member (highest QED among unmeasured members); "
        f"× {OFF_SERIES_FACTOR} off the series' scaffold",
        "campaign_settings": settings.model_dump(mode="json", exclude={"seed_data", "seed", "batch"}),
        "runs": runs,
        "summary": {
            "in_series": float(np.mean([r["in_series"] for r in chemloop_runs])),
            "rose_above_seed": sum(r["rose_above_seed"] for r in chemloop_runs),
            "runs": len(runs),
            "random_in_series": float(np.mean([r["methods"]["random"]["in_series"] for r in runs])),
            # The share of proposals breaking a computable principle of the default constitution.
            "violating": float(np.mean([r["violating"] for r in chemloop_runs])),
            "random_violating": float(np.mean([r["methods"]["random"]["violating"] for r in runs])),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
