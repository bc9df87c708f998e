"""AutoDock Vina docking score (kcal/mol; lower binds better) against a dockstring target or
the user's receptor. Needs the docking extra: ``pip install 'chemloop[docking]'``.

Vina scores are negative, so a run maximizing desirability maps them with a reverse sigmoid
(0.08 at -6 kcal/mol, 0.5 at -9, 0.92 at -12)::

    [[score.components]]
    type = "vina"
    params = { target = "DRD2", exhaustiveness = 8, cache_dir = "cache/docking", poses_dir = "poses" }
    transform = { type = "reverse_sigmoid", low = -12, high = -6 }

Your own receptor instead of a dockstring target (box centre and edge lengths in Å)::

    params = { receptor = "my_protein.pdbqt", center = [9.3, 6.2, -7.0], size = [22, 22, 22] }

Search: ``exhaustiveness`` (Vina's effort, default 8), ``seed`` (embedding and search),
``cpus_per_call`` (Vina threads). Results are cached in ``cache_dir`` (SQLite) by target,
canonical SMILES, exhaustiveness and seed; poses go to ``poses_dir`` as one SDF per molecule
(:func:`chemloop.dock.pose_path` finds it). Relative paths are relative to where chemloop runs.

Parallel calls: ``workers`` processes here (``backend = "local"``, default one per core), or
``backend = "ray"`` with ``ray_address`` (none: a local Ray with ``workers`` CPUs). A molecule
that cannot be prepared, finds no pose or runs past ``timeout`` seconds gets NaN with the reason.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path

from rdkit import Chem

from chemloop.dock.backends import BACKENDS, make_backend
from chemloop.dock.batch import dock_many
from chemloop.dock.cache import DockCache
from chemloop.dock.call import DockSettings
from chemloop.dock.target import Target, resolve_target
from chemloop.errors import ChemloopError
from chemloop.score.registry import NoScore, component


def _positive(name: str, value: object, integer: bool = True) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        raise ChemloopError(
            f"vina: {name} must be a positive {'integer' if integer else 'number'}, got {value!r}"
        )


def check_params(**params: object) -> Target:
    """The target of valid params; raises naming the first bad one. Run when a config loads and
    before each batch."""
    bound = inspect.signature(vina).bind([], **params)
    bound.apply_defaults()
    p = bound.arguments
    _positive("exhaustiveness", p["exhaustiveness"])
    _positive("cpus_per_call", p["cpus_per_call"])
    _positive("timeout", p["timeout"], integer=False)
    if p["workers"] is not None:
        _positive("workers", p["workers"])
    if isinstance(p["seed"], bool) or not isinstance(p["seed"], int):
        raise ChemloopError(f"vina: seed must be an integer, got {p['seed']!r}")
    if p["backend"] not in BACKENDS:
        raise ChemloopError(f"unknown docking backend {p['backend']!r}; choose from {', '.join(BACKENDS)}")
    return resolve_target(p["target"], receptor=p["receptor"], center=p["center"], size=p["size"])


@component("vina", slow=True, check=check_params)
def vina(
    mols: list[Chem.Mol],
    target: str | None = None,
    receptor: str | None = None,
    center: list[float] | None = None,
    size: list[float] | None = None,
    exhaustiveness: int = 8,
    seed: int = 0,
    cpus_per_call: int = 1,
    workers: int | None = None,
    timeout: float = 300.0,
    backend: str = "local",
    ray_address: str | None = None,
    poses_dir: str | None = None,
    cache_dir: str | None = None,
) -> list[float]:
    """AutoDock Vina score in kcal/mol (lower binds better) against a dockstring target or a receptor."""
    # First line, so locals() holds exactly the parameters.
    resolved = check_params(**{name: value for name, value in locals().items() if name != "mols"})
    runner = make_backend(backend, workers=workers, ray_address=ray_address, ray_cpus=workers)
    results = dock_many(
        [Chem.MolToSmiles(m) for m in mols],
        resolved,
        DockSettings(exhaustiveness, seed, cpus_per_call, float(timeout)),
        backend=runner,
        cache=DockCache(Path(cache_dir)) if cache_dir else None,
        poses_dir=poses_dir,
    )
    return [
        r.score if r.score is not None and math.isfinite(r.score) else NoScore(r.error or "no score")
        for r in results
    ]
