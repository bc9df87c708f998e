"""The dashboard's plots, laid out here and drawn as inline SVG by ``_plot.html`` (no plotting
library or script in the browser: the numbers are all the page needs).

- :func:`best_so_far`: every measured molecule by round, and the best value so far as a staircase
  that stops at the last round with results (a round proposed but not measured yet has no best).
- :func:`parity`: predicted (when proposed) against measured, one plot per round where both exist,
  with the y = x line a perfect model would sit on.

Every plot names its axes, with the assay's unit where the campaign has one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from scipy.stats import spearmanr

WIDTH, HEIGHT = 560, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48  # margins for the tick labels and the axis titles
PARITY_SIZE = 300
TICK_DIGITS = 6  # a tick is a round number already (12,500; 0.0025): its digits are all kept


@dataclass
class Plot:
    width: int = WIDTH
    height: int = HEIGHT
    x_label: str = ""
    y_label: str = ""
    title: str = ""  # what the plot shows, for a screen reader (the SVG's <title>)
    line: str = ""  # SVG path of the best-so-far staircase
    diagonal: str = ""  # SVG path of y = x (parity plots)
    best: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y, tooltip) per round
    measured: list[tuple[float, float, str]] = field(default_factory=list)  # every plotted molecule
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    note: str = ""  # one line under the plot (e.g. the rounds not measured yet, a parity plot's rho)
    left: int = LEFT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT


def axis_label(name: str, unit: str = "") -> str:
    """An axis title with its unit in parentheses, where there is one."""
    return f"{name} ({unit})" if unit else name


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values within [low, high] (steps of 1, 2, 2.5 or 5 times a power of ten:
    5, 5.5, 6 rather than 4.49, 5.09, 5.7), as a chemist labels an axis."""
    power = 10 ** math.floor(math.log10((high - low) / max(1, count - 1)))

    def ticks(step: float) -> list[float]:
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        return [round(k * step, 10) for k in range(first, last + 1)]

    # The step whose tick count comes closest to ``count``; on a tie the larger (fewer labels).
    steps = [f * power * scale for scale in (0.1, 1, 10) for f in (1, 2, 2.5, 5)]
    return ticks(min(steps, key=lambda step: (abs(len(ticks(step)) - count), -step)))


def readable(value: float, digits: int = 3) -> str:
    """A number for an axis or a tooltip, never in exponent notation ("1e+06"): ``digits``
    significant digits, thousands separated (1,000,000; 12,500), small values written out
    (0.001, 0.00025)."""
    if not math.isfinite(value):
        return str(value)
    rounded = Decimal(f"{value:.{digits}g}").normalize()  # "1E+6", "0.001", "5.5"
    if rounded == 0:
        return "0"
    return f"{rounded:,f}" if abs(rounded) >= 1000 else f"{rounded:f}"


def _padded(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.05
    return low - pad, high + pad


def best_so_far(
    round_best: dict[int, float | None],
    measured: list[tuple[int, float]],
    value_label: str = "measured value",
    higher_is_better: bool = True,
) -> Plot | None:
    """``round_best``: the best value measured in each round (0 = seed data; None: proposed, nothing
    measured yet); ``measured``: every (round, value). None when nothing is measured yet."""
    values = [v for _, v in measured] + [v for v in round_best.values() if v is not None]
    if not values:
        return None
    rounds = sorted(set(round_best) | {r for r, _ in measured})
    with_results = {r for r, _ in measured} | {r for r, v in round_best.items() if v is not None}
    last_measured = max(with_results)
    low, high = _padded(values)
    # Room either side of the first and last round: the seed data would sit on the y axis otherwise.
    first, last = rounds[0] - 0.4, max(rounds[-1], rounds[0] + 1) + 0.4
    plot = Plot(x_label="round (0 = seed data)", y_label=value_label)
    plot.title = f"{value_label} of each molecule by round, with the best so far as a line"

    def x(r: float) -> float:
        return round(LEFT + (r - first) / (last - first) * (WIDTH - LEFT - RIGHT), 1)

    def y(v: float) -> float:
        return round(TOP + (high - v) / (high - low) * (HEIGHT - TOP - BOTTOM), 1)

    running: float | None = None
    steps: list[str] = []
    for r in rounds:
        if r > last_measured:  # not measured yet: the best so far is unknown there, not unchanged
            break
        best = round_best.get(r)
        better = best is not None and (
            running is None or (best > running if higher_is_better else best < running)
        )
        if better:
            running = best
        if running is None:
            continue
        # A staircase: the best so far only changes when a round beats it.
        steps.append(f"H{x(r)} V{y(running)}" if steps else f"M{x(r)} {y(running)}")
        plot.best.append((x(r), y(running), f"round {r}: best so far {readable(running)}"))
    plot.line = " ".join(steps)
    plot.measured = [(x(r), y(v), f"round {r}: {readable(v)}") for r, v in measured]
    plot.x_ticks = [(x(r), str(r)) for r in rounds]
    plot.y_ticks = [(y(v), readable(v, TICK_DIGITS)) for v in _ticks(low, high)]
    waiting = [r for r in rounds if r > last_measured]
    if waiting:
        plot.note = (
            f"Round{'s' if len(waiting) > 1 else ''} {', '.join(map(str, waiting))}: not measured yet."
        )
    return plot


@dataclass
class ParityPlot:
    round: int
    plot: Plot
    molecules: int
    spearman: float | None  # rank correlation of predicted and measured (None below 3 molecules)


def _spearman(predicted: Sequence[float], measured: Sequence[float]) -> float | None:
    if len(predicted) < 3 or len(set(predicted)) < 2 or len(set(measured)) < 2:
        return None
    return float(spearmanr(predicted, measured).statistic)


def parity(
    points: Sequence[tuple[int, float, float, str]], unit: str = "", size: int = PARITY_SIZE
) -> list[ParityPlot]:
    """One parity plot per round from (round, predicted, measured, SMILES) of each molecule that has
    both; the axes of every plot share one range, so rounds compare at a glance."""
    if not points:
        return []
    values = [p[1] for p in points] + [p[2] for p in points]
    low, high = _padded(values)
    left, right, top, bottom = LEFT, 12, 12, 48
    span = size - left - right

    def x(v: float) -> float:
        return round(left + (v - low) / (high - low) * span, 1)

    def y(v: float) -> float:
        return round(top + (high - v) / (high - low) * span, 1)

    plots = []
    for number in sorted({p[0] for p in points}):
        chosen = [p for p in points if p[0] == number]
        plot = Plot(
            width=size,
            height=top + span + bottom,
            x_label=axis_label("predicted when proposed", unit),
            y_label=axis_label("measured", unit),
            title=f"round {number}: predicted against measured value of {len(chosen)} molecules",
            left=left,
            top=top,
            bottom=top + span,
            right=size - right,
        )
        plot.diagonal = f"M{x(low)} {y(low)} L{x(high)} {y(high)}"
        plot.measured = [
            (x(p), y(m), f"{s}: predicted {readable(p)}, measured {readable(m)}") for _, p, m, s in chosen
        ]
        ticks = _ticks(low, high, 4)
        plot.x_ticks = [(x(v), readable(v, TICK_DIGITS)) for v in ticks]
        plot.y_ticks = [(y(v), readable(v, TICK_DIGITS)) for v in ticks]
        rho = _spearman([p[1] for p in chosen], [p[2] for p in chosen])
        plot.note = f"{len(chosen)} molecules" + ("" if rho is None else f"; Spearman {rho:.2f}")
        plots.append(ParityPlot(number, plot, len(chosen), rho))
    return plots
