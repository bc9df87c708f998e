"""Which number format a fixed model samples in: its float weights (fp32, or bf16 autocast) or an
int8 copy made on the fly.

Sampling for users (``chemloop sample``, prompting, the HTTP API and MCP tools) runs in ``int8``
dynamic by default where the CPU has PyTorch's quantized engine: on the default prior it gave
validity 0.922 against fp32's 0.923 and FCD 0.695 against 0.714 at 1.27x the valid molecules/s on
an AMD EPYC without AVX-512, and 2.27x against bf16's 1.76x on one with AVX-512 BF16 (``chemloop
bench compress``; docs/compression.md). What samples a model in training, and the benchmarks of a
model's quality, use its float weights (:data:`FLOAT`).
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
from chemloop.model.quantized import Int8Linear, dynamic_engine_available, quantize_model

SAMPLING_PRECISIONS = ("auto", "int8", "float", "fp32", "bf16")
# ``float``: the model's own weights, bf16 autocast where the chip has bf16 units, else fp32. What
# samples a model that is being trained (on-policy pairs, a campaign's steered agent) and the
# benchmarks of a model's quality, so that their figures stay comparable over time.
FLOAT = "float"

# One int8 copy per float model, remade when the model's weights have changed since.
_int8_copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def resolve_sampling_precision(precision: str, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``int8``; ``auto`` is int8 on a CPU with the quantized engine, else
    what ``float`` is: :func:`~chemloop.model.device.resolve_precision`'s pick (bf16 on a GPU)."""
    if precision not in SAMPLING_PRECISIONS:
        raise ChemloopError(
            f"unknown sampling precision {precision!r}; choose one of {', '.join(SAMPLING_PRECISIONS)}"
        )
    if precision == "int8" or (precision == "auto" and device.type == "cpu" and dynamic_engine_available()):
        return "int8"
    return resolve_precision("auto" if precision == FLOAT else precision, device)


@contextmanager
def sampling_model(lm: LanguageModel, precision: str = "auto") -> Iterator[LanguageModel]:
    """``lm`` as it samples in ``precision``: itself under autocast, or its int8 copy."""
    resolved = resolve_sampling_precision(precision, lm.device)
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
