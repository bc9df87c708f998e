"""Sampling throughput: valid molecules per second, median over repeated runs."""

from __future__ import annotations

import statistics

import torch

from chemloop.bench.machine import describe
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
    """Time ``repeats`` runs of sampling ``num`` molecules; report medians and every run."""
    if warmup:
        sample(lm, min(num, batch_size), seed=12345, batch_size=batch_size, precision=precision)
    runs = [
        sample(lm, num, seed=seed, batch_size=batch_size, precision=precision).summary()
        for seed in range(repeats)
    ]
    return {
        "device": describe(lm.device),
        "precision": resolve_sampling_precision(precision, lm.device),
        "torch_threads": torch.get_num_threads(),
        "num": num,
        "batch_size": batch_size,
        "repeats": repeats,
        "median_valid_per_s": statistics.median(r["valid_per_s"] for r in runs),
        "median_molecules_per_s": statistics.median(r["molecules_per_s"] for r in runs),
        "median_validity": statistics.median(r["validity"] for r in runs),
        "runs": runs,
    }
