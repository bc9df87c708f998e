"""Feedback for reward models, read from CSV or SD files: measured values, pairwise preferences, ratings.

- values: ``smiles,value[,std]`` (``std`` > 0 when the column is present: the measurement's
  standard deviation, used to weight the row by 1/std²);
- preferences: ``smiles_a,smiles_b,preferred`` with ``preferred`` ``a`` or ``b``;
- ratings: ``smiles,rating`` with whole-number ratings from 1 to 5.

Column names are matched without regard to case or surrounding spaces; other columns are
ignored. Molecules are canonicalized. Every bad row is collected and reported in one
:class:`FeedbackError` naming the file, the row (numbered as in a spreadsheet: the header is
row 1) and the offending value, so a user fixes the file in one pass.

An SD file (``.sdf``, ``.sd``) reads as a table whose ``smiles`` column is each record's molecule
and whose other columns are its data items (and ``name``, its title line, unless an item has
that name): record k is row k + 1.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from chemloop.chem.sdf import read_sd_records
from chemloop.chem.user_input import WITHHELD_PROBLEM, user_smiles_problem, value_problem
from chemloop.errors import ChemloopError

FeedbackKind = Literal["values", "preferences", "ratings"]
FEEDBACK_KINDS: tuple[str, ...] = ("values", "preferences", "ratings")
MAX_REPORTED = 10  # bad rows named in one error message
SD_SUFFIXES = (".sdf", ".sd")


class FeedbackError(ChemloopError, ValueError):
    """A feedback file that is missing, empty, lacks a column or holds bad rows.

    ``problems`` lists every bad row as ``(row number, message)``, for a page that shows them all.
    """

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class ValueData:
    """Measured values (e.g. an assay's pIC50), optionally with each measurement's std."""

    smiles: list[str]
    values: np.ndarray
    std: np.ndarray | None = None
    source: str = ""
    kind: str = "values"

    def __len__(self) -> int:
        return len(self.smiles)

    def subset(self, rows: np.ndarray) -> ValueData:
        std = None if self.std is None else self.std[rows]
        return ValueData([self.smiles[i] for i in rows], self.values[rows], std, self.source)


@dataclass
class PreferenceData:
    """Pairs of molecules with the one a chemist preferred (``"a"`` or ``"b"``)."""

    smiles_a: list[str]
    smiles_b: list[str]
    preferred: list[str]
    source: str = ""
    kind: str = "preferences"
    weights: list[float] | None = None  # per pair, e.g. an AI judge's pairs below a chemist's; None: all 1

    def __len__(self) -> int:
        return len(self.preferred)

    @property
    def winners(self) -> list[str]:
        return [a if p == "a" else b for a, b, p in self._pairs()]

    @property
    def losers(self) -> list[str]:
        return [b if p == "a" else a for a, b, p in self._pairs()]

    def _pairs(self):
        return zip(self.smiles_a, self.smiles_b, self.preferred, strict=True)

    def subset(self, rows: np.ndarray) -> PreferenceData:
        pick = [int(i) for i in rows]
        return PreferenceData(
            [self.smiles_a[i] for i in pick],
            [self.smiles_b[i] for i in pick],
            [self.preferred[i] for i in pick],
            self.source,
            weights=None if self.weights is None else [self.weights[i] for i in pick],
        )


@dataclass
class RatingData:
    """Chemists' ratings from 1 (poor) to 5 (excellent)."""

    smiles: list[str]
    ratings: np.ndarray
    source: str = ""
    kind: str = "ratings"

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def values(self) -> np.ndarray:
        """Ratings as floats: a rating model regresses on them (see :mod:`chemloop.reward.model`)."""
        return self.ratings.astype(np.float64)

    def subset(self, rows: np.ndarray) -> RatingData:
        return RatingData([self.smiles[i] for i in rows], self.ratings[rows], self.source)


Feedback = ValueData | PreferenceData | RatingData


def read_feedback(path: str | Path, kind: str) -> Feedback:
    """Read a feedback CSV of ``kind`` (``values``, ``preferences`` or ``ratings``)."""
    readers: dict[str, Callable[[Path], Feedback]] = {
        "values": read_values,
        "preferences": read_preferences,
        "ratings": read_ratings,
    }
    if kind not in readers:
        raise FeedbackError(f"unknown feedback kind {kind!r}; choose one of: {', '.join(FEEDBACK_KINDS)}")
    return readers[kind](Path(path))


@dataclass
class CsvTable:
    """Feedback as the readers take it: a header and data lines of text cells, and the name errors
    give it (a file's path, an upload's name as its client gave it, ``seed`` for rows of a request)."""

    source: str
    header: list[str] | None
    lines: list[list[str]]
    sha256: str = ""  # of the bytes it was read from, when it was read from bytes
    # Rows that hold no molecule to read, and why (an SD record whose block RDKit cannot read).
    unreadable: dict[int, str] = field(default_factory=dict)

    @property
    def columns(self) -> set[str]:
        return {c.strip().lower() for c in self.header or []}


def read_table(data: bytes, source: str) -> CsvTable:
    """The table of a feedback file's bytes: an SD file's records where ``source`` (its name) ends
    in ``.sdf`` or ``.sd``, else CSV."""
    if Path(source).suffix.lower() in SD_SUFFIXES:
        return sd_table(data, source)
    return csv_table(data, source)


def _text(data: bytes, source: str, save_as: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FeedbackError(f"{source} is not UTF-8 text (byte {err.start}); save it as {save_as}") from None


def csv_table(data: bytes, source: str) -> CsvTable:
    """The table of a CSV file's bytes (UTF-8, with or without a spreadsheet's BOM)."""
    lines = list(csv.reader(_text(data, source, "'CSV UTF-8'").splitlines()))
    return CsvTable(source, lines[0] if lines else None, lines[1:], hashlib.sha256(data).hexdigest())


def sd_table(data: bytes, source: str) -> CsvTable:
    """The table of an SD file's bytes: ``smiles`` (the record's molecule), its data items, and
    ``name`` (the title line). A record RDKit cannot read keeps its row (blank cells), which the
    readers report as a bad row, by number, saying why."""
    records = read_sd_records(_text(data, source, "an SD file in UTF-8"))
    if not records:
        raise FeedbackError(f"{source} holds no SD records (molecule blocks, each ending in $$$$)")
    # The molecule block is the structure: an item that claims to be its SMILES is left out.
    keys = [k for k in dict.fromkeys(k for r in records for k in r.items) if k.strip().lower() != "smiles"]
    titled = any(r.title for r in records) and all(k.strip().lower() != "name" for k in keys)
    header = ["smiles", *keys, *(["name"] if titled else [])]
    lines = [
        [r.smiles or "", *(r.items.get(k, "") for k in keys), *([r.title] if titled else [])] for r in records
    ]
    unreadable = {n + 1: f"record {n}: {r.problem}" for n, r in enumerate(records, 1) if r.smiles is None}
    return CsvTable(source, header, lines, hashlib.sha256(data).hexdigest(), unreadable)


def feedback_file(path: str | Path) -> CsvTable:
    """The table of a feedback file on disk, CSV or SD (:func:`read_table`)."""
    path = Path(path)
    if not path.is_file():
        raise FeedbackError(f"feedback file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise FeedbackError(f"cannot read feedback file {path}: {err}") from None
    return read_table(data, str(path))


def _table(source: str | Path | CsvTable) -> CsvTable:
    return source if isinstance(source, CsvTable) else feedback_file(source)


def read_values(source: str | Path | CsvTable) -> ValueData:
    """Values from a CSV file's path or a :class:`CsvTable`."""
    table = _Table(_table(source), required=("smiles", "value"), optional=("std",))
    smiles, values, stds = [], [], []
    for row, cells in table.rows():
        mol = table.molecule(row, "smiles", cells["smiles"])
        value = table.number(row, "value", cells["value"])
        std = table.number(row, "std", cells["std"], positive=True) if "std" in cells else 1.0
        if None not in (mol, value, std):
            smiles.append(mol)
            values.append(value)
            stds.append(std)
    table.finish()
    has_std = "std" in table.columns
    return ValueData(smiles, np.array(values), np.array(stds) if has_std else None, table.source)


@dataclass
class MeasuredValues:
    """A campaign's assay results: exact values and censored ones (``<5``, ``>=10``), each row with
    its qualifier ("" for an exact value). Not a reward model's data: bounds are no values (see
    ``chemloop.loop.assay`` for how a campaign uses them)."""

    smiles: list[str]
    values: list[float]
    std: list[float | None]
    qualifiers: list[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.smiles)


# A qualifier before a number, as a chemist writes it; ≤, ≥, =< and => are read as <= and >=.
_QUALIFIED = re.compile(r"^(<=|>=|=<|=>|≤|≥|<|>)\s*(.*)$")
_SPELLINGS = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">="}


def split_qualifier(text: str) -> tuple[str, str]:
    """``("<", "5")`` for ``"<5"``, ``("", "5.2")`` for ``"5.2"``: the qualifier (``<``, ``<=``,
    ``>`` or ``>=``) and the number's text."""
    match = _QUALIFIED.match(text.strip())
    if match is None:
        return "", text
    qualifier, number = match.groups()
    return _SPELLINGS.get(qualifier, qualifier), number.strip()


def read_measured_values(source: str | Path | CsvTable) -> MeasuredValues:
    """Values from ``smiles,value[,std]`` where a value may be censored (``<5``, ``>= 10``)."""
    table = _Table(_table(source), required=("smiles", "value"), optional=("std",))
    found = MeasuredValues([], [], [], [], table.source)
    for row, cells in table.rows():
        mol = table.molecule(row, "smiles", cells["smiles"])
        qualifier, number = split_qualifier(cells["value"])
        value = table.number(row, "value", number, shown=cells["value"])
        std = table.number(row, "std", cells["std"], positive=True) if cells.get("std") else None
        if mol is not None and value is not None and (std is not None or not cells.get("std")):
            found.smiles.append(mol)
            found.values.append(value)
            found.std.append(std)
            found.qualifiers.append(qualifier)
    table.finish()
    return found


def read_preferences(source: str | Path | CsvTable) -> PreferenceData:
    table = _Table(_table(source), required=("smiles_a", "smiles_b", "preferred"))
    first, second, preferred = [], [], []
    for row, cells in table.rows():
        a = table.molecule(row, "smiles_a", cells["smiles_a"])
        b = table.molecule(row, "smiles_b", cells["smiles_b"])
        choice = cells["preferred"].strip().lower()
        if choice not in ("a", "b"):
            table.error(row, f"preferred must be 'a' or 'b', not {cells['preferred']!r}")
            continue
        if a is not None and a == b:
            table.error(row, f"smiles_a and smiles_b are the same molecule ({a!r})")
            continue
        if a is not None and b is not None:
            first.append(a)
            second.append(b)
            preferred.append(choice)
    table.finish()
    return PreferenceData(first, second, preferred, table.source)


def read_ratings(source: str | Path | CsvTable) -> RatingData:
    table = _Table(_table(source), required=("smiles", "rating"))
    smiles, ratings = [], []
    for row, cells in table.rows():
        mol = table.molecule(row, "smiles", cells["smiles"])
        rating = table.number(row, "rating", cells["rating"])
        if rating is not None and (rating != int(rating) or not 1 <= rating <= 5):
            table.error(row, f"rating {cells['rating']!r} is not a whole number from 1 to 5")
            continue
        if mol is not None and rating is not None:
            smiles.append(mol)
            ratings.append(int(rating))
    table.finish()
    return RatingData(smiles, np.array(ratings, dtype=np.int64), table.source)


class _Table:
    """A feedback table read row by row, collecting every bad row before raising one error."""

    def __init__(self, table: CsvTable, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        self.source = table.source
        self.errors: list[tuple[int, str]] = []
        self.count = 0
        self._lines = table.lines
        self._unreadable = table.unreadable
        header = table.header
        if not header or not any(h.strip() for h in header):
            raise FeedbackError(f"{self.source} is empty: expected a header row with {', '.join(required)}")
        names = [h.strip().lower() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise FeedbackError(
                f"{self.source} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"its columns are: {', '.join(h.strip() for h in header)}"
            )
        self.columns = {c: names.index(c) for c in (*required, *optional) if c in names}

    def rows(self):
        """(spreadsheet row number, {column: cell}) for every non-blank data row."""
        for number, line in enumerate(self._lines, start=2):
            if number in self._unreadable:
                self.count += 1
                self.error(number, self._unreadable[number])
                continue
            if not any(cell.strip() for cell in line):
                continue
            self.count += 1
            yield number, {c: (line[i].strip() if i < len(line) else "") for c, i in self.columns.items()}

    def error(self, row: int, message: str) -> None:
        self.errors.append((row, message))

    def molecule(self, row: int, column: str, text: str) -> str | None:
        canonical, problem = user_smiles_problem(text)
        if problem == WITHHELD_PROBLEM:  # named by its row only: the molecule is not repeated back
            self.error(row, f"{column} {problem}")
        elif problem is not None:
            self.error(row, f"{column} {_shown(text)} {problem}")
        return canonical

    def number(
        self, row: int, column: str, text: str, positive: bool = False, shown: str | None = None
    ) -> float | None:
        """``text`` as a number, or None with the row's error (quoting ``shown``, the cell as written)."""
        shown = text if shown is None else shown
        try:
            value = float(text)
        except ValueError:
            self.error(row, f"{column} {_shown(shown)} is not a number")
            return None
        problem = value_problem(value)
        if problem is not None:
            self.error(row, f"{column} {_shown(shown)} {problem}")
            return None
        if positive and value <= 0:
            self.error(row, f"{column} {text!r} must be greater than 0")
            return None
        return value

    def finish(self) -> None:
        if self.errors:
            shown = "; ".join(f"row {row}: {message}" for row, message in self.errors[:MAX_REPORTED])
            more = f"; and {len(self.errors) - MAX_REPORTED} more" if len(self.errors) > MAX_REPORTED else ""
            bad = len({row for row, _ in self.errors})
            raise FeedbackError(
                f"{self.source}: {bad} bad row(s) of {self.count}: {shown}{more}", problems=self.errors
            )
        if self.count == 0:
            raise FeedbackError(f"{self.source} has a header but no data rows")


def _shown(text: str, limit: int = 60) -> str:
    """A cell as an error message quotes it: cut short, so a 20,000-character cell stays readable."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
