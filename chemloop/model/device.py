"""Where a model runs and in which number format.

``bf16`` autocast runs matrix products in bfloat16 while weights, optimizer state and losses
stay float32. On a CPU with AMX or AVX-512 BF16 units (most current x86 servers) that is
several times faster for matmuls of a few hundred columns and more; on other CPUs it is
emulated and slower, so ``auto`` picks it only where the hardware has it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cache
from pathlib import Path

import torch

from chemloop.errors import ChemloopError
from chemloop.model.heap import return_freed_buffers_to_the_system

PRECISIONS = ("auto", "fp32", "bf16")


def pick_device(name: str) -> torch.device:
    """``auto`` (a CUDA GPU if there is one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ChemloopError(f"device {name!r} requested but no CUDA GPU is available")
    return torch.device(name)


@cache
def _cpu_flags() -> str:
    """The CPU's feature flags as Linux lists them ("" where /proc/cpuinfo cannot be read)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


@cache
def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX-512 BF16 flags, Linux)."""
    return "amx_bf16" in _cpu_flags() or "avx512_bf16" in _cpu_flags()


@cache  # asked for every layer of every sampled token: the flags are searched once
def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tile units (Intel Xeon since Sapphire Rapids), not only AVX-512 BF16."""
    return "amx_bf16" in _cpu_flags()


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for ``device``; ``auto`` is bf16 on a GPU or a CPU with bf16 units."""
    if precision not in PRECISIONS:
        raise ChemloopError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    return "bf16" if device.type == "cpu" and cpu_has_bf16_units() else "fp32"


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """A context in which forward passes run in ``precision`` (``fp32``: unchanged)."""
    if resolve_precision(precision, device) == "fp32":
        return nullcontext()
    if device.type == "cpu":
        return_freed_buffers_to_the_system()
    return torch.autocast(device.type, dtype=torch.bfloat16)
