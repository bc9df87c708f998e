"""SD files of molecules with 2D coordinates, for lab notebooks, viewers and docking set-up."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rdkit import Chem

from chemloop.chem.depict import layout


def sd_text(records: Iterable[tuple[str, str, Mapping[str, Any]]]) -> str:
    """An SD file (RDKit's SDWriter): for each ``(name, SMILES, data items)`` a record with 2D
    coordinates (:func:`chemloop.chem.depict.layout`) carrying every data item that is not blank,
    as SD files leave blank items out."""
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    for name, smiles, items in records:
        mol = layout(Chem.MolFromSmiles(smiles))
        mol.SetProp("_Name", name)
        for key, value in items.items():
            if value != "":
                mol.SetProp(key, str(value))
        writer.write(mol)
    writer.close()
    return buffer.getvalue()


@dataclass
class SdRecord:
    """One record of an SD file: its molecule as canonical SMILES (None where RDKit cannot read the
    molecule block, ``problem`` saying why), its title line and its data items."""

    smiles: str | None
    title: str
    items: dict[str, str]
    problem: str = ""


def read_sd_records(text: str) -> list[SdRecord]:
    """Every record of an SD file's text, in order. A record whose molecule RDKit cannot read (a
    broken block, a valence it refuses) keeps its place and its data items, so that a caller can
    report it by number; stereo comes from the block (wedges, or 3D coordinates)."""
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, sanitize=False, removeHs=False)
    records = []
    for index in range(len(supplier)):
        mol = supplier[index]
        if mol is None:
            records.append(SdRecord(None, "", {}, "RDKit cannot read its molecule block"))
            continue
        items = {key: mol.GetProp(key).strip() for key in mol.GetPropNames()}
        title = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
        try:
            Chem.SanitizeMol(mol)
            mol = Chem.RemoveHs(mol)
            if mol.GetNumConformers() and mol.GetConformer().Is3D():
                Chem.AssignStereochemistryFrom3D(mol)
            smiles = Chem.MolToSmiles(mol)
        except Exception as err:  # RDKit raises several types (valence, kekulization)
            records.append(SdRecord(None, title, items, f"RDKit cannot read its molecule: {err}"))
            continue
        records.append(SdRecord(smiles, title, items))
    return records
