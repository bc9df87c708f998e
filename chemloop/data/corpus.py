"""Corpora of SMILES: the MOSES data set shipped in ``molsets``, and users' own files.

User files are ``.smi`` (one SMILES per line, first whitespace-separated field), ``.csv``
(a ``smiles`` column, or the one named) or ``.sdf``, each optionally gzipped. Each row is
checked with RDKit; a bad row is an error naming its line, unless the caller asks to skip
bad rows. ``standardize`` keeps each molecule's largest fragment (salts and solvents go),
writes it as canonical SMILES with its stereo marks and charges, and drops duplicates.
A held-out split is fixed by a seeded hash of the canonical SMILES, so it does not move
when the file is reordered, grows, or is read on another machine.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from chemloop.chem.mol import try_mol
from chemloop.errors import ChemloopError

MOSES_SPLITS = ("train", "test", "test_scaffolds")
SMILES_SUFFIXES = (".smi", ".smiles", ".txt")  # a SMILES per line (and an optional name)


class CorpusError(ChemloopError, ValueError):
    """A corpus file that is missing, empty, malformed or holds invalid molecules."""


@dataclass
class Corpus:
    """SMILES strings read from one source, with the rows that were skipped and why."""

    smiles: list[str]
    source: str
    skipped: list[str] = field(default_factory=list)
    duplicates: int = 0  # rows dropped by ``standardize`` as repeats of an earlier molecule

    def __len__(self) -> int:
        return len(self.smiles)


def moses_data_dir() -> Path:
    """The data folder of the installed ``molsets`` package (found without importing it)."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("the MOSES data set is not installed: run `pip install --no-deps molsets`")
    return Path(next(iter(spec.submodule_search_locations))) / "dataset" / "data"


def load_moses(split: str = "train") -> list[str]:
    """The SMILES of one MOSES split: ``train`` (1.58M), ``test`` or ``test_scaffolds``."""
    if split not in MOSES_SPLITS:
        raise CorpusError(f"unknown MOSES split {split!r}; choose one of {', '.join(MOSES_SPLITS)}")
    path = moses_data_dir() / f"{split}.csv.gz"
    import pandas as pd  # pandas reads the gzipped CSV ~10x faster than the csv module

    return pd.read_csv(path)["SMILES"].tolist()


def load_corpus(
    source: str | Path,
    *,
    column: str | None = None,
    skip_invalid: bool = False,
    canonicalize: bool = False,
    standardize: bool = False,
    rows_sample: int | None = None,
    sample_seed: int = 0,
) -> Corpus:
    """Read SMILES from ``"moses"`` / ``"moses:test"`` or from a ``.smi``, ``.csv``, ``.sdf`` file.

    Rows that RDKit cannot parse raise :class:`CorpusError` naming the first few, unless
    ``skip_invalid``; then they are listed in ``Corpus.skipped``. MOSES rows are trusted
    (the set is curated), which saves parsing 1.6M molecules at start-up. ``standardize``
    (see the module docstring) implies ``canonicalize``. ``rows_sample`` reads only that many
    rows, drawn with ``sample_seed`` before any parsing (a calibration set from a large corpus).
    """
    text = str(source)
    if text == "moses" or text.startswith("moses:"):
        split = text.partition(":")[2] or "train"
        return Corpus(_subsample(load_moses(split), rows_sample, sample_seed), source=f"MOSES {split}")
    path = Path(source)
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    rows = _subsample(_read_rows(path, column), rows_sample, sample_seed)
    if not rows:
        raise CorpusError(f"{path} holds no SMILES")
    smiles, skipped, seen, duplicates = [], [], set(), 0
    largest_fragment = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
    for where, s in rows:
        mol = try_mol(s)
        if mol is None:
            skipped.append(f"{where}: {s!r}")
        elif standardize:
            text = Chem.MolToSmiles(largest_fragment.choose(mol))
            if text in seen:
                duplicates += 1
            else:
                seen.add(text)
                smiles.append(text)
        else:
            smiles.append(Chem.MolToSmiles(mol) if canonicalize else s)
    if skipped and not skip_invalid:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        raise CorpusError(
            f"{path}: {len(skipped)} of {len(rows)} rows are not valid SMILES ({shown}). "
            "Fix them, or skip them with --skip-invalid."
        )
    if not smiles:
        raise CorpusError(f"{path}: none of its {len(rows)} rows is a valid molecule")
    return Corpus(smiles, source=str(path), skipped=skipped, duplicates=duplicates)


def _subsample(rows: list, size: int | None, seed: int) -> list:
    return rows if size is None or size >= len(rows) else random.Random(seed).sample(rows, size)


def is_held_out(smiles: str, fraction: float, seed: int = 0) -> bool:
    """Whether a molecule belongs to the held-out split: a seeded hash of its SMILES below
    ``fraction``. Pass canonical SMILES so that every spelling of a molecule lands alike."""
    digest = hashlib.sha256(f"{seed}:{smiles}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def open_text(path: Path, mode: str = "r") -> TextIO:
    """A text file to read (``r``) or write (``w``), through gzip where its name ends in ``.gz``."""
    return gzip.open(path, mode + "t", newline="") if is_gzipped(path) else path.open(mode, newline="")


def is_gzipped(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def format_suffix(path: Path) -> str:
    """The extension that names a file's format, in lower case: the one before a final ``.gz``, if any."""
    return Path(path.name.lower().removesuffix(".gz")).suffix


def _read_rows(path: Path, column: str | None) -> list[tuple[str, str]]:
    """(location, SMILES) pairs of a file, by its extension (before a final ``.gz``)."""
    suffix = format_suffix(path)
    if suffix in (".csv", ".tsv"):
        return _read_table(path, column, delimiter="\t" if suffix == ".tsv" else ",")
    if suffix == ".sdf":
        return _read_sdf(path)
    if suffix in SMILES_SUFFIXES:
        if column is not None:
            raise CorpusError(f"{path}: a .smi file has no columns; drop the column option")
        return _read_smi(path)
    raise CorpusError(
        f"{path}: unknown corpus format {suffix!r} (use .smi, .csv, .tsv or .sdf, gzipped or not)"
    )


def _read_smi(path: Path) -> list[tuple[str, str]]:
    rows = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if number == 1 and fields[0].lower() == "smiles":  # a header line
                continue
            rows.append((f"line {number}", fields[0]))
    return rows


def _read_table(path: Path, column: str | None, delimiter: str) -> list[tuple[str, str]]:
    with open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        if not header:
            raise CorpusError(f"{path} is empty: no header row")
        wanted = column or next((h for h in header if h.strip().lower() == "smiles"), None)
        if wanted is None or wanted not in header:
            label = f"column {column!r}" if column else "'smiles' column"
            raise CorpusError(f"{path} has no {label}; its columns are: {', '.join(header)}")
        # line numbers count the header as line 1
        return [(f"line {n}", (row[wanted] or "").strip()) for n, row in enumerate(reader, start=2)]


def _read_sdf(path: Path) -> list[tuple[str, str]]:
    rows = []
    with gzip.open(path) if is_gzipped(path) else path.open("rb") as handle:
        for number, mol in enumerate(Chem.ForwardSDMolSupplier(handle), start=1):
            rows.append((f"record {number}", Chem.MolToSmiles(mol) if mol is not None else ""))
    return rows
