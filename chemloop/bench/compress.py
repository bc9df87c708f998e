"""``chemloop bench compress``: every compressed variant of one model side by side, in one run.

Each variant is built from the model with ``chemloop compress`` (or given as a folder) and
measured on the same footing: size of its weights file, validity and unique@10k of ``num``
samples, FCD of the valid samples to the held-out split of the model's corpus, mean NLL of a
seeded set of held-out molecules, and valid molecules per second. Speed is timed in rounds —
every variant once per round, the same batch size and seeds — and the median over rounds is
reported, so load on a shared machine falls on all variants alike.

Variants are written ``name[:value][+int8]``:

- ``fp32`` (the model as it is, computed in fp32 whatever ``precision`` says: the baseline of the
  speed column), ``autocast`` (the float model at ``precision``, bf16 where the chip has it;
  ``chemloop sample`` runs ``int8`` by default, :mod:`chemloop.model.inference`), ``bf16``,
  ``int8`` (dynamic), ``int8-weight`` (weight-only: float compute);
- ``magnitude:S``, ``sparsegpt:S`` (unstructured, sparsity S);
- ``mlp:S``, ``heads:S``, ``heads-mlp:S`` (structured: that share of MLP units / heads removed);
- ``distill:SIZE`` (a student, e.g. ``distill:3x256``, trained for ``distill_minutes``);
- ``+int8`` after any of them quantizes the result as well (e.g. ``mlp:0.5+int8``).

With ``rl_tasks``, each float variant is also the model of PMO runs on those tasks (PMO's protocol,
``chemloop bench pmo``'s settings): the agent starts from it, samples from it and is kept close to
it, and the AUC top-10 over ``rl_seeds`` seeds says whether RL loses anything by starting there.
An int8 variant has no such row: int8 weights do not train, and an RL run's agent samples its own
float weights (sampling is an eighth of an RL step, so an int8 copy remade every step would save
about 3% of a run; docs/compression.md).
"""

from __future__ import annotations

import math
import random
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from chemloop.bench.machine import describe
from chemloop.bench.moses_metrics import (
    ReferenceStats,
    cached_reference_stats,
    canonical_or_none,
    unique_at_k,
)
from chemloop.bench.pmo import run_task, summarize
from chemloop.bench.prior_metrics import DEFAULT_CACHE_DIR, HELDOUT_FILE, fcd_to, load_split, split_options
from chemloop.chem.tokenizer import TokenizerError
from chemloop.compression import compress
from chemloop.compression.calibration import calibration_smiles
from chemloop.data.corpus import load_corpus
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import resolve_precision
from chemloop.model.generate import sample
from chemloop.model.likelihood import log_likelihood
from chemloop.model.quantized import count_parameters
from chemloop.score.oracles.pmo import oracle

DEFAULT_VARIANTS = (
    "fp32,autocast,bf16,int8,int8-weight,magnitude:0.5,sparsegpt:0.5,mlp:0.25,mlp:0.5,mlp:0.5+int8"
)
_PRUNE = {
    "magnitude": {"method": "prune", "algorithm": "magnitude"},
    "sparsegpt": {"method": "prune", "algorithm": "sparsegpt"},
    "mlp": {"method": "prune", "structured": "mlp"},
    "heads": {"method": "prune", "structured": "heads"},
    "heads-mlp": {"method": "prune", "structured": "heads,mlp"},
}
_SIMPLE = {
    "fp32": [],
    "autocast": [],
    "bf16": [{"method": "bf16"}],
    "int8": [{"method": "int8"}],
    "int8-weight": [{"method": "int8", "scheme": "weight_only"}],
}


@dataclass(frozen=True)
class Variant:
    """A label and the compression steps that make it from the model (none: the model itself)."""

    label: str
    steps: tuple[dict, ...]
    folder: Path | None = None  # a checkpoint given as it is
    precision: str | None = None  # computed at this precision, not the run's


def parse_variants(text: str) -> list[Variant]:
    """Variants from ``"fp32,int8,sparsegpt:0.5,mlp:0.5+int8,distill:3x256"`` (see the module doc)."""
    variants = []
    for label in (part.strip() for part in text.split(",")):
        if not label:
            continue
        base, plus_int8 = label.removesuffix("+int8"), label.endswith("+int8")
        name, _, value = base.partition(":")
        if name in _SIMPLE and not value:
            steps = list(_SIMPLE[name])
        elif name in _PRUNE and value:
            steps = [{**_PRUNE[name], "sparsity": _fraction(value, label)}]
        elif name == "distill" and value:
            steps = [{"method": "distill", "size": value}]
        else:
            raise ChemloopError(
                f"variant {label!r} is not one of fp32, autocast, bf16, int8, int8-weight, magnitude:S, "
                "sparsegpt:S, mlp:S, heads:S, heads-mlp:S, distill:SIZE (each optionally +int8)"
            )
        if plus_int8:
            if any(step["method"] in ("int8", "bf16") for step in steps):
                raise ChemloopError(f"variant {label!r}: +int8 goes after a float variant")
            steps.append({"method": "int8"})
        variants.append(Variant(label, tuple(steps), precision="fp32" if label == "fp32" else None))
    if not variants:
        raise ChemloopError("no variants to measure")
    return variants


def _fraction(value: str, label: str) -> float:
    try:
        fraction = float(value)
    except ValueError:
        raise ChemloopError(f"variant {label!r}: {value!r} is not a sparsity") from None
    if not 0 < fraction < 1:
        raise ChemloopError(f"variant {label!r}: sparsity must lie strictly between 0 and 1")
    return fraction


def _step_folder(steps: Sequence[dict]) -> str:
    """A folder named by the steps that make it, so that variants that begin alike (``distill:3x256``
    and ``distill:3x256+int8``) share the work: a student is trained once."""
    return _folder_name("+".join("-".join(f"{value}" for value in step.values()) for step in steps))


def _folder_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text)


def build(
    model: str | Path,
    variant: Variant,
    work_dir: Path,
    *,
    calibration: Sequence[str] | None,
    distill_minutes: float,
    progress: Callable[[str], None],
) -> Path:
    """The variant's checkpoint folder: built step by step under ``work_dir``, reused if there."""
    if variant.folder is not None:
        return variant.folder
    current = checkpoint.resolve(model)
    # A student's training time is part of what it is: one of other minutes is not reused.
    steps = [{**s, "max_minutes": distill_minutes} if s["method"] == "distill" else s for s in variant.steps]
    for index, options in enumerate(steps):
        out = work_dir / _step_folder(steps[: index + 1])
        if not (out / checkpoint.WEIGHTS).exists():
            progress(f"{variant.label}: {options['method']}")
            compress(current, out=out, calibration_set=calibration, progress=progress, **options)
        current = out
    return current


# --------------------------------------------------------------------------- held-out molecules


def heldout(model: str | Path, source: str | None = None) -> tuple[list[str], str]:
    """Held-out molecules and a cache name: ``source`` (a corpus, e.g. ``moses:test``), else the
    model folder's ``heldout.smi``, else its corpus split again as its pretrain config says."""
    folder = checkpoint.resolve(model)
    if source is not None:
        corpus = load_corpus(source, skip_invalid=True, canonicalize=True)
        return corpus.smiles, f"heldout-{Path(source).name}"
    if (folder / HELDOUT_FILE).is_file():
        molecules = [s for s in (folder / HELDOUT_FILE).read_text().split("\n") if s]
        return molecules, f"heldout-{folder.name}"
    try:
        options = split_options(model)
    except ChemloopError:
        raise ChemloopError(
            f"{model} has no {HELDOUT_FILE} and records no held-out split: give held-out molecules "
            "with --heldout (a corpus file, or moses:test for a model trained on MOSES)"
        ) from None
    split = load_split(options)
    return split.heldout, f"heldout-{Path(options.data).name}-{options.holdout_fraction}-{options.seed}"


def readable(lm: LanguageModel, smiles: Sequence[str]) -> list[str]:
    """The molecules the model's vocabulary and context can hold."""
    kept = []
    for s in smiles:
        try:
            if len(lm.tokenizer.encode(s)) <= lm.model.config.block_size:
                kept.append(s)
        except TokenizerError:
            continue
    return kept


# --------------------------------------------------------------------------- measurements


def quality(
    lm: LanguageModel,
    reference: ReferenceStats,
    nll_set: Sequence[str],
    *,
    num: int,
    seed: int,
    batch_size: int,
    precision: str,
) -> dict[str, Any]:
    """Validity, unique@10k and FCD of ``num`` samples; mean NLL of ``nll_set``."""
    report = sample(lm, num, seed=seed, batch_size=batch_size, precision=precision)
    canonical = [canonical_or_none(m.smiles) for m in report.molecules]
    valid = [c for c in canonical if c is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer than 10k valid samples: unique@all, said in the table
        unique = unique_at_k(valid, 10_000)
        fcd = fcd_to(valid, reference)
    nll = -log_likelihood(lm.model, lm.tokenizer, list(nll_set)).mean().item() if nll_set else math.nan
    return {
        "validity": len(valid) / max(1, len(canonical)),
        "unique_at_10k": unique,
        "unique_of": min(len(valid), 10_000),
        "fcd": fcd,
        "heldout_nll": nll,
    }


def speed(
    models: dict[str, tuple[LanguageModel, str]], *, num: int, batch_size: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Valid molecules per second of each (model, precision): ``repeats`` rounds, every model
    once per round."""
    runs: dict[str, list[dict]] = {label: [] for label in models}
    for lm, precision in models.values():  # warm-up: first calls allocate and pick kernels
        sample(lm, min(num, batch_size, 256), seed=12345, batch_size=batch_size, precision=precision)
    for round_index in range(repeats):
        for label, (lm, precision) in models.items():
            runs[label].append(
                sample(lm, num, seed=round_index, batch_size=batch_size, precision=precision).summary()
            )
    return {
        label: {
            "median_valid_per_s": statistics.median(r["valid_per_s"] for r in rows),
            "median_molecules_per_s": statistics.median(r["molecules_per_s"] for r in rows),
            "valid_per_s_runs": [r["valid_per_s"] for r in rows],
        }
        for label, rows in runs.items()
    }


INT8_DOES_NOT_TRAIN = "int8 weights do not train; an RL run's agent samples its own float weights"


def rl_auc(
    path: Path,
    lm: LanguageModel,
    precision: str,
    *,
    tasks: Sequence[str],
    seeds: int,
    budget: int,
    runs_dir: Path,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """AUC top-10 of PMO runs whose agent starts from the checkpoint at ``path`` (computed in
    ``precision``), per task over ``seeds`` seeds; finished runs in ``runs_dir`` are read, not rerun."""
    if any(step.get("method") == "int8" for step in lm.compression):
        return {"skipped": INT8_DOES_NOT_TRAIN}
    runs = []
    for task in tasks:
        for seed in range(seeds):
            progress(f"{path.name}: PMO {task}, seed {seed}, {budget} calls")
            settings = {"model": str(path), "precision": precision}
            runs.append(run_task(task, seed, budget, runs_dir / f"{task}-seed{seed}", settings))
    by_task = {
        task: {
            "mean": round(summary["mean"], 4),
            "std": round(summary["std"], 4),
            "runs": [round(r.auc_top10, 4) for r in runs if r.task == task],
            "seconds": round(summary["seconds"], 1),
        }
        for task, summary in summarize(runs).items()
    }
    return {"tasks": by_task, "budget": budget}


def _kernels(lm: LanguageModel) -> str:
    found = sorted({m.kernel for m in lm.model.modules() if hasattr(m, "kernel")})
    return ", ".join(found) if found else "float"


def _number(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


def bench_compress(
    model: str | Path,
    *,
    variants: str = DEFAULT_VARIANTS,
    include: Sequence[str | Path] = (),
    num: int = 10_000,
    nll_molecules: int = 2000,
    speed_num: int = 2000,
    batch_size: int = 1024,
    repeats: int = 3,
    precision: str = "auto",
    seed: int = 0,
    calibration_molecules: int = 2048,
    calibration_source: str | None = None,
    distill_minutes: float = 10.0,
    work_dir: str | Path | None = None,
    heldout_source: str | None = None,
    cache_dir: str | Path | None = None,
    n_jobs: int = 2,
    rl_tasks: Sequence[str] = (),
    rl_seeds: int = 3,
    rl_budget: int = 10_000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build and measure every variant of ``model`` (see the module docstring); one result dict."""
    say = progress or (lambda _: None)
    start = time.perf_counter()
    for task in rl_tasks:
        oracle(task)  # an unknown task fails here, before the variants are built
    chosen = parse_variants(variants) + [Variant(str(p), (), checkpoint.resolve(p)) for p in include]
    source = checkpoint.load(model)
    # The float variants' number format; int8 is a variant here, not a precision.
    precision = resolve_precision(precision, source.device)
    molecules, cache_name = heldout(model, heldout_source)
    say(f"ChemNet statistics of {len(molecules)} held-out molecules")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = cached_reference_stats(
            molecules, cache_name, cache_dir=cache_dir or DEFAULT_CACHE_DIR, n_jobs=n_jobs
        )
    nll_set = random.Random(seed).sample(readable(source, molecules), min(nll_molecules, len(molecules)))
    needs_calibration = any(
        s["method"] == "prune" and s.get("algorithm") != "magnitude" for v in chosen for s in v.steps
    )
    calibration = None
    if needs_calibration:
        say(f"reading {calibration_molecules} calibration molecules")
        calibration = calibration_smiles(model, source, calibration_source, calibration_molecules, seed)
    with tempfile.TemporaryDirectory(prefix="chemloop-compress-") as scratch:
        folder = Path(work_dir) if work_dir is not None else Path(scratch)
        loaded: dict[str, tuple[LanguageModel, str]] = {}
        paths: dict[str, Path] = {}
        rows: dict[str, dict[str, Any]] = {}
        for variant in chosen:
            path = build(
                model, variant, folder, calibration=calibration, distill_minutes=distill_minutes, progress=say
            )
            lm = source if not variant.steps and variant.folder is None else checkpoint.load(path)
            say(f"{variant.label}: sampling {num} and scoring {len(nll_set)} held-out molecules")
            computed_in = variant.precision or precision
            measured = quality(
                lm, reference, nll_set, num=num, seed=seed, batch_size=batch_size, precision=computed_in
            )
            rows[variant.label] = {
                "folder": str(path) if work_dir is not None or variant.folder is not None else None,
                "weights_mb": (checkpoint.resolve(path) / checkpoint.WEIGHTS).stat().st_size / 1e6,
                "parameters": count_parameters(lm.model),
                "compression": lm.compression,
                "kernels": _kernels(lm),
                "precision": resolve_precision(computed_in, source.device),
                **measured,
            }
            loaded[variant.label], paths[variant.label] = (lm, computed_in), path
        say(f"timing: {repeats} rounds of {speed_num} molecules per variant")
        timed = speed(loaded, num=speed_num, batch_size=batch_size, repeats=repeats)
        for variant in chosen if rl_tasks else ():  # last: hours, where the rest takes minutes
            lm, computed_in = loaded[variant.label]
            rows[variant.label]["rl"] = rl_auc(
                checkpoint.resolve(paths[variant.label]),
                lm,
                resolve_precision(computed_in, source.device),
                tasks=rl_tasks,
                seeds=rl_seeds,
                budget=rl_budget,
                runs_dir=folder / "rl" / _folder_name(variant.label),
                progress=say,
            )
    baseline = timed[chosen[0].label]["median_valid_per_s"]
    for label, row in rows.items():
        row.update(timed[label])
        row["speedup"] = row["median_valid_per_s"] / baseline if baseline else math.nan
        for key in ("validity", "unique_at_10k", "fcd", "heldout_nll", "speedup", "weights_mb"):
            row[key] = _number(row[key])
    return {
        "benchmark": "compress",
        "model": str(model),
        "machine": describe(source.device),
        "torch_threads": torch.get_num_threads(),
        "precision": resolve_precision(precision, source.device),
        "num": num,
        "speed_num": speed_num,
        "batch_size": batch_size,
        "repeats": repeats,
        "seed": seed,
        "nll_molecules": len(nll_set),
        "heldout_molecules": len(molecules),
        "variants": rows,
        "rl_tasks": list(rl_tasks),
        "rl_seeds": rl_seeds if rl_tasks else 0,
        "seconds": round(time.perf_counter() - start, 1),
    }


def format_table(result: dict[str, Any]) -> Any:
    """A rich table: one row per variant."""
    from rich.table import Table

    table = Table(
        title=f"compression of {result['model']}: {result['num']} samples, speed {result['repeats']} × "
        f"{result['speed_num']} at batch {result['batch_size']}, {result['precision']} "
        f"(fp32: fp32), {result['torch_threads']} threads"
    )
    table.add_column("variant", no_wrap=True)
    for column in ("computed in", "MB", "params", "valid", "uniq@10k", "FCD", "NLL", "valid/s", "speed-up"):
        table.add_column(column, justify="right", no_wrap=True)
    tasks = result.get("rl_tasks", [])
    for task in tasks:
        table.add_column(f"AUC {task}", justify="right", no_wrap=True)
    for label, row in result["variants"].items():
        rl = row.get("rl", {}).get("tasks", {})
        auc = [f"{rl[t]['mean']:.3f} ± {rl[t]['std']:.3f}" if t in rl else "-" for t in tasks]
        table.add_row(
            label,
            row.get("precision", result["precision"]),
            f"{row['weights_mb']:.1f}",
            f"{row['parameters'] / 1e6:.2f}M",
            _cell(row["validity"], 3),
            _cell(row["unique_at_10k"], 4),
            _cell(row["fcd"], 3),
            _cell(row["heldout_nll"], 2),
            f"{row['median_valid_per_s']:.0f}",
            _cell(row["speedup"], 2),
            *auc,
        )
    return table


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
