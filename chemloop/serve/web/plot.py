"""The dashboard's best-so-far plot, laid out here and drawn as inline SVG by the template
(no plotting library or script in the browser: the numbers are all the page needs)."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40  # margins for the axis labels


@dataclass
class Plot:
    width: int = WIDTH
    height: int = HEIGHT
    line: str = ""  # SVG path of the best-so-far staircase
    best: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y, tooltip) per round
    measured: list[tuple[float, float, str]] = field(default_factory=list)  # every measured molecule
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def best_so_far(round_best: dict[int, float | None], measured: list[tuple[int, float]]) -> Plot | None:
    """``round_best``: the best value measured in each round (0 = seed data); ``measured``: every
    (round, value). None when nothing is measured yet."""
    values = [v for _, v in measured] + [v for v in round_best.values() if v is not None]
    if not values:
        return None
    rounds = sorted(set(round_best) | {r for r, _ in measured})
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    first, last = rounds[0], max(rounds[-1], rounds[0] + 1)
    plot = Plot()

    def x(r: float) -> float:
        return round(LEFT + (r - first) / (last - first) * (WIDTH - LEFT - RIGHT), 1)

    def y(v: float) -> float:
        return round(TOP + (high - v) / (high - low) * (HEIGHT - TOP - BOTTOM), 1)

    running: float | None = None
    steps: list[str] = []
    for r in rounds:
        best = round_best.get(r)
        if best is not None and (running is None or best > running):
            running = best
        if running is None:
            continue
        if steps:  # a staircase: the best so far only changes when a round beats it
            steps.append(f"H{x(r)} V{y(running)}")
        else:
            steps.append(f"M{x(r)} {y(running)}")
        plot.best.append((x(r), y(running), f"round {r}: best so far {running:.3g}"))
    plot.line = " ".join(steps)
    plot.measured = [(x(r), y(v), f"round {r}: {v:.3g}") for r, v in measured]
    plot.x_ticks = [(x(r), str(r)) for r in rounds]
    plot.y_ticks = [(y(v), f"{v:.3g}") for v in _ticks(low, high)]
    return plot
