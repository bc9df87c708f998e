"""Which number format a fixed model samples in: its float weights (fp32, or bf16 autocast) or an
int8 copy made on the fly.

Sampling for users (``chemloop sample``, prompting, the HTTP API and MCP tools) runs in the fastest
format that lost nothing measurable on the chip at hand (``auto``): bf16 where the CPU has bf16
units, else an int8 copy where it has PyTorch's quantized engine, else fp32. Measured side by side
on the default prior, two threads, 10,000 molecules (``chemloop bench sampling --precision
fp32,bf16,int8``; docs/compression.md): on an AMD EPYC with AVX-512 BF16, bf16 1.57x and int8 1.62x
fp32's valid molecules/s (396 and 411: within the noise of one run, so the weights themselves win);
on one without AVX-512, int8 1.27x; validity 0.920-0.922 in every format.
What samples a model in training, and the benchmarks of a model's quality, use its float weights
(:data:`FLOAT`).
"""

from __future__ import annotations

import copy
import dataclasses
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from chemloop.errors import ChemloopError
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import autocast, resolve_precision
from chemloop.model.heap import keep_buffers_while_sampling
from chemloop.model.quantized import Int8Linear, dynamic_engine_available, quantize_model

SAMPLING_PRECISIONS = ("auto", "int8", "float", "fp32", "bf16")
# ``float``: the model's own weights, bf16 autocast where the chip has bf16 units, else fp32. What
# samples a model that is being trained (on-policy pairs, a campaign's steered agent) and the
# benchmarks of a model's quality, so that their figures stay comparable over time.
FLOAT = "float"

# One int8 copy per float model, remade when the model's weights have changed since.
_int8_copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def resolve_sampling_precision(precision: str, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``int8``. ``float`` is :func:`~chemloop.model.device.resolve_precision`'s
    pick (bf16 on a GPU or a CPU with bf16 units, else fp32); ``auto`` is that pick where it is bf16,
    else int8 on a CPU with the quantized engine, else fp32."""
    if precision not in SAMPLING_PRECISIONS:
        raise ChemloopError(
            f"unknown sampling precision {precision!r}; choose one of {', '.join(SAMPLING_PRECISIONS)}"
        )
    if precision == "int8":
        return "int8"
    if precision in ("auto", FLOAT):
        weights = resolve_precision("auto", device)
        if precision == "auto" and weights == "fp32" and device.type == "cpu" and dynamic_engine_available():
            return "int8"
        return weights
    return resolve_precision(precision, device)


@contextmanager
def sampling_model(lm: LanguageModel, precision: str = "auto") -> Iterator[LanguageModel]:
    """``lm`` as it samples in ``precision``: itself under autocast, or its int8 copy."""
    resolved = resolve_sampling_precision(precision, lm.device)
    # One heap policy for all the batches (sample_ids alone would set and undo it for each one).
    with keep_buffers_while_sampling():
        if resolved != "int8":
            with autocast(lm.device, resolved):
                yield lm
            return
        with torch.no_grad():
            yield int8_copy(lm)


def int8_copy(lm: LanguageModel) -> LanguageModel:
    """``lm`` with its blocks' linear layers in int8 (``lm`` itself if they already are); made once
    per model and remade after its weights change (a tensor's version counts in-place updates)."""
    if any(isinstance(m, Int8Linear) for m in lm.model.modules()):
        return lm
    versions = tuple(p._version for p in lm.model.parameters())
    cached = _int8_copies.get(lm.model)
    if cached is not None and cached[0] == versions:
        return cached[1]
    model = quantize_model(copy.deepcopy(lm.model).eval())
    quantized = dataclasses.replace(lm, model=model)
    _int8_copies[lm.model] = (versions, quantized)
    return quantized
