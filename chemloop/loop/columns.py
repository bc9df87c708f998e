"""Which columns of a results file hold the molecules and the values.

A lab's file rarely says ``smiles,value``: it says ``SMILES,pIC50`` or ``Canonical_Smiles,IC50
(nM),Compound ID``. The common headers are recognised here, without regard to case, spaces,
underscores or a unit in brackets; a header that is not recognised is named by the user
(``--smiles-column``/``--value-column``, the API's form fields, the web page's menus). The table
is then read as ``smiles,value`` by the readers of :mod:`chemloop.reward.data`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from chemloop.reward.data import CsvTable, FeedbackError

# Headers as normalized by _key: lower case, letters and digits only, a bracketed unit dropped.
SMILES_HEADERS = ("smiles", "canonicalsmiles", "isomericsmiles", "smi", "molsmiles", "structuresmiles")
VALUE_HEADERS = (
    "value",
    "pic50",
    "pki",
    "pkd",
    "pec50",
    "pxc50",
    "pac50",
    "ic50",
    "ki",
    "kd",
    "ec50",
    "ac50",
    "activity",
    "inhibition",
    "percentinhibition",
    "response",
    "potency",
    "result",
    "measurement",
    "measuredvalue",
    "measured",  # the column chemloop's own export leaves blank for the lab to fill in
    "y",
)
# The specific names first: an export's own `id` (chemloop's molecule id) yields to its `compound_id`.
ID_HEADERS = ("compoundid", "compound", "compoundname", "molid", "moleculeid", "molname", "cid", "id", "name")
# Files of the other kinds (preferences, ratings) keep their own columns.
OTHER_KINDS = ({"smiles_a", "smiles_b", "preferred"}, {"smiles", "rating"})


class ColumnsError(FeedbackError):
    """The file's SMILES or value column is not recognised: ``header`` lists its columns, so a page
    can offer them to choose from."""

    def __init__(self, message: str, header: list[str]) -> None:
        super().__init__(message)
        self.header = [h.strip() for h in header]


@dataclass(frozen=True)
class ColumnChoice:
    """Columns a user named (None: recognise them)."""

    smiles: str | None = None
    value: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.smiles or self.value)


RECOGNISED = ColumnChoice()  # no column named: recognise both


@dataclass(frozen=True)
class ColumnMap:
    """The file's own headers that were read as the SMILES, the value and the compound id."""

    smiles: str | None
    value: str | None
    id: str | None = None


def _key(header: str) -> str:
    without_unit = re.sub(r"[\(\[].*?[\)\]]", "", header)  # "IC50 (nM)" → "IC50"
    return re.sub(r"[^a-z0-9%]", "", without_unit.lower()).replace("%", "percent")


def _find(header: list[str], names: tuple[str, ...]) -> list[str]:
    """The headers that are one of ``names``, best-known name first."""
    keyed = {h: _key(h) for h in header}
    return [h for name in names for h in header if keyed[h] == name]


def _named(header: list[str], wanted: str, role: str) -> str:
    """The header the user named (case and surrounding spaces aside), or an error listing them."""
    for h in header:
        if h.strip().lower() == wanted.strip().lower():
            return h
    raise FeedbackError(
        f"there is no column {wanted[:100]!r} for the {role}; the columns are: {_listed(header)}"
    )


def _listed(header: list[str]) -> str:
    return ", ".join(repr(h.strip()[:60]) for h in header[:50]) + (" …" if len(header) > 50 else "")


def recognise(header: list[str], choice: ColumnChoice = RECOGNISED) -> ColumnMap:
    """The SMILES, value and id columns of ``header``: those named in ``choice``, else the headers
    recognised. A role with no recognisable column, or with more than one, is None (the user is
    asked)."""
    smiles = (
        _named(header, choice.smiles, "SMILES") if choice.smiles else _single(_find(header, SMILES_HEADERS))
    )
    value = _named(header, choice.value, "values") if choice.value else _value_column(header)
    if smiles is not None and smiles == value:
        raise FeedbackError(f"the SMILES and the values cannot both be in column {smiles.strip()!r}")
    ids = [h for h in _find(header, ID_HEADERS) if h not in (smiles, value)]
    return ColumnMap(smiles, value, ids[0] if ids else None)


def _value_column(header: list[str]) -> str | None:
    """The recognised value header; an export's own ``measured`` yields to a value column the user
    added to it (``pIC50``)."""
    found = _find(header, VALUE_HEADERS)
    added = [h for h in found if _key(h) != "measured"]
    return _single(added or found)


def _single(found: list[str]) -> str | None:
    """The one recognised header; "value" wins over other names (a file with ``value`` and ``pIC50``
    means ``value``), else two candidates are ambiguous."""
    distinct = list(dict.fromkeys(found))
    if len(distinct) == 1 or (distinct and _key(distinct[0]) in ("value", "smiles")):
        return distinct[0]
    return None


def is_other_kind(table: CsvTable) -> bool:
    """Whether ``table`` is a preferences or ratings file (which keeps its own columns)."""
    return any(kind <= table.columns for kind in OTHER_KINDS) and "value" not in table.columns


def map_columns(table: CsvTable, choice: ColumnChoice = RECOGNISED) -> tuple[CsvTable, ColumnMap]:
    """``table`` with its SMILES and value columns named ``smiles`` and ``value`` (other columns keep
    their names), and which headers they were. A table that is already ``smiles,value``, or a
    preferences or ratings file, is returned as it is. Raises a :class:`FeedbackError` naming the
    file's columns when a role has no column (or more than one candidate)."""
    header = table.header or []
    if not choice.given and is_other_kind(table):
        return table, ColumnMap(None, None)
    found = recognise(header, choice)
    if found.smiles is None or found.value is None:
        missing = " and ".join(
            role for role, column in (("SMILES", found.smiles), ("values", found.value)) if column is None
        )
        raise ColumnsError(
            f"{table.source}: columns {_listed(header)} are none of smiles,value[,std], "
            "smiles_a,smiles_b,preferred or smiles,rating, and no column is recognised as the "
            f"{missing}; choose the SMILES column and the value column",
            header,
        )
    renamed = []
    for h in header:
        if h == found.smiles:
            renamed.append("smiles")
        elif h == found.value:
            renamed.append("value")
        elif h.strip().lower() in ("smiles", "value"):
            renamed.append(f"{h} (not used)")  # a second column of that name must not shadow the choice
        else:
            renamed.append(h)
    return replace(table, header=renamed), found
