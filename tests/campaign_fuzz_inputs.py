"""What the campaign-flow fuzz (test_campaign_fuzz.py) sends: a pool of molecules, good and bad
values, results files and seed rows as Hypothesis strategies, each with what it should store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

KEY = "campaign-fuzz-key-0123"
AUTH = {"X-API-Key": KEY}
MAX_BODY_BYTES = 20_000


def body_json(body: Any) -> dict[str, Any]:
    """A JSON request body as sent, NaN allowed (httpx's own encoder refuses it)."""
    return {"content": json.dumps(body), "headers": {**AUTH, "content-type": "application/json"}}


# Small enough that every refit takes a fraction of a second.
SMALL_REWARD = {"ensemble": 2, "hidden": 16, "epochs": 5, "cv_folds": 0}

# --- molecules, values and results files ------------------------------------------------------

# (spelling, molecule): several spellings of one molecule must count as one molecule.
POOL = [
    ("CC(=O)Nc1ccc(O)cc1", 0),
    ("c1cc(O)ccc1NC(C)=O", 0),
    ("CC(C)Cc1ccc(C(C)C(=O)O)cc1", 1),
    ("CC(=O)Oc1ccccc1C(=O)O", 2),
    ("OC(=O)c1ccccc1OC(C)=O", 2),
    ("Cn1cnc2c1c(=O)n(C)c(=O)n2C", 3),
    ("CN1C=NC2=C1C(=O)N(C)C(=O)N2C", 3),
    ("CN(C)CCCN1c2ccccc2CCc2ccccc21", 4),
    ("CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21", 5),
    ("CC(C)NCC(O)COc1cccc2ccccc12", 6),
    ("c1ccc2ccccc2c1", 7),
    ("C1=CC=C2C=CC=CC2=C1", 7),
    ("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", 8),
    ("O=C(O)c1ccccc1O", 9),
    ("CN1CCC[C@H]1c1cccnc1", 10),
    ("CN1CCC[C@@H]1c1cccnc1", 11),  # the other enantiomer: another molecule
    ("NC(=O)c1cccnc1", 12),
    ("CCN(CC)C(=O)c1cccc(C)c1", 13),
    ("COc1ccc(CCN)cc1", 14),
]
# Refused as a molecule: unparsable, two words, non-ASCII, empty, bad valence.
BAD_SMILES = ["C1CC", "CC(=O)O c1ccccc1", "CCOÖ", "", "c1ccccc", "C(C)(C)(C)(C)C", "X"]
# (cell, value, qualifier as stored): what a results file may say, and what it means.
GOOD_VALUES = [
    ("5.2", 5.2, None),
    ("7", 7.0, None),
    ("-1.5", -1.5, None),
    (" 6.25 ", 6.25, None),
    ("1e3", 1000.0, None),
    ("1e6", 1e6, None),
    ("<5", 5.0, "<"),
    (">= 8", 8.0, ">="),
    ("≤3", 3.0, "<="),
    ("=>2", 2.0, ">="),
]
BAD_VALUES = ["1e300", "NaN", "nan", "inf", "-inf", "", "abc", "<", "1000001", "5..2", "<NaN"]
GOOD_STDS = [("0.5", 0.5), ("", None), ("2", 2.0)]
BAD_STDS = ["0", "-1", "abc", "1e300"]
GOOD_RATINGS = [("1", 1), ("3", 3), ("5", 5), ("4.0", 4)]
BAD_RATINGS = ["0", "6", "2.5", "-3", "", "five", "NaN"]
GOOD_CHOICES = [("a", "a"), ("b", "b"), ("A", "a"), (" b ", "b")]
BAD_CHOICES = ["c", "", "ab", "1"]

good_molecule = st.sampled_from(POOL)
bad_molecule = st.sampled_from(BAD_SMILES)
good_smiles = good_molecule.map(lambda p: p[0])
any_smiles = st.one_of(good_smiles, bad_molecule)


@dataclass
class Upload:
    """A results file and what a correct server makes of it."""

    body: bytes
    kind: str | None  # values, preferences or ratings; None: not a results file at all
    good: list[tuple] = field(default_factory=list)  # each good row as the model keys it
    bad: int = 0  # rows with at least one problem
    no_result: int = 0  # rows whose result cells are blank: left out, not bad
    order: list[str] = field(default_factory=list)  # the columns, in the header's order
    newline: str = "\n"
    describe: str = ""

    @property
    def readable(self) -> bool:
        return self.kind is not None

    @property
    def molecules(self) -> set[int]:
        return {row[0] for row in self.good} if self.kind == "values" else set()

    @property
    def digest(self) -> tuple:
        """Equal for the same parsed results, whatever their spelling, order or line endings."""
        return (self.kind, tuple(sorted(map(repr, self.good))))


def _faulty(draw: st.DrawFn, hostile: bool, odds: int = 8) -> bool:
    """Whether to spoil this cell (one time in ``odds``, and only in a hostile file)."""
    return hostile and draw(st.integers(1, odds)) == 1


def _molecule_cell(draw: st.DrawFn, hostile: bool) -> tuple[str, int | None]:
    """A SMILES cell and its molecule in the pool (None: a SMILES that must be refused)."""
    if _faulty(draw, hostile):
        return draw(bad_molecule), None
    return draw(good_molecule)


def _value_row(draw: st.DrawFn, hostile: bool, with_std: bool) -> tuple[dict[str, str], tuple | None]:
    """Cells of one ``smiles,value[,std]`` row and its model key (None: a bad row)."""
    smiles, molecule = _molecule_cell(draw, hostile)
    good = molecule is not None
    if _faulty(draw, hostile):
        cell, value, qualifier, good = draw(st.sampled_from(BAD_VALUES)), None, None, False
    else:
        cell, value, qualifier = draw(st.sampled_from(GOOD_VALUES))
    cells = {"smiles": smiles, "value": cell}
    std = None
    if with_std:
        if _faulty(draw, hostile):
            cells["std"], good = draw(st.sampled_from(BAD_STDS)), False
        else:
            cells["std"], std = draw(st.sampled_from(GOOD_STDS))
    return cells, ((molecule, value, std, qualifier) if good else None)


def _preference_row(draw: st.DrawFn, hostile: bool) -> tuple[dict[str, str], tuple | None]:
    pair = [_molecule_cell(draw, hostile) for _ in range(2)]
    good = all(molecule is not None for _, molecule in pair)
    if _faulty(draw, hostile, 6):  # the same molecule twice, perhaps spelled differently
        same = [s for s, m in POOL if m == pair[0][1]] or [pair[0][0]]
        pair[1] = (draw(st.sampled_from(same)), pair[0][1])
    if pair[0][1] is not None and pair[0][1] == pair[1][1]:
        good = False  # also where a clean file drew one molecule twice: a bad row all the same
    if _faulty(draw, hostile):
        cell, choice, good = draw(st.sampled_from(BAD_CHOICES)), None, False
    else:
        cell, choice = draw(st.sampled_from(GOOD_CHOICES))
    cells = {"smiles_a": pair[0][0], "smiles_b": pair[1][0], "preferred": cell}
    return cells, ((pair[0][1], pair[1][1], choice) if good else None)


def _rating_row(draw: st.DrawFn, hostile: bool) -> tuple[dict[str, str], tuple | None]:
    smiles, molecule = _molecule_cell(draw, hostile)
    good = molecule is not None
    if _faulty(draw, hostile):
        cell, rating, good = draw(st.sampled_from(BAD_RATINGS)), None, False
    else:
        cell, rating = draw(st.sampled_from(GOOD_RATINGS))
    return {"smiles": smiles, "rating": cell}, ((molecule, rating) if good else None)


# The cells holding a row's result: a row with all of them blank holds none yet (left out, not bad).
RESULT_CELLS = {"values": ("value", "std"), "preferences": ("preferred",), "ratings": ("rating",)}


def _no_result(kind: str | None, order: list[str], row: list[str]) -> bool:
    """Whether a row of a ``kind`` file (its cells in ``order``, the last perhaps missing) holds a
    molecule or other cells but no result."""
    cells = dict(zip(order, row, strict=False))
    filled = any(cell.strip() for cell in row)
    return kind is not None and filled and not any(cells.get(c, "").strip() for c in RESULT_CELLS[kind])


# header, kind, the row's cells in the header's order
VALUE_HEADERS = [
    ("smiles,value", ["smiles", "value"]),
    ("SMILES,Value", ["smiles", "value"]),
    ("value,smiles", ["value", "smiles"]),
    ("Canonical_Smiles,pIC50", ["smiles", "value"]),
    ("smiles,value,std", ["smiles", "value", "std"]),
]
WRONG_HEADERS = ["molecule,score", "smiles", "smiles_a,preferred", "foo"]


@st.composite
def uploads(draw: st.DrawFn, hostile: bool = True, shape: str | None = None) -> Upload:
    """A results file of values, preferences or ratings; a ``hostile`` one may have bad rows, a wrong
    header, no rows, missing cells or bytes that are not UTF-8. Either kind may repeat a row."""
    shapes = ["values", "preferences", "ratings"] + (["wrong header", "no rows"] if hostile else [])
    shape = shape or draw(st.sampled_from(shapes))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    kind: str | None = shape
    if shape == "values":
        header, order = draw(st.sampled_from(VALUE_HEADERS))
        drawn = [_value_row(draw, hostile, "std" in order) for _ in range(draw(st.integers(1, 6)))]
    elif shape == "preferences":
        header, order = "smiles_a,smiles_b,preferred", ["smiles_a", "smiles_b", "preferred"]
        drawn = [_preference_row(draw, hostile) for _ in range(draw(st.integers(1, 4)))]
    elif shape == "ratings":
        header, order = draw(st.sampled_from(["smiles,rating", "Smiles,Rating"])), ["smiles", "rating"]
        drawn = [_rating_row(draw, hostile) for _ in range(draw(st.integers(1, 4)))]
    elif shape == "wrong header":
        header, order, kind = draw(st.sampled_from(WRONG_HEADERS)), ["smiles", "value"], None
        drawn = [_value_row(draw, hostile, False) for _ in range(draw(st.integers(1, 3)))]
    else:  # a header and nothing else, or nothing at all
        header, order, kind, drawn = draw(st.sampled_from(["smiles,value", ""])), [], None, []
    if drawn and draw(st.booleans()):
        drawn.append(drawn[0])  # a duplicated row
    lines, keys = [header], []
    for cells, key in drawn:
        row = [cells[c] for c in order]
        if _faulty(draw, hostile, 10):  # the row's last cell is missing
            dropped, row = order[-1], row[:-1]
            if dropped == "std" and key is not None:
                key = (*key[:2], None, key[3])  # no std: the value alone
            elif cells[dropped].strip():
                key = None
        lines.append(",".join(row))
        if _no_result(kind, order, row):
            key = "no result"
        keys.append(None if not any(cell.strip() for cell in row) else key or "bad")
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))
    body = text.encode()
    if draw(st.integers(0, 9)) == 0:
        body = "\ufeff".encode() + body  # a spreadsheet's byte-order mark: still UTF-8
    if _faulty(draw, hostile, 10):
        body, kind = body.replace(b"\n", b"\xe9\n", 1) + b"\xff", None  # Latin-1 bytes: not UTF-8
    upload = Upload(body, kind, describe=repr(body[:300]), order=order, newline=newline)
    if kind is None:
        return upload
    upload.good = [key for key in keys if key not in (None, "bad", "no result")]  # None: a blank row, skipped
    upload.bad = keys.count("bad")
    upload.no_result = keys.count("no result")
    if not upload.good and not upload.bad:
        upload.kind = None  # a header without data rows
    return upload


@dataclass
class Seed:
    rows: list[dict[str, Any]]
    valid: bool
    good: list[tuple]

    @property
    def molecules(self) -> set[int]:
        return {row[0] for row in self.good}

    @property
    def digest(self) -> tuple:
        return ("values", tuple(sorted(map(repr, self.good))))


SEED_VALUES = [(5.2, None), (7, None), (-1.5, None), (1e6, None), (-1e6, None), ("6.5", None), (5, "<")]
BAD_SEED_VALUES = [1e300, float("nan"), "NaN", "<5", 1_000_001, None]


@st.composite
def seeds(draw: st.DrawFn, valid: bool = False) -> Seed:
    """Seed rows of a create request; with ``valid``, good ones only (at least five: a first fit)."""
    count = draw(st.integers(5, 8) if valid else st.integers(0, 8))
    with_std = draw(st.booleans())
    rows, molecules, ok = [], [], True
    for _ in range(count):
        smiles, molecule = draw(good_molecule)
        value, qualifier = draw(st.sampled_from(SEED_VALUES))
        std: float | None = 0.5 if with_std else None
        fault = 0 if valid else draw(st.integers(0, 30))
        if fault == 1:
            smiles, ok = draw(bad_molecule), False
        elif fault == 2:
            value, ok = draw(st.sampled_from(BAD_SEED_VALUES)), False
        elif fault == 3:
            std = draw(st.sampled_from([0, -1.0, None, 0.5]))  # bad, or given for some rows only
        elif fault == 4:
            qualifier, ok = draw(st.sampled_from(["≤", "=", ""])), False
        row: dict[str, Any] = {"smiles": smiles, "value": value}
        row |= ({"std": std} if std is not None else {}) | ({"qualifier": qualifier} if qualifier else {})
        if qualifier == "":
            row["qualifier"] = ""
        rows.append(row)
        molecules.append(molecule)
    stds = [row.get("std") for row in rows]
    if any(s is not None and s <= 0 for s in stds) or len({s is None for s in stds}) > 1:
        ok = False  # a std must be positive, and given for every row or for none
    if not ok:
        return Seed(rows, False, [])
    good = [
        (m, float(r["value"]), r.get("std"), r.get("qualifier")) for m, r in zip(molecules, rows, strict=True)
    ]
    return Seed(rows, True, good)


GOOD_CREATE = {"reward": SMALL_REWARD}
BAD_CREATE = [
    {"reward": {**SMALL_REWARD, "ensemble": 1}},
    {"reward": {**SMALL_REWARD, "epochs": 10**9}},
    {"reward": SMALL_REWARD, "campaign": {"candidates": 21}},  # above the server's max_samples
    {"reward": SMALL_REWARD, "assay": {"name": ""}},
    {"reward": SMALL_REWARD, "plugins": ["os"]},
]


@st.composite
def grown(draw: st.DrawFn, sheet: Upload) -> Upload:
    """``sheet`` (a values file stored before) with one more good row at its end, and perhaps a
    molecule not measured yet (its value blank): a lab's sheet imported again as results come back."""
    cells, key = _value_row(draw, False, "std" in sheet.order)
    lines = [",".join(cells[c] for c in sheet.order)]
    pending = draw(st.booleans())
    if pending:
        lines.append(",".join(draw(good_smiles) if c == "smiles" else "" for c in sheet.order))
    body = sheet.body.rstrip(b"\r\n") + "".join(sheet.newline + line for line in lines).encode()
    more = Upload(body, "values", sheet.good + [key], sheet.bad, sheet.no_result + pending, sheet.order)
    more.describe = repr(body[-300:])
    return more
