"""Molecule tools shared by every face of chemloop (CLI, HTTP API, web app, MCP server):
properties with structural alerts, depictions, the catalogue of scoring components, sampling."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rdkit import Chem
from rdkit.Chem import rdMolDescriptors
from rdkit.Chem.Draw import rdMolDraw2D

from chemloop.chem.alerts import structural_alerts
from chemloop.chem.descriptors import descriptor_values
from chemloop.chem.mol import InvalidSmilesError, to_mol
from chemloop.errors import ChemloopError
from chemloop.model.generate import sample
from chemloop.score.registry import available_components
from chemloop.score.transforms import TRANSFORMS
from chemloop.services import schemas
from chemloop.services.compute import Run, call_here
from chemloop.services.errors import check_at_most
from chemloop.services.scoring import invalid_smiles
from chemloop.services.workspace import Workspace


def properties(smiles: str) -> dict[str, Any]:
    """The properties a medicinal chemist looks at first, with the molecule's alerts."""
    mol = to_mol(smiles)
    return {
        "smiles": smiles,
        "canonical": Chem.MolToSmiles(mol),
        "formula": rdMolDescriptors.CalcMolFormula(mol),
        **descriptor_values(mol),
        "alerts": structural_alerts(mol),
    }


def depict_svg(smiles: str, width: int = 300, height: int = 220) -> str:
    """An SVG drawing of the molecule (RDKit's 2D depiction)."""
    if not (50 <= width <= 2000 and 50 <= height <= 2000):
        raise ChemloopError(f"depiction size {width}x{height} is outside 50..2000 pixels")
    mol = to_mol(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    drawer.drawOptions().clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def properties_of_each(smiles: Sequence[str]) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Properties of every valid SMILES, and (index, SMILES) of the invalid ones."""
    rows, bad = [], []
    for i, s in enumerate(smiles):
        try:
            rows.append(properties(s))
        except InvalidSmilesError:
            bad.append((i, s))
    return rows, bad


def properties_request(
    request: schemas.PropertiesRequest, max_molecules: int, run: Run = call_here
) -> list[dict[str, Any]]:
    """Properties of each molecule of a request, in order (through ``run``: the server's worker
    processes); an invalid SMILES fails the request, named by its index."""
    check_at_most(("body", "smiles"), len(request.smiles), max_molecules, "molecules")
    rows, bad = run(properties_of_each, request.smiles)
    if bad:
        raise invalid_smiles(("body", "smiles"), bad)
    return rows


def components_catalogue() -> dict[str, Any]:
    """The scoring components a request may name, with descriptions, and the transforms it may apply."""
    return {
        "components": [{"name": n, "description": d} for n, d in available_components().items()],
        "transforms": sorted(TRANSFORMS),
    }


def sample_molecules(
    workspace: Workspace, request: schemas.SampleRequest, max_samples: int
) -> schemas.SampleResponse:
    """Sample from the workspace's model, one sampling run at a time (the same seed gives the same
    strings). The answer names the model by its name, never by a server path."""
    check_at_most(("body", "num"), request.num, max_samples, "molecules")
    start = time.perf_counter()
    with workspace.sampling:
        report = sample(
            workspace.model(),
            request.num,
            seed=request.seed,
            temperature=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
        )
    return schemas.SampleResponse(
        model=Path(workspace.model_name).name,
        molecules=[m.__dict__ for m in report.molecules],
        validity=report.validity,
        uniqueness=report.uniqueness,
        seconds=round(time.perf_counter() - start, 3),
    )
