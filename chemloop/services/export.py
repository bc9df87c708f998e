"""A campaign's molecules as files for an electronic lab notebook or an order: CSV and SDF.

Every face exports through :func:`export_campaign` (``chemloop campaign export``, ``GET
/api/campaigns/{name}/export``, the web app's download buttons): a molecule's id, the chemist's
compound id (from the results files' id column), SMILES, round, its measured value (with the assay's
unit), the prediction it was proposed with, its properties and why it was proposed. The dual-use
guard applies: a withheld molecule is left out of every file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import parent_smiles, try_mol
from chemloop.chem.sdf import sd_text
from chemloop.errors import ChemloopError
from chemloop.loop.assay import Assay
from chemloop.loop.assay import campaign_assay as stored_assay
from chemloop.loop.results import six_digits
from chemloop.loop.store import get_campaign, session_scope
from chemloop.services import campaigns
from chemloop.services.molecules import properties
from chemloop.services.workspace import Workspace

Format = Literal["csv", "sdf"]
FORMATS: tuple[str, ...] = ("csv", "sdf")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "sdf": "chemical/x-mdl-sdfile"}

# The exported columns, in order; the unit of each property is in its name, the assay's unit in
# the ``unit`` column (measured and predicted values are in it).
COLUMNS: tuple[str, ...] = (
    "id",
    "compound_id",
    "smiles",
    "parent_smiles",
    "round",
    "rank",
    "assay",
    "unit",
    "measured",
    "measurements",
    "predicted",
    "predicted_std",
    "acquisition_score",
    "nearest_measured_smiles",
    "nearest_similarity",
    "nearest_measured_value",
    "out_of_domain",
    "mw_da",
    "clogp",
    "tpsa_a2",
    "hbd",
    "hba",
    "rotatable_bonds",
    "qed",
    "sa_score",
    "alerts",
)


def campaign_assay(workspace: Workspace, name: str) -> Assay:
    """What campaign ``name`` measures: its assay's name, unit and direction (a campaign created
    without one measures "value", no unit, higher being better)."""
    with session_scope(workspace.factory) as session:
        return stored_assay(session, get_campaign(session, name).id)


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    content: str
    molecules: int  # molecules written
    withheld: int  # molecules the dual-use guard left out


def check_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise ChemloopError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt  # type: ignore[return-value]


def _cell(value: Any) -> Any:
    """A value as a file cell: '' for none, floats to 6 significant digits (no 1.7999999999999998)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return six_digits(value)
    return value


def export_row(molecule: dict[str, Any], assay: Assay) -> dict[str, Any]:
    """One exported row of a campaign molecule (as :func:`chemloop.services.campaigns.molecules`
    gives it): the columns of :data:`COLUMNS`, blanks as ''. Properties and alerts are the parent
    compound's: as written, a pH-7 ammonium's SA score is 1-1.7 higher and its cLogP lower."""
    parent = parent_smiles(molecule["smiles"])
    p = properties(parent)
    out_of_domain = molecule.get("out_of_domain")
    row = {
        "id": molecule["key"],
        "compound_id": molecule.get("compound_id"),  # the chemist's own, from the results files
        "smiles": molecule["smiles"],
        "parent_smiles": parent,
        "round": molecule["round"],
        "rank": molecule.get("rank"),
        "assay": assay.name,
        "unit": assay.unit,
        "measured": _measured(molecule),
        "measurements": molecule.get("measurements", 0),
        "predicted": molecule.get("predicted_mean"),
        "predicted_std": molecule.get("predicted_std"),
        "acquisition_score": molecule.get("priority"),
        "nearest_measured_smiles": molecule.get("nearest_smiles"),
        "nearest_similarity": molecule.get("nearest_similarity"),
        "nearest_measured_value": molecule.get("nearest_value"),
        "out_of_domain": None if out_of_domain is None else ("yes" if out_of_domain else "no"),
        "mw_da": p["mw"],
        "clogp": p["clogp"],
        "tpsa_a2": p["tpsa"],
        "hbd": p["hbd"],
        "hba": p["hba"],
        "rotatable_bonds": p["rotatable_bonds"],
        "qed": p["qed"],
        "sa_score": p["sa_score"],
        "alerts": "; ".join(f"{a['catalog']}: {a['description']}" for a in p["alerts"]),
    }
    return {k: _cell(row[k]) for k in COLUMNS}


def _measured(molecule: dict[str, Any]) -> float | str | None:
    """The ``measured`` cell: the mean of the exact values; where there is none, the one result
    beyond the assay's range as written (``<5``), which an import of the file reads back as it."""
    censored = set(molecule.get("censored") or [])
    if molecule.get("value") is None and len(censored) == 1:
        return censored.pop()
    return molecule.get("value")


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_sdf(rows: Iterable[dict[str, Any]]) -> str:
    """An SD file with 2D coordinates; each record is named by the molecule's id and carries every
    column as a data item (blank ones left out, as SD files do)."""
    return sd_text((str(row["id"]), row["smiles"], {c: row[c] for c in COLUMNS}) for row in rows)


def _filename(name: str, round_: int | None, fmt: str) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "campaign"
    return f"{stem}{'' if round_ is None else f'_round{round_}'}.{fmt}"


def export_molecules(
    workspace: Workspace,
    name: str,
    molecules: Sequence[dict[str, Any]],
    fmt: str,
    round_: int | None = None,
) -> Export:
    """``molecules`` of campaign ``name`` (rows of :func:`chemloop.services.campaigns.molecules`,
    already chosen: a round, a filtered grid, a selection) as a CSV or SDF file."""
    fmt = check_format(fmt)
    assay = campaign_assay(workspace, name)
    shown = [m for m in molecules if (mol := try_mol(m["smiles"])) is not None and not is_withheld(mol)]
    rows = [export_row(m, assay) for m in shown]
    content = to_csv(rows) if fmt == "csv" else to_sdf(rows)
    return Export(
        _filename(name, round_, fmt), MEDIA_TYPES[fmt], content, len(rows), len(molecules) - len(shown)
    )


def select(
    molecules: Sequence[dict[str, Any]], round_: int | None = None, keys: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The molecules of one round (``round_``), or of the given ids (``keys``), or all of them."""
    chosen = [m for m in molecules if round_ is None or m["round"] == round_]
    if keys:
        wanted = set(keys)
        chosen = [m for m in chosen if m["key"] in wanted]
    return chosen


def export_campaign(
    workspace: Workspace, name: str, fmt: str, round_: int | None = None, keys: Sequence[str] = ()
) -> Export:
    """Campaign ``name``'s molecules (all, one round's, or those of ``keys``) as CSV or SDF."""
    fmt = check_format(fmt)
    table = campaigns.molecules(workspace, name)
    if round_ is not None and all(m["round"] != round_ for m in table):
        rounds = sorted({m["round"] for m in table})
        raise ChemloopError(
            f"campaign {name!r} has no round {round_}; its rounds: {', '.join(map(str, rounds)) or 'none'}"
        )
    return export_molecules(workspace, name, select(table, round_, keys), fmt, round_)
