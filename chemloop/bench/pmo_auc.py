"""AUC of the top-k average over oracle calls, as the PMO benchmark defines it.

Gao et al., "Sample Efficiency Matters" (NeurIPS 2022): the mean of the k best scores so
far is recorded every ``freq`` calls; the area under that curve (trapezoids, the curve
starting from 0) up to the last call is divided by the budget. A run that stops before
the budget (``finished``) keeps its final top-k value until the budget.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence


def _top_mean(scores: Sequence[float], k: int) -> float:
    best = heapq.nlargest(k, scores)
    return sum(best) / len(best) if best else 0.0


def top_k_auc(
    scores: Sequence[float], budget: int, k: int = 10, freq: int = 100, finished: bool = False
) -> float:
    """``scores`` in call order (one per unique oracle call); returns the normalized AUC."""
    if budget <= 0 or freq <= 0 or k <= 0:
        raise ValueError("budget, freq and k must be positive")
    scores = list(scores)[:budget]
    area, previous, called = 0.0, 0.0, 0
    for checkpoint in range(freq, len(scores), freq):  # the last call is handled below
        now = _top_mean(scores[:checkpoint], k)
        area += freq * (now + previous) / 2
        previous, called = now, checkpoint
    now = _top_mean(scores, k)
    area += (len(scores) - called) * (now + previous) / 2
    if finished and len(scores) < budget:
        area += (budget - len(scores)) * now
    return area / budget
