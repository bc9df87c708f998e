"""A benchmark script's result as a JSON file: its settings (the command-line arguments) and the
machine it ran on beside what it measured, so that the file alone says how to reproduce it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from chemloop.bench.machine import describe


def result_record(
    args: argparse.Namespace, device: torch.device | None = None, **measured: Any
) -> dict[str, Any]:
    """The machine, every argument (paths as text) and ``measured``, in that order."""
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return {"machine": describe(device), **settings, **measured}


def write_result(result: dict[str, Any], path: Path | None) -> None:
    """``result`` as indented JSON at ``path`` (its folder made), where a path is given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
