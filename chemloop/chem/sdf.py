"""SD files of molecules with 2D coordinates, for lab notebooks, viewers and docking set-up."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
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
