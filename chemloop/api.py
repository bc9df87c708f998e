"""The Python API behind every command: ``import chemloop`` and call these.

import chemloop
lm = chemloop.load_model()                       # the shipped prior
report = chemloop.sample(lm, 1000, seed=0)
print(report.summary())
"""

from __future__ import annotations

import csv
from pathlib import Path

from chemloop.data.corpus import load_corpus
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.generate import SampleReport, sample


def load_model(name_or_path: str | Path = checkpoint.DEFAULT_PRIOR, device: str = "auto") -> LanguageModel:
    """Load a checkpoint folder or a shipped prior by name, on ``device`` (``auto``: GPU if any)."""
    return checkpoint.load(name_or_path, pick_device(device))


def sample_to_csv(lm: LanguageModel, num: int, output: str | Path | None = None, **options) -> SampleReport:
    """Sample ``num`` strings; if ``output`` is given, write ``smiles,valid,canonical,nll`` rows."""
    report = sample(lm, num, **options)
    if output is not None:
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["smiles", "valid", "canonical", "nll"])
            for m in report.molecules:
                writer.writerow([m.smiles, int(m.valid), m.canonical, m.nll])
    return report


def bench_moses(
    model: str | Path = checkpoint.DEFAULT_PRIOR,
    smiles_file: str | Path | None = None,
    num: int = 30000,
    seed: int = 0,
    device: str = "auto",
    n_jobs: int = 2,
) -> dict:
    """MOSES metrics of ``num`` samples from ``model`` (or of a SMILES file) against MOSES test sets."""
    from chemloop.bench.moses_metrics import moses_metrics

    if smiles_file is not None:
        corpus = load_corpus(smiles_file, skip_invalid=True)  # invalid strings count against validity
        generated = corpus.smiles + [""] * len(corpus.skipped)
        label, extra = Path(smiles_file).name, {}
    else:
        lm = load_model(model, device)
        report = sample(lm, num, seed=seed)
        generated = [m.smiles for m in report.molecules]
        label, extra = str(model), {"sampling": report.summary(), "model_metadata": lm.metadata}
    if not generated:
        raise ChemloopError("nothing to evaluate")
    metrics = moses_metrics(generated, device=str(pick_device(device)), n_jobs=n_jobs)
    return {"label": label, "num": len(generated), "seed": seed, "metrics": metrics, **extra}
