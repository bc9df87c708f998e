"""Dock a batch of molecules: look in the cache, dock the rest on a backend, store each result
as it arrives, write poses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from chemloop.chem.mol import try_canonical
from chemloop.dock.backends import Backend, LocalBackend
from chemloop.dock.cache import DockCache
from chemloop.dock.call import DockResult, DockSettings
from chemloop.dock.poses import pose_path, write_pose
from chemloop.dock.target import Target

log = logging.getLogger(__name__)


def dock_many(
    smiles: Sequence[str],
    target: Target,
    settings: DockSettings | None = None,
    *,
    backend: Backend | None = None,
    cache: DockCache | None = None,
    poses_dir: str | Path | None = None,
) -> list[DockResult]:
    """One result per SMILES, in order; each distinct molecule is docked at most once.

    Invalid SMILES get an error result without docking. Results come from ``cache`` where it
    has them; new ones are stored as soon as they finish, so an interrupted batch keeps them.
    """
    settings = settings or DockSettings()
    canonical = {s: try_canonical(s) for s in smiles}
    unique = list(dict.fromkeys(c for c in canonical.values() if c is not None))
    found = cache.get(target.key, unique, settings.exhaustiveness, settings.seed) if cache else {}
    todo = [c for c in unique if c not in found]
    for result in (backend or LocalBackend()).run(todo, target, settings) if todo else ():
        found[result.smiles] = result
        if cache is not None:
            cache.put(target.key, result, settings.exhaustiveness, settings.seed)
        if poses_dir is not None:
            write_pose(poses_dir, target, result)
        if result.error:
            log.warning("%s", result.error)
    if poses_dir is not None:  # cached molecules whose pose file is not in this folder yet
        docked = set(todo)
        for c in unique:
            if c not in docked and not pose_path(poses_dir, target, c).exists():
                write_pose(poses_dir, target, found[c])
    return [
        found[canonical[s]] if canonical[s] is not None else DockResult(s, error=f"invalid SMILES {s!r}")
        for s in smiles
    ]
