"""Docking with AutoDock Vina through dockstring: targets, one call with a timeout, backends
(local processes or Ray), a SQLite cache and SDF poses. Scoring uses it as the ``vina`` component.

    from chemloop.dock import DockSettings, dock_many, resolve_target
    results = dock_many(["c1ccccc1O"], resolve_target("DRD2"), DockSettings(exhaustiveness=8))
    results[0].score  # kcal/mol, lower binds better
"""

from chemloop.dock.backends import LocalBackend, RayBackend, make_backend
from chemloop.dock.batch import dock_many
from chemloop.dock.cache import DockCache
from chemloop.dock.call import DockResult, DockSettings, dock_one
from chemloop.dock.poses import pose_path
from chemloop.dock.target import Target, dockstring_targets, resolve_target

__all__ = [
    "DockCache",
    "DockResult",
    "DockSettings",
    "LocalBackend",
    "RayBackend",
    "Target",
    "dock_many",
    "dock_one",
    "dockstring_targets",
    "make_backend",
    "pose_path",
    "resolve_target",
]
