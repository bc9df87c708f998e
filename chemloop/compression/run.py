"""One compression step: a checkpoint in, a new checkpoint folder out.

The output is an ordinary checkpoint (``model.safetensors`` + ``config.json`` + ``vocab.json``)
that every command loads by path. ``config.json`` gains a ``compression`` list, one entry per
step that made the model (e.g. structured pruning, then int8), with the options used and what
was achieved. The source's ``heldout.smi`` and ``pretrain_config.json`` are copied beside it,
so benchmarks find the split the model's corpus was held out by.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from chemloop.compression.calibration import batches, calibration_smiles
from chemloop.compression.distill import distill
from chemloop.compression.options import CompressError, CompressOptions, check, parse_size, parse_structured
from chemloop.compression.prune import prune_magnitude, prune_sparsegpt
from chemloop.compression.structured import prune_structured
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.quantized import count_parameters, quantize_model


@dataclass(frozen=True)
class Compressed:
    """Where the compressed checkpoint went and what the step did."""

    out: Path
    record: dict
    parameters: int
    weights_bytes: int


def compress(
    model: str | Path,
    method: str,
    out: str | Path,
    *,
    sparsity: float = 0.5,
    algorithm: str = "sparsegpt",
    structured: str | Sequence[str] | None = None,
    scheme: str = "dynamic",
    size: str | dict[str, int] | None = None,
    calibration: str | Path | None = None,
    calibration_molecules: int = 2048,
    max_minutes: float = 30.0,
    max_steps: int | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    calibration_set: Sequence[str] | None = None,
) -> Compressed:
    """Compress ``model`` (a checkpoint folder or a shipped prior's name) with ``method`` into ``out``.

    ``method``: ``bf16`` (weights stored in bfloat16), ``int8`` (``scheme`` ``dynamic`` or
    ``weight_only``), ``prune`` (``sparsity`` of the weights by ``algorithm`` ``sparsegpt`` or
    ``magnitude``; or, with ``structured`` ``"heads"``/``"mlp"``/``"heads,mlp"``, that share of
    whole heads and MLP units) or ``distill`` (a student of ``size``, e.g. ``"4x192"``, trained
    for ``max_minutes``). ``calibration_set`` (SMILES) skips reading calibration molecules.
    """
    say = progress or (lambda _: None)
    options = check(
        CompressOptions(
            method=method,
            sparsity=sparsity,
            algorithm=algorithm,
            structured=parse_structured(
                structured if isinstance(structured, str) else ",".join(structured or ())
            ),
            scheme=scheme,
            size=parse_size(size) if isinstance(size, str) or size is None else dict(size),
            calibration=None if calibration is None else str(calibration),
            calibration_molecules=calibration_molecules,
            max_minutes=max_minutes,
            max_steps=max_steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
        )
    )
    source = checkpoint.resolve(model)
    out = Path(out)
    if out.resolve() == source.resolve():
        raise CompressError(f"--out {out} is the model's own folder; write the compressed model elsewhere")
    if (out / checkpoint.WEIGHTS).exists():
        raise CompressError(
            f"{out} already holds a checkpoint; choose a new folder (nothing was overwritten)"
        )
    lm = checkpoint.load(source, pick_device(device))
    if any(step.get("method") == "int8" for step in lm.compression):
        raise CompressError(f"{model} is already int8: compress from its float checkpoint")
    record = {**options.record(), "source": str(model)}
    compressed, metadata, dtype, history = lm, dict(lm.metadata), None, []
    if options.method == "bf16":
        dtype = torch.bfloat16
    elif options.method == "int8":
        quantize_model(lm.model.cpu(), options.scheme)
    elif options.method == "prune" and not options.structured and options.algorithm == "magnitude":
        record.update(prune_magnitude(lm.model, options.sparsity))
    elif options.method == "prune":
        smiles = list(calibration_set) if calibration_set is not None else _calibration(source, lm, options)
        say(f"calibrating on {len(smiles)} molecules")
        data = batches(lm, smiles)
        record["calibration_molecules"] = len(smiles)
        if options.structured:
            smaller, report = prune_structured(lm.model, options.structured, options.sparsity, data, say)
            compressed = LanguageModel(smaller, lm.tokenizer, metadata)
            record.update(report)
        else:
            record.update(prune_sparsegpt(lm.model, options.sparsity, data, say))
    else:

        def show(row: dict) -> None:
            say(f"step {row['step']}: KL {row['kl']:.4f} nats/token, {row['seconds']:.0f} s")

        compressed, summary, history = distill(lm, options, show)
        metadata = compressed.metadata
        record.update(summary)
    metadata["parameters"] = count_parameters(compressed.model)
    checkpoint.save(
        out,
        compressed.model,
        lm.tokenizer,
        metadata,
        dtype=dtype,
        compression=[*lm.compression, record],
    )
    checkpoint.copy_corpus_records(source, out)
    if history:
        _write_rows(out / "distill_metrics.csv", history)
    return Compressed(out, record, metadata["parameters"], (out / checkpoint.WEIGHTS).stat().st_size)


def _calibration(source: Path, lm: LanguageModel, options: CompressOptions) -> list[str]:
    return calibration_smiles(source, lm, options.calibration, options.calibration_molecules, options.seed)


def _write_rows(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
