"""One description of the machine a benchmark ran on, for every benchmark's JSON."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from chemloop.model.device import cpu_has_amx, cpu_has_bf16_units


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_units() -> str:
    """The CPU's bf16 matrix units, which decide the default precision: the model name alone
    (``Intel(R) Xeon(R) Processor``) does not tell them apart."""
    if cpu_has_amx():
        return "AMX"
    return "AVX-512 BF16" if cpu_has_bf16_units() else "no bf16 units"


def describe(device: torch.device | None = None) -> str:
    """E.g. ``Intel(R) Xeon(R) Processor (AMX), 2 cores, x86_64 Linux, Python 3.11.7``.

    With a CUDA ``device``, the GPU's name comes first: that is what bounds the timing.
    """
    host = (
        f"{cpu_name()} ({bf16_units()}), {os.cpu_count()} cores, {platform.machine()} {platform.system()}, "
        f"Python {platform.python_version()}"
    )
    if device is not None and device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}; {host}"
    return host
