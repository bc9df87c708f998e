"""``chemloop compress``: a smaller or faster copy of a model as a new checkpoint folder (thin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chemloop.cli_common import DeviceOption, ModelOption, console, user_errors


@user_errors
def compress_command(
    method: Annotated[str, typer.Option(help="bf16, int8, prune or distill")],
    out: Annotated[Path, typer.Option(help="a new folder for the compressed checkpoint")],
    model: ModelOption = "prior",
    sparsity: Annotated[
        float, typer.Option(help="prune: the share of weights (or of heads / MLP units) removed")
    ] = 0.5,
    algorithm: Annotated[str, typer.Option(help="prune: sparsegpt or magnitude")] = "sparsegpt",
    structured: Annotated[
        str | None, typer.Option(help="prune whole parts instead: heads, mlp or heads,mlp")
    ] = None,
    scheme: Annotated[
        str, typer.Option(help="int8: dynamic (int8 activations too) or weight_only")
    ] = "dynamic",
    size: Annotated[
        str | None, typer.Option(help="distill: the student, LAYERSxWIDTH (4x192) or n_layer=3,n_head=4")
    ] = None,
    calibration: Annotated[
        str | None,
        typer.Option(
            help="prune: a calibration corpus file or 'moses' (default: the model's training split)"
        ),
    ] = None,
    calibration_molecules: Annotated[int, typer.Option(help="prune: how many calibration molecules")] = 2048,
    max_minutes: Annotated[float, typer.Option(help="distill: training time")] = 30.0,
    max_steps: Annotated[int | None, typer.Option(help="distill: stop after this many steps")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="distill: teacher samples per step")] = 256,
    lr: Annotated[float, typer.Option(help="distill: peak learning rate")] = 1e-3,
    seed: int = 0,
    device: DeviceOption = "auto",
) -> None:
    """Compress a model into a new checkpoint folder that every command loads by path: bf16 or int8
    weights, one-shot pruning (SparseGPT, magnitude, or whole heads and MLP units), or distillation
    into a smaller student."""
    from chemloop.api import compress

    result = compress(
        model,
        method,
        out,
        sparsity=sparsity,
        algorithm=algorithm,
        structured=structured,
        scheme=scheme,
        size=size,
        calibration=calibration,
        calibration_molecules=calibration_molecules,
        max_minutes=max_minutes,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=console.print,
    )
    details = {k: v for k, v in result.record.items() if k not in ("source", "kept_heads")}
    console.print(
        f"wrote {result.out}: {result.parameters:,} parameters, "
        f"{result.weights_bytes / 1e6:.1f} MB of weights; "
        + ", ".join(f"{k} {v}" for k, v in details.items())
    )
