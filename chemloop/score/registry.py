"""Scoring components by name.

A component is one function in its own module under ``chemloop/score/components/``,
decorated with ``@component("name")``. It takes RDKit molecules (already parsed; invalid
strings never reach it) plus keyword parameters and returns one float per molecule, NaN
where it cannot score one. Modules are discovered on the first lookup, so adding a
component never edits a central list; a module that fails to import is an error, never
skipped silently.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rdkit import Chem

from chemloop.errors import ChemloopError

ComponentFunction = Callable[..., Sequence[float]]


@dataclass(frozen=True)
class Component:
    name: str
    function: ComponentFunction
    description: str
    slow: bool = False  # seconds or more per molecule (docking): background jobs only, not a request
    check: Callable[..., None] | None = None  # checks params when a config loads; raises naming the bad one


_REGISTRY: dict[str, Component] = {}
_discovered = False


class UnknownComponentError(ChemloopError, ValueError):
    """A component name that no module registers (ValueError, so pydantic reports it by key)."""


def component(
    name: str, *, slow: bool = False, check: Callable[..., None] | None = None
) -> Callable[[ComponentFunction], ComponentFunction]:
    """Register ``function`` as the scoring component ``name``.

    ``slow``: seconds or more per molecule. ``check``: called with the component's params when
    a config loads, so a bad value (an unknown task, a missing file) fails before a run starts.
    """

    def register(function: ComponentFunction) -> ComponentFunction:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.function is not function:
            raise ChemloopError(f"scoring component {name!r} is registered twice")
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Component(name, function, doc[0] if doc else "", slow, check)
        return function

    return register


ENTRY_POINT_GROUP = "chemloop.components"


def _discover_builtins() -> None:
    """Import the built-in component modules, then installed plugins' entry points.

    A plugin package declares ``[project.entry-points."chemloop.components"]``, each entry
    naming a module (or function) whose import registers components. A plugin that fails to
    load stops the lookup with an error naming it.
    """
    global _discovered
    if _discovered:
        return
    from chemloop.score import components as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as err:
            raise ChemloopError(
                f"scoring plugin {entry.name!r} ({entry.value}) failed to load: {err!r}"
            ) from err
        if callable(loaded) and entry.name not in _REGISTRY:  # a bare function: register it by name
            component(entry.name)(loaded)
    _discovered = True


def get_component(name: str) -> Component:
    _discover_builtins()
    if name not in _REGISTRY:
        raise UnknownComponentError(
            f"unknown scoring component {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def available_components() -> dict[str, str]:
    """Every registered component name with its one-line description."""
    _discover_builtins()
    return {name: c.description for name, c in sorted(_REGISTRY.items())}


class NoScore(float):
    """NaN that says why: a component returns ``NoScore("timed out")`` for a molecule it could
    not score, and the scorer shows the reason beside the component's name."""

    reason: str

    def __new__(cls, reason: str) -> NoScore:
        value = super().__new__(cls, math.nan)
        value.reason = reason
        return value

    def __reduce__(self) -> tuple:
        return NoScore, (self.reason,)


def as_scores(values: Sequence[float], count: int, source: str) -> list[float]:
    """``values`` as floats, after checking there is one per molecule (``source`` names the culprit)."""
    values = [v if isinstance(v, NoScore) else float(v) for v in values]
    if len(values) != count:
        raise ChemloopError(f"{source} returned {len(values)} scores for {count} molecules")
    return values


def run_component(name: str, mols: Sequence[Chem.Mol], **params) -> list[float]:
    """Score ``mols`` with component ``name``; checks that it returns one float per molecule."""
    return as_scores(get_component(name).function(list(mols), **params), len(mols), f"component {name!r}")
