"""The Python API behind every command: ``import chemloop`` and call these.

import chemloop
lm = chemloop.load_model()                       # the shipped prior
report = chemloop.sample(lm, 1000, seed=0)
print(report.summary())
decorated = chemloop.decorate(lm, "O=C1CN=C(c2ccccc2)c2cc(*)ccc2N1*", 1000)   # or chemloop.link
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chemloop.chem.sdf import sd_text
from chemloop.compression import Compressed
from chemloop.data.corpus import SMILES_SUFFIXES, format_suffix, load_corpus, open_text
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.generate import Sampled, SampleReport, sample
from chemloop.model.inference import FLOAT
from chemloop.model.prompting import prepare_prompt, sample_with_prompt

if TYPE_CHECKING:
    from chemloop.services.align import AlignConfig


def load_model(name_or_path: str | Path = checkpoint.DEFAULT_PRIOR, device: str = "auto") -> LanguageModel:
    """Load a checkpoint folder or a shipped prior by name, on ``device`` (``auto``: GPU if any)."""
    return checkpoint.load(name_or_path, pick_device(device))


def compress(model: str | Path, method: str, out: str | Path, **options) -> Compressed:
    """Compress ``model`` into the new checkpoint folder ``out``: ``method`` ``bf16``, ``int8``,
    ``prune`` or ``distill`` (options: :func:`chemloop.compression.compress`). Load it by path."""
    from chemloop.compression import compress as run

    return run(model, method, out, **options)


def align(
    config: AlignConfig | None = None, progress: Callable[[dict], None] | None = None, **options
) -> dict:
    """Align a model to preference pairs with DPO (a file, a campaign's preferences, or a judge on the
    model's samples), e.g. ``chemloop.align(model="prior", pairs="pairs.csv", out="runs/aligned")``;
    ``options`` are the fields of :class:`~chemloop.services.align.AlignConfig`. Writes a checkpoint
    folder with its report and returns the report."""
    from chemloop.config_files import validate
    from chemloop.services.align import AlignConfig, source_problem
    from chemloop.services.align import align as run

    if config is None:
        problem = source_problem(options)
        if problem is not None:  # said plainly, not as a validation error of the whole config
            raise ChemloopError(problem)
        config = validate(AlignConfig, options, "align options")
    elif options:
        raise ChemloopError("give an AlignConfig or options, not both")
    return run(config, progress=progress)


def decorate(lm: LanguageModel, scaffold: str, num: int, **options) -> SampleReport:
    """``num`` molecules decorating ``scaffold`` at its attachment points (``*``; one point grows a
    fragment). Each molecule says whether it contains the scaffold; ``options`` as for :func:`sample`."""
    return sample_with_prompt(lm, prepare_prompt(lm, scaffold, "decorate"), num, **options)


def link(lm: LanguageModel, fragments: str, num: int, **options) -> SampleReport:
    """``num`` molecules linking two fragments written ``FRAG1*.*FRAG2`` (one ``*`` each)."""
    return sample_with_prompt(lm, prepare_prompt(lm, fragments, "link"), num, **options)


def sample_to_csv(
    lm: LanguageModel,
    num: int,
    output: str | Path | None = None,
    *,
    scaffold: str | None = None,
    fragments: str | None = None,
    **options,
) -> SampleReport:
    """Sample ``num`` strings, decorating ``scaffold`` or linking ``fragments`` if one is given; if
    ``output`` is given, write them there: ``smiles,valid,canonical,nll`` rows (and
    ``prompt,contains_prompt`` under a prompt) to a ``.csv``, or the valid molecules alone to a
    ``.smi`` or ``.sdf`` file, each gzipped under a final ``.gz`` (:func:`_write_samples`)."""
    if scaffold is not None and fragments is not None:
        raise ChemloopError("give a scaffold to decorate or fragments to link, not both")
    if output is not None:
        sample_file_format(Path(output))  # a name we cannot write fails before the sampling
    if scaffold is not None:
        report = decorate(lm, scaffold, num, **options)
    elif fragments is not None:
        report = link(lm, fragments, num, **options)
    else:
        report = sample(lm, num, **options)
    if output is not None:
        _write_samples(report, Path(output))
    return report


def sample_file_format(output: Path) -> str:
    """``csv``, ``smi`` or ``sdf``: what a sample file is written as, by its extension (before a
    final ``.gz``), the extensions the corpus readers take back."""
    suffix = format_suffix(output)
    if suffix in (".csv", ".sdf"):
        return suffix[1:]
    if suffix in SMILES_SUFFIXES:
        return "smi"
    raise ChemloopError(
        f"cannot write samples to {output}: name a .csv, .smi (.smiles, .txt) or .sdf file, gzipped "
        "under a final .gz or not"
    )


def _write_samples(report: SampleReport, output: Path) -> None:
    """``report`` as the file ``output`` names (:func:`sample_file_format`): .smi (canonical SMILES
    of the valid molecules, each once: a file that ``pretrain``, ``finetune`` and every corpus
    reader takes), .sdf (the same in 2D, each named by the number of the string it came from, with
    its NLL and prompt) or .csv (every string, a row); gzipped under a final .gz."""
    kind = sample_file_format(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open_text(output, "w") as handle:
        if kind == "csv":
            _write_csv(report, handle)
            return
        first = {}  # each valid molecule once, with the number of the first string that wrote it
        for number, m in enumerate(report.molecules, start=1):
            if m.valid and m.canonical not in first:
                first[m.canonical] = (number, m)
        if kind == "sdf":
            handle.write(sd_text((f"sample {n}", smiles, _items(m)) for smiles, (n, m) in first.items()))
        else:
            handle.write("".join(f"{smiles}\n" for smiles in first))


def _write_csv(report: SampleReport, handle: TextIO) -> None:
    prompted = report.prompt is not None
    writer = csv.writer(handle)
    writer.writerow(
        ["smiles", "valid", "canonical", "nll"] + (["prompt", "contains_prompt"] if prompted else [])
    )
    for m in report.molecules:
        row = [m.smiles, int(m.valid), m.canonical, "" if math.isnan(m.nll) else m.nll]
        writer.writerow(row + ([m.prompt, int(bool(m.contains_prompt))] if prompted else []))


def _items(molecule: Sampled) -> dict[str, Any]:
    """An SD record's data items for a sampled molecule: its NLL, and its prompt where it had one."""
    items: dict[str, Any] = {"nll": "" if math.isnan(molecule.nll) else molecule.nll}
    if molecule.prompt is not None:
        items |= {"prompt": molecule.prompt, "contains_prompt": int(bool(molecule.contains_prompt))}
    return items


def bench_moses(
    model: str | Path = "moses",
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
        report = sample(lm, num, seed=seed, precision=FLOAT)
        generated = [m.smiles for m in report.molecules]
        label, extra = str(model), {"sampling": report.summary(), "model_metadata": lm.metadata}
    if not generated:
        raise ChemloopError("nothing to evaluate")
    metrics = moses_metrics(generated, device=str(pick_device(device)), n_jobs=n_jobs)
    return {"label": label, "num": len(generated), "seed": seed, "metrics": metrics, **extra}
