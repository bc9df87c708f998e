"""Transforms that map a raw component value onto a desirability in [0, 1].

NaN stays NaN: a molecule a component could not score is never silently given a value.
"""

from __future__ import annotations

import math


def sigmoid(x: float, low: float, high: float, k: float = 0.5) -> float:
    """Rises from ~0 at ``low`` to ~1 at ``high``; ``k`` sets the steepness (REINVENT convention)."""
    if math.isnan(x):
        return math.nan
    centre, scale = (low + high) / 2, 10 * k / (high - low)
    return 1 / (1 + math.exp(-max(-500.0, min(500.0, scale * (x - centre)))))


def reverse_sigmoid(x: float, low: float, high: float, k: float = 0.5) -> float:
    """Falls from ~1 at ``low`` to ~0 at ``high``."""
    return 1 - sigmoid(x, low, high, k) if not math.isnan(x) else math.nan


def double_sigmoid(x: float, low: float, high: float, k: float = 0.5, width: float | None = None) -> float:
    """~1 inside [``low``, ``high``], falling off on both sides over ``width`` (default a quarter)."""
    if math.isnan(x):
        return math.nan
    width = width if width is not None else (high - low) / 4
    return sigmoid(x, low - width, low + width, k) * reverse_sigmoid(x, high - width, high + width, k)


def step(x: float, low: float = -math.inf, high: float = math.inf) -> float:
    """1 inside [``low``, ``high``], 0 outside."""
    if math.isnan(x):
        return math.nan
    return 1.0 if low <= x <= high else 0.0


def gaussian(x: float, mu: float, sigma: float) -> float:
    """Gaussian desirability: 1 at ``mu``, exp(-1/2) at ``mu ± sigma``."""
    if math.isnan(x):
        return math.nan
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


def clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    """Clip into [``low``, ``high``]."""
    if math.isnan(x):
        return math.nan
    return min(high, max(low, x))


TRANSFORMS = {f.__name__: f for f in (sigmoid, reverse_sigmoid, double_sigmoid, step, gaussian, clamp)}
