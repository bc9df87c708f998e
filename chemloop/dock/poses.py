"""Docked poses as SDF files, one per molecule and target, named from the canonical SMILES.

A web page finds a molecule's pose again with :func:`pose_path` (same folder, target, SMILES).
"""

from __future__ import annotations

from pathlib import Path

from chemloop.chem.mol import canonical, molecule_key
from chemloop.dock.call import DockResult
from chemloop.dock.target import Target


def pose_path(poses_dir: str | Path, target: Target | str, smiles: str) -> Path:
    """Where the poses of ``smiles`` (any spelling) docked against ``target`` (or its ``name``) go."""
    name = target.name if isinstance(target, Target) else target
    return Path(poses_dir) / f"{name}_{molecule_key(canonical(smiles))}.sdf"


def write_pose(poses_dir: str | Path, target: Target, result: DockResult) -> Path | None:
    """Write ``result``'s poses (best first) unless it has none; return the file written."""
    if result.pose_sdf is None:
        return None
    path = pose_path(poses_dir, target, result.smiles)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".sdf.partial")  # a reader never sees half a file
    partial.write_text(result.pose_sdf)
    partial.replace(path)
    return path
