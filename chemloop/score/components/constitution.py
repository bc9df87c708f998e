"""A constitution's computable principles as a score: keep proposals inside a written medicinal
chemistry (docs/constitution.md), checked exactly by RDKit rather than judged."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rdkit import Chem

from chemloop.constitution.principles import Constitution, load_constitution
from chemloop.errors import ChemloopError
from chemloop.score.registry import component

MODES = ("share", "filter")


@lru_cache(maxsize=4)
def _constitution(path: str | None) -> Constitution:
    return load_constitution(path)


def _checks(path: str | None, mode: str, ignore: Sequence[str]) -> list:
    if mode not in MODES:
        raise ChemloopError(f"constitution: mode must be one of {', '.join(MODES)}, not {mode!r}")
    constitution = _constitution(path)
    unknown = sorted(set(ignore) - {p.id for p in constitution.principles})
    if unknown:
        raise ChemloopError(f"constitution {constitution.name!r} has no principle {unknown[0]!r}")
    checked = [p for p in constitution.principles if p.computable and p.id not in set(ignore)]
    if not checked:
        raise ChemloopError(f"constitution {constitution.name!r}: no computable principle left to check")
    return checked


def check_params(path: str | None = None, mode: str = "share", ignore: Sequence[str] = ()) -> None:
    _checks(path, mode, ignore)


@component("constitution", check=check_params)
def constitution(
    mols: list[Chem.Mol], path: str | None = None, mode: str = "share", ignore: Sequence[str] = ()
) -> list[float]:
    """The share of a constitution's computable principles a molecule keeps (``filter``: 1 if all)."""
    checks = _checks(path, mode, ignore)
    kept = [sum(p.violation(m) is None for p in checks) / len(checks) for m in mols]
    return [float(k == 1.0) for k in kept] if mode == "filter" else kept
