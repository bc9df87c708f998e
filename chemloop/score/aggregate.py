"""Combine transformed component scores (each in [0, 1]) into one score per molecule."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _checked(scores: Sequence[float], weights: Sequence[float]) -> None:
    if len(scores) != len(weights):
        raise ValueError(f"{len(scores)} scores but {len(weights)} weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be ≥ 0 with a positive sum, got {list(weights)}")


def weighted_arithmetic_mean(scores: Sequence[float], weights: Sequence[float]) -> float:
    """Σ wᵢ sᵢ / Σ wᵢ; NaN if any score is NaN."""
    _checked(scores, weights)
    return sum(w * s for s, w in zip(scores, weights, strict=True)) / sum(weights)


def weighted_geometric_mean(scores: Sequence[float], weights: Sequence[float]) -> float:
    """Π sᵢ^(wᵢ/Σw): one zero score zeroes the whole; NaN if any score is NaN."""
    _checked(scores, weights)
    if any(math.isnan(s) for s in scores):
        return math.nan
    if any(s <= 0 and w > 0 for s, w in zip(scores, weights, strict=True)):
        return 0.0
    total = sum(weights)
    return math.exp(sum(w * math.log(s) for s, w in zip(scores, weights, strict=True) if w > 0) / total)
