"""A pretraining run's corpus, split into training and held-out molecules, kept in the run folder.

Reading and standardizing a corpus takes minutes (ZINC-250k: about five on one core), and a long
run is resumed many times. The split is written once beside the checkpoint (``train.smi``,
``heldout.smi``) with a record of the file and options it came from (``split.json``); a resumed
run reads it back when that record still matches, and splits the corpus again when it does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chemloop.data.corpus import Corpus, is_held_out, load_corpus
from chemloop.errors import ChemloopError

if TYPE_CHECKING:
    from chemloop.train.pretrain import PretrainConfig

TRAIN_FILE, HELDOUT_FILE, RECORD_FILE = "train.smi", "heldout.smi", "split.json"


def split_corpus(
    config: PretrainConfig, run_folder: Path | None = None
) -> tuple[list[str], list[str], Corpus]:
    """Training and held-out molecules of ``config.data`` (a seeded hash decides, so every rank and
    every resume agrees), read from ``run_folder`` where it holds this corpus' split."""
    if run_folder is not None and holds_split(run_folder, config):
        saved = json.loads((run_folder / RECORD_FILE).read_text())
        train, heldout = (_read(run_folder / name) for name in (TRAIN_FILE, HELDOUT_FILE))
        return train, heldout, Corpus(train + heldout, source=saved["source"], duplicates=saved["duplicates"])
    corpus = load_corpus(
        config.data, column=config.column, skip_invalid=config.skip_invalid, standardize=config.standardize
    )
    held = np.array([is_held_out(s, config.holdout_fraction, config.seed) for s in corpus.smiles])
    if not held.any():  # a tiny corpus: hold out one molecule rather than none
        held[0] = True
    if held.all():
        raise ChemloopError(f"{corpus.source}: too few molecules ({len(corpus)}) to hold some out and train")
    heldout = [s for s, h in zip(corpus.smiles, held, strict=True) if h]
    train = [s for s, h in zip(corpus.smiles, held, strict=True) if not h]
    return train, heldout, corpus


def save_split(
    run_folder: Path, config: PretrainConfig, train: list[str], heldout: list[str], corpus: Corpus
) -> None:
    """Write the split and the record of where it came from into ``run_folder``."""
    for name, smiles in ((TRAIN_FILE, train), (HELDOUT_FILE, heldout)):
        (run_folder / name).write_text("\n".join(smiles) + "\n")
    record = {**_record(config), "source": corpus.source, "duplicates": corpus.duplicates}
    (run_folder / RECORD_FILE).write_text(json.dumps(record, indent=2))


def _record(config: PretrainConfig) -> dict:
    """What the split depends on: the file as it is now and the options that read and split it."""
    record = {
        "data": str(config.data),
        "options": [config.column, config.skip_invalid, config.standardize]
        + [config.holdout_fraction, config.seed],
    }
    path = Path(config.data)
    if path.is_file():
        stat = path.stat()
        record["file"] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    return record


def holds_split(run_folder: Path, config: PretrainConfig) -> bool:
    """Whether ``run_folder`` holds the split of ``config``'s corpus file as it is now."""
    if not all((run_folder / name).is_file() for name in (TRAIN_FILE, HELDOUT_FILE, RECORD_FILE)):
        return False
    saved = json.loads((run_folder / RECORD_FILE).read_text())
    record = _record(config)
    return {k: saved.get(k) for k in record} == record


def _read(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]
