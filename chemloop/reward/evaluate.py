"""Cross-validation of reward models, and the comparison of the two kinds of features.

k-fold, seeded: rows are shuffled once and dealt into ``folds`` parts; each part is held out
while a model trains on the rest. Metrics per fold, then their mean and standard deviation:

- values and ratings: Spearman rank correlation and RMSE of the predicted mean;
- preferences: pairwise accuracy on held-out pairs (folds split the pairs, so a molecule
  may appear in training pairs and in held-out ones, as it would in a campaign); a tie
  counts one half.

The primary metric (Spearman, or pairwise accuracy) decides which features win.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import spearmanr

from chemloop.errors import ChemloopError
from chemloop.reward.data import Feedback, PreferenceData
from chemloop.reward.features import FEATURE_KINDS, FeatureTable
from chemloop.reward.model import RewardConfig, RewardModel

PRIMARY = {"values": "spearman", "ratings": "spearman", "preferences": "pairwise_accuracy"}


def fold_indices(n: int, folds: int, seed: int = 0) -> list[np.ndarray]:
    """Held-out row indices of each fold: a seeded shuffle dealt into ``folds`` near-equal parts."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def fold_metrics(model: RewardModel, held_out: Feedback) -> dict[str, float]:
    """The metrics of ``model`` on the rows of ``held_out``."""
    if isinstance(held_out, PreferenceData):
        a, _ = model.predict(held_out.winners)
        b, _ = model.predict(held_out.losers)
        return {"pairwise_accuracy": float(np.mean((a > b) + 0.5 * (a == b)))}
    mean, _ = model.predict(held_out.smiles)
    truth = np.asarray(held_out.values, dtype=np.float64)
    rho = spearmanr(mean, truth).statistic if np.ptp(truth) > 0 and np.ptp(mean) > 0 else math.nan
    return {"spearman": float(rho), "rmse": float(np.sqrt(np.mean((mean - truth) ** 2)))}


def cross_validate(
    data: Feedback,
    config: RewardConfig | None = None,
    folds: int = 5,
    seed: int = 0,
    *,
    table: FeatureTable | None = None,
    progress: Callable[[int, dict], None] | None = None,
    pairs: PreferenceData | None = None,
) -> dict:
    """k-fold metrics of a reward model of ``config`` on ``data`` (``progress(fold, metrics)`` per fold).

    ``pairs`` (preferences beside values) join the training folds, except pairs that touch a
    held-out molecule: those would leak the held-out order into training.
    """
    config = config or RewardConfig(kind=data.kind)
    if folds < 2:
        raise ChemloopError(f"cross-validation needs at least 2 folds, not {folds}")
    if len(data) < 2 * folds:
        raise ChemloopError(
            f"{data.source or 'feedback'}: {len(data)} rows are too few for {folds}-fold cross-validation "
            f"(at least {2 * folds})"
        )
    table = table or FeatureTable(config.features)
    started = time.perf_counter()
    per_fold = []
    for number, held in enumerate(fold_indices(len(data), folds, seed), start=1):
        train = np.setdiff1d(np.arange(len(data)), held)
        model = RewardModel.fit(
            data.subset(train), config, table=table, pairs=_pairs_without(pairs, data, held)
        )
        metrics = fold_metrics(model, data.subset(held))
        per_fold.append(metrics)
        if progress:
            progress(number, metrics)
    summary = {}
    for name in per_fold[0]:
        values = np.array([m[name] for m in per_fold])
        summary[name] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}
    return {
        "kind": data.kind,
        "features": config.features,
        "rows": len(data),
        "folds": folds,
        "seed": seed,
        "primary": PRIMARY[data.kind],
        "metrics": summary,
        "per_fold": per_fold,
        "seconds": round(time.perf_counter() - started, 2),
        "config": config.model_dump(),
    }


def _pairs_without(pairs: PreferenceData | None, data: Feedback, held: np.ndarray) -> PreferenceData | None:
    if not pairs:
        return None
    held_out = {data.smiles[i] for i in held} if hasattr(data, "smiles") else set()
    keep = [
        i
        for i, (a, b) in enumerate(zip(pairs.smiles_a, pairs.smiles_b, strict=True))
        if a not in held_out and b not in held_out
    ]
    return pairs.subset(np.array(keep, dtype=int)) if keep else None


def compare_features(
    data: Feedback,
    config: RewardConfig | None = None,
    folds: int = 5,
    seed: int = 0,
    features: Sequence[str] = FEATURE_KINDS,
    progress: Callable[[str, int, dict], None] | None = None,
    tables: dict[str, FeatureTable] | None = None,
) -> dict:
    """Cross-validate the same model on each kind of features (same folds) and name the winner.

    The winner has the higher mean of the primary metric; ``folds_won`` counts the folds
    where each kind beat every other one, a rough sign of how clear the win is. ``tables``
    (feature kind → :class:`FeatureTable`) reuses features across calls on the same molecules.
    """
    config = config or RewardConfig(kind=data.kind)
    results = {}
    for kind in features:

        def report(fold: int, metrics: dict, kind: str = kind) -> None:
            if progress:
                progress(kind, fold, metrics)

        table = (tables or {}).get(kind)
        results[kind] = cross_validate(
            data, config.model_copy(update={"features": kind}), folds, seed, table=table, progress=report
        )
    primary = PRIMARY[data.kind]
    scores = {k: r["metrics"][primary]["mean"] for k, r in results.items()}
    winner = max(scores, key=lambda k: -math.inf if math.isnan(scores[k]) else scores[k])
    per_fold = np.array([[fold[primary] for fold in r["per_fold"]] for r in results.values()])
    per_fold = np.nan_to_num(per_fold, nan=-np.inf)
    best = per_fold.argmax(axis=0)
    return {
        "kind": data.kind,
        "rows": len(data),
        "folds": folds,
        "seed": seed,
        "primary": primary,
        "winner": winner,
        "scores": scores,
        "folds_won": {k: int((best == i).sum()) for i, k in enumerate(results)},
        "results": results,
    }


def format_table(comparison: dict):
    """A rich table of :func:`compare_features`' result: one row per kind of features."""
    from rich.table import Table

    primary = comparison["primary"]
    first = next(iter(comparison["results"].values()))
    names = list(first["metrics"])
    table = Table(
        title=f"{comparison['folds']}-fold cross-validation, {comparison['rows']} {comparison['kind']} rows"
    )
    table.add_column("features")
    for name in names:
        table.add_column(name + (" (primary)" if name == primary else ""), justify="right")
    table.add_column("folds won", justify="right")
    table.add_column("seconds", justify="right")
    for kind, result in comparison["results"].items():
        cells = [f"{result['metrics'][n]['mean']:.3f} ± {result['metrics'][n]['std']:.3f}" for n in names]
        label = (
            f"{kind} (winner)" if kind == comparison["winner"] and len(comparison["results"]) > 1 else kind
        )
        table.add_row(label, *cells, str(comparison["folds_won"][kind]), f"{result['seconds']:.0f}")
    return table
