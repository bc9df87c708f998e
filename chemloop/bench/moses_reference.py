"""Published MOSES results, to set our own metrics beside.

Source: the results table of the MOSES README, github.com/molecularsets/moses (README.md at
commit ffbc4db), which is the table of Polykovskiy et al., "Molecular Sets (MOSES): A
Benchmarking Platform for Molecular Generation Models", Front. Pharmacol. 11:565644 (2020).
Model rows are means over three runs of 30,000 samples each (the ± values are in
``PUBLISHED_STD``). The "Train" row evaluates the MOSES training set itself against the test
sets; its unrounded values are in the repository's ``data/samples/train_metrics.csv``, which
agrees with the README. The README prints Novelty 1.0 for "Train"; as the training set
against itself has novelty 0 by definition, that cell is not comparable and kept as printed.
MOSES names ``IntDiv1`` just ``IntDiv``; JT-VAE is "JTN-VAE" in the README.
"""

from __future__ import annotations

import math

from rich.table import Table

METRIC_KEYS = (
    "valid",
    "unique@1000",
    "unique@10000",
    "FCD/Test",
    "FCD/TestSF",
    "SNN/Test",
    "SNN/TestSF",
    "Frag/Test",
    "Frag/TestSF",
    "Scaf/Test",
    "Scaf/TestSF",
    "IntDiv1",
    "IntDiv2",
    "Filters",
    "Novelty",
)
LOWER_IS_BETTER = frozenset({"FCD/Test", "FCD/TestSF"})


def _row(*values: float) -> dict[str, float]:
    return dict(zip(METRIC_KEYS, values, strict=True))


PUBLISHED: dict[str, dict[str, float]] = {
    "Train": _row(
        1.0, 1.0, 1.0, 0.008, 0.4755, 0.6419, 0.5859, 1.0, 0.9986, 0.9907, 0.0, 0.8567, 0.8508, 1.0, 1.0
    ),
    "CharRNN": _row(
        0.9748,
        1.0,
        0.9994,
        0.0732,
        0.5204,
        0.6015,
        0.5649,
        0.9998,
        0.9983,
        0.9242,
        0.1101,
        0.8562,
        0.8503,
        0.9943,
        0.8419,
    ),
    "VAE": _row(
        0.9767,
        1.0,
        0.9984,
        0.099,
        0.567,
        0.6257,
        0.5783,
        0.9994,
        0.9984,
        0.9386,
        0.0588,
        0.8558,
        0.8498,
        0.997,
        0.6949,
    ),
    "JT-VAE": _row(
        1.0,
        1.0,
        0.9996,
        0.3954,
        0.9382,
        0.5477,
        0.5194,
        0.9965,
        0.9947,
        0.8964,
        0.1009,
        0.8551,
        0.8493,
        0.976,
        0.9143,
    ),
}

PUBLISHED_STD: dict[str, dict[str, float]] = {
    "CharRNN": _row(
        0.0264,
        0.0,
        0.0003,
        0.0247,
        0.0379,
        0.0206,
        0.0142,
        0.0002,
        0.0003,
        0.0058,
        0.0081,
        0.0005,
        0.0005,
        0.0034,
        0.0509,
    ),
    "VAE": _row(
        0.0012,
        0.0,
        0.0005,
        0.0125,
        0.0338,
        0.0005,
        0.0008,
        0.0001,
        0.0003,
        0.0021,
        0.0095,
        0.0004,
        0.0004,
        0.0002,
        0.0069,
    ),
    "JT-VAE": _row(
        0.0,
        0.0,
        0.0003,
        0.0234,
        0.0531,
        0.0076,
        0.007,
        0.0003,
        0.0002,
        0.0039,
        0.0105,
        0.0034,
        0.0035,
        0.0016,
        0.0058,
    ),
}


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}"


def format_table(ours: dict[str, float], label: str) -> Table:
    """A table with one row per metric: our values beside the published MOSES rows."""
    table = Table(title=f"MOSES metrics: {label} vs published (Polykovskiy et al. 2020)")
    table.add_column("metric", style="bold")
    table.add_column(label, justify="right", style="cyan")
    for name in PUBLISHED:
        table.add_column(name, justify="right")
    for key in METRIC_KEYS:
        arrow = "↓" if key in LOWER_IS_BETTER else "↑"
        table.add_row(
            f"{key} {arrow}", _cell(ours.get(key)), *(_cell(row[key]) for row in PUBLISHED.values())
        )
    return table
