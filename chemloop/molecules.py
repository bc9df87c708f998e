"""Molecule tools shared by every face of chemloop (CLI, HTTP API, web app, MCP server):
properties, structural alerts, depictions, and scoring with named components.

Requests from the network go through :func:`score_molecules` with ``allow_plugins=False``: a
component that runs code (``python`` files, external ``command``s) can only come from a
server-side config, never from a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors
from rdkit.Chem.Draw import rdMolDraw2D

from chemloop.chem.alerts import structural_alerts
from chemloop.chem.descriptors import descriptor_values
from chemloop.chem.mol import to_mol
from chemloop.errors import ChemloopError
from chemloop.score.config import PLUGIN_TYPES, ScoreConfig
from chemloop.score.registry import get_component
from chemloop.score.scorer import Scorer

# Parameters only a server-side config may set: those that read or write files, and those that pick
# where or how widely work runs (a Ray address, worker counts).
SERVER_ONLY_PARAMS = frozenset(
    {"path", "receptor", "poses_dir", "cache_dir", "model", "directory"}
    | {"backend", "ray_address", "workers", "cpus_per_call"}
)
# Upper bounds on numeric parameters from the network, so one request cannot ask for gigabytes
# (a 10^8-bit fingerprint per molecule) or hours (exhaustiveness, timeouts).
NETWORK_BOUNDS = {"bits": 16384, "radius": 6, "exhaustiveness": 32, "timeout": 600}


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


def score_config(
    components: Sequence[str | dict[str, Any]], allow_plugins: bool = False, allow_slow: bool = True
) -> ScoreConfig:
    """A scoring config from component names (``"qed"``) or tables (``{"type": "mw", ...}``).

    With ``allow_plugins=False`` (every request from the network) a component that would run
    code or touch a path is refused; with ``allow_slow=False`` (a request answered while the
    client waits) so is a slow one such as docking, which belongs in a background job.
    """
    if not components:
        raise ChemloopError("name at least one scoring component")
    tables = [{"type": c} if isinstance(c, str) else dict(c) for c in components]
    if not allow_plugins:
        for table in tables:
            if table.get("type") in PLUGIN_TYPES:
                raise ChemloopError(
                    f"component type {table['type']!r} runs code and is allowed only in server-side configs"
                )
            params = table.get("params") or {}
            reserved = sorted(SERVER_ONLY_PARAMS & set(params))
            if reserved:
                raise ChemloopError(
                    f"component {table.get('type')!r}: parameter {reserved[0]!r} names a file or the "
                    "server's resources and is allowed only in server-side configs"
                )
            for key, bound in NETWORK_BOUNDS.items():
                value = params.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and value > bound:
                    raise ChemloopError(
                        f"component {table.get('type')!r}: parameter {key!r} = {value} is above the "
                        f"limit {bound} for requests"
                    )
    try:
        config = ScoreConfig(components=tables)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'components'}: {e['msg']}" for e in err.errors()
        )
        raise ChemloopError(f"invalid scoring components: {problems}") from None
    for c in config.components:
        if c.type not in PLUGIN_TYPES and not allow_slow and get_component(c.type).slow:
            raise ChemloopError(
                f"component {c.type!r} takes seconds or more per molecule: use it in an optimize job "
                "or a campaign, not in a request that waits for its answer"
            )
    return config


def score_molecules(
    smiles: Sequence[str],
    components: Sequence[str | dict[str, Any]] | ScoreConfig,
    allow_plugins: bool = False,
) -> list[dict[str, Any]]:
    """Score each SMILES: aggregate, every component's raw and transformed value, and the reason for
    a zero or missing score. An invalid SMILES scores 0 with the reason; it does not raise."""
    config = components if isinstance(components, ScoreConfig) else score_config(components, allow_plugins)
    return [
        {
            "smiles": r.smiles,
            "canonical": r.canonical,
            "score": r.score,
            "raw": r.raw,
            "transformed": r.transformed,
            "reason": r.reason,
        }
        for r in Scorer(config)(list(smiles))
    ]
