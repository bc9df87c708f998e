"""Sampling throughput: valid molecules per second, median over repeated runs.

Several number formats (``fp32,int8``) are timed side by side: each repeat runs every format once,
in turn, so load on a shared machine falls on all of them alike, and each is reported with its
ratio to the first.
"""

from __future__ import annotations

import statistics

import torch

from chemloop.bench.machine import describe
from chemloop.errors import ChemloopError
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import sample
from chemloop.model.inference import resolve_sampling_precision


def sampling_throughput(
    lm: LanguageModel,
    num: int = 10_000,
    batch_size: int = 1024,
    repeats: int = 3,
    warmup: bool = True,
    precision: str = "auto",
) -> dict:
    """Time ``repeats`` runs of sampling ``num`` molecules in each of the comma-separated
    ``precision`` formats, interleaved; report medians and every run, the first format's at the top."""
    formats = [p.strip() for p in precision.split(",") if p.strip()] or ["auto"]
    resolved = [resolve_sampling_precision(p, lm.device) for p in formats]
    if len(set(resolved)) < len(resolved):
        raise ChemloopError(f"precisions {precision!r} name one format twice here ({', '.join(resolved)})")
    if warmup:  # first calls allocate, pick kernels and make the int8 copy
        for p in formats:
            sample(lm, min(num, batch_size), seed=12345, batch_size=batch_size, precision=p)
    runs: dict[str, list[dict]] = {name: [] for name in resolved}
    for seed in range(repeats):
        for p, name in zip(formats, resolved, strict=True):
            runs[name].append(sample(lm, num, seed=seed, batch_size=batch_size, precision=p).summary())
    per_format = {name: _medians(rows) for name, rows in runs.items()}
    first = per_format[resolved[0]]["median_valid_per_s"]
    for row in per_format.values():
        row["ratio_to_first"] = round(row["median_valid_per_s"] / first, 3) if first else None
    return {
        "device": describe(lm.device),
        "precision": resolved[0],
        "torch_threads": torch.get_num_threads(),
        "num": num,
        "batch_size": batch_size,
        "repeats": repeats,
        **{k: v for k, v in per_format[resolved[0]].items() if k != "ratio_to_first"},
        "precisions": per_format,
    }


def _medians(rows: list[dict]) -> dict:
    return {
        "median_valid_per_s": statistics.median(r["valid_per_s"] for r in rows),
        "median_molecules_per_s": statistics.median(r["molecules_per_s"] for r in rows),
        "median_validity": statistics.median(r["validity"] for r in rows),
        "runs": rows,
    }
