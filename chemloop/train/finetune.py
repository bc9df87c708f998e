"""``chemloop finetune``: transfer learning of a prior on a chemist's own molecules.

    chemloop finetune --data series.smi --out runs/series --model prior

The molecules (10 to 100,000; .smi/.csv/.sdf, gzipped or not) are standardized like a pretraining
corpus, split by a seeded shuffle into training and held-out molecules, and the model trains on
random spellings until the held-out NLL (averaged over random spellings of each held-out
molecule, as the model writes them) stops improving (``patience`` epochs), ``epochs`` or
``max_minutes``; the best epoch is kept. Tokens the model has never seen extend its vocabulary.
The run folder is a checkpoint (``--model DIR``, ``[run] model``, ``[campaign] model``) with
``finetune_report.json``: held-out NLL before and after, validity of samples, their nearest-
neighbour similarity to the set, and how many contain the set's scaffold and ring system.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from chemloop.chem.series import SeriesCore, morgan_fingerprints, nearest_neighbours
from chemloop.data.corpus import load_corpus
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import DEFAULT_PRIOR, LanguageModel
from chemloop.model.device import PRECISIONS, pick_device
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT
from chemloop.train.transfer import extend_vocabulary, fit, mean_nll, unknown_tokens

MIN_MOLECULES = 10
HELDOUT_SPELLINGS = 8  # random spellings of each held-out molecule its NLL is averaged over
HELDOUT_STRINGS = 8000  # strings an epoch at most: beyond 1,000 held out, fewer spellings (1 at least)
REPORT = "finetune_report.json"


class FinetuneConfig(BaseModel):
    """A fine-tuning run; saved as ``finetune_config.json`` in the run folder."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field(description="the molecules: a .smi/.csv/.sdf file, gzipped or not")
    column: str | None = Field(None, description="SMILES column of a CSV file")
    out: Path = Field(Path("runs/finetune"), description="run folder (a checkpoint when done)")
    model: str = Field(DEFAULT_PRIOR, description="the prior to start from: a shipped name or a folder")
    epochs: int = Field(30, ge=1, description="most epochs; early stopping usually ends sooner")
    # 10, not 5: ten held-out molecules make a noisy curve. On the benzoylpiperidine series of
    # bench/finetune_series.py the NLL paused for five epochs after epoch 17 and fell again to epoch
    # 30 (core in 64% of samples, not 50%); the other two series stopped at the same best epoch.
    patience: int = Field(10, ge=1, description="epochs without a better held-out NLL before stopping")
    max_minutes: float | None = Field(None, gt=0, description="stop after this wall time (best epoch kept)")
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="molecules held out for early stopping")
    # On 100 molecules of each of three ZINC-250k series, 1e-4 with patience 5 put 33-63% of samples
    # on the series' scaffold against 28-53% at 5e-5 with patience 3, at the same mean validity
    # (0.952; docs/benchmarks.md). 2e-4 eroded validity within epochs on the MOSES prior.
    lr: float = Field(1e-4, gt=0, description="learning rate (AdamW); larger rates erode validity")
    batch_size: int = Field(32, ge=1)
    randomize: bool | None = Field(
        None,
        description="a fresh random spelling of each molecule per epoch; unset: as the prior was trained "
        "(canonical spellings for a prior that never saw random ones)",
    )
    samples: int = Field(1000, ge=0, description="molecules sampled for the report (0: none)")
    seed: int = 0
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'")
    precision: Literal[PRECISIONS] = Field("auto", description="'bf16' autocast, 'fp32', or 'auto'")


def split(smiles: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Training and held-out molecules by a seeded shuffle (at least one held out)."""
    order = np.random.default_rng(seed).permutation(len(smiles))
    held = max(1, round(fraction * len(smiles)))
    return [smiles[i] for i in order[held:]], [smiles[i] for i in order[:held]]


def series_report(lm: LanguageModel, molecules: list[str], num: int, seed: int) -> dict[str, Any]:
    """Validity of ``num`` samples, their mean nearest-neighbour Tanimoto (ECFP4) to ``molecules``,
    and the fraction containing the molecules' most common scaffold and ring system."""
    if num == 0:
        return {}
    report = sample(lm, num, seed=seed, precision=FLOAT)
    valid = [m.canonical for m in report.molecules if m.valid]
    _, similarity = nearest_neighbours(morgan_fingerprints(valid), morgan_fingerprints(molecules))
    core = SeriesCore(molecules)
    fractions = core.fractions([m.canonical for m in report.molecules])  # invalid ones count as misses
    return {
        "samples": num,
        "validity": round(report.validity, 4),
        "uniqueness": round(report.uniqueness, 4),
        "nearest_neighbour_tanimoto": round(float(similarity.mean()), 4) if valid else None,
        "scaffold": core.scaffold,
        "with_scaffold": round(fractions["scaffold"], 4),
        "ring_system": core.ring_system,
        "with_ring_system": round(fractions["ring_system"], 4),
    }


def finetune(config: FinetuneConfig, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Fine-tune ``config.model`` on ``config.data``; write the checkpoint and the report to
    ``config.out`` and return the report."""
    start = time.perf_counter()
    out = Path(config.out)
    if (out / checkpoint.WEIGHTS).exists():
        raise ChemloopError(f"{out} already holds a model; choose another --out")
    corpus = load_corpus(config.data, column=config.column, standardize=True)
    if len(corpus) < MIN_MOLECULES:
        raise ChemloopError(
            f"{corpus.source}: {len(corpus)} molecule(s); fine-tuning needs at least {MIN_MOLECULES}"
        )
    prior = checkpoint.load(config.model, pick_device(config.device))
    added = unknown_tokens(prior.tokenizer, corpus.smiles)
    base = extend_vocabulary(prior, added)
    randomize = prior.writes_random_spellings if config.randomize is None else config.randomize
    train, held_out = split(corpus.smiles, config.val_fraction, config.seed)
    # The model learns, and writes, random spellings: judge it on them too. On the benzylpiperidinium
    # series the canonical spellings' NLL turned at epoch 8; that of random spellings kept falling to
    # epoch 16, with 50% of samples on the core against 33% (docs/benchmarks.md, fine-tuning).
    spellings = min(HELDOUT_SPELLINGS, max(1, HELDOUT_STRINGS // len(held_out))) if randomize else 0
    before = mean_nll(base, held_out, config.precision, spellings)
    best: dict[str, Any] = {"nll": before, "epoch": 0, "model": base}
    history: list[dict[str, float]] = []

    def after_epoch(epoch: int, lm: LanguageModel) -> bool:
        nll = mean_nll(lm, held_out, config.precision, spellings)
        history.append({"epoch": epoch, "heldout_nll": round(nll, 4)})
        if nll < best["nll"]:
            best.update(
                nll=nll,
                epoch=epoch,
                model=LanguageModel(copy.deepcopy(lm.model), lm.tokenizer, dict(lm.metadata)),
            )
        if progress is not None:
            progress(
                {"epoch": epoch, "epochs": config.epochs, "heldout_nll": nll, "best_epoch": best["epoch"]}
            )
        out_of_time = config.max_minutes is not None and time.perf_counter() - start > 60 * config.max_minutes
        return out_of_time or epoch - best["epoch"] >= config.patience

    fit(
        base,
        train,
        epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        randomize=randomize,
        seed=config.seed,
        precision=config.precision,
        after_epoch=after_epoch,
    )
    tuned: LanguageModel = best["model"]
    trained_s = time.perf_counter() - start
    report = {
        "data": corpus.source,
        "base_model": config.model,
        "molecules": len(corpus),
        "train_molecules": len(train),
        "heldout_molecules": len(held_out),
        "added_tokens": added,
        "randomized_spellings": randomize,
        "heldout_nll_spellings": f"{spellings} random each" if spellings else "canonical",
        "heldout_nll_before": round(before, 4),
        "heldout_nll_after": round(best["nll"], 4),
        "best_epoch": best["epoch"],
        "epochs_run": len(history),
        "history": history,
        "train_seconds": round(trained_s, 1),
        "before": series_report(base, corpus.smiles, config.samples, config.seed),
        "after": series_report(tuned, corpus.smiles, config.samples, config.seed),
    }
    report["seconds"] = round(time.perf_counter() - start, 1)
    metadata = {**tuned.metadata, "finetuned_on": corpus.source, "finetune": {k: report[k] for k in _KEPT}}
    checkpoint.save(out, tuned.model, tuned.tokenizer, metadata)
    (out / "finetune_config.json").write_text(config.model_dump_json(indent=2))
    (out / REPORT).write_text(json.dumps(report, indent=2))
    return report


_KEPT = ("base_model", "molecules", "added_tokens", "heldout_nll_before", "heldout_nll_after", "best_epoch")
