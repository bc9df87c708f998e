"""Chemical series for benchmarks, chosen from a corpus by a fixed rule.

A series is the molecules that share one Bemis–Murcko scaffold. From the corpus (ZINC-250k by
default), every scaffold with at least two rings, a heteroatom in a ring and at least
``min_members`` molecules qualifies; the most populated come first (ties: the scaffold's SMILES).
A series' molecules are its first members in the corpus's order. Benzanilides and other all-carbon
ring pairs, the most common ZINC scaffolds, are left out by the heteroatom rule: a medicinal
chemistry series is usually built on a heterocycle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rdkit import Chem

from chemloop.chem.series import murcko_scaffold
from chemloop.data.corpus import load_corpus


@dataclass
class Series:
    scaffold: str  # canonical SMILES of the shared Murcko scaffold
    members: int  # molecules of the corpus on it
    smiles: list[str]  # the first ``size`` of them, canonical


def _qualifies(scaffold: str) -> bool:
    mol = Chem.MolFromSmiles(scaffold) if scaffold else None
    if mol is None or mol.GetRingInfo().NumRings() < 2:
        return False
    ring_atoms = {a for ring in mol.GetRingInfo().AtomRings() for a in ring}
    return any(mol.GetAtomWithIdx(a).GetSymbol() != "C" for a in ring_atoms)


def find_series(source: str, count: int = 3, size: int = 100, min_members: int = 150) -> list[Series]:
    """The ``count`` most populated qualifying scaffolds of ``source`` (a corpus file or ``moses``),
    each with its first ``size`` molecules."""
    return series_of(read_corpus(source), count, size, min_members)


def read_corpus(source: str) -> list[str]:
    """The molecules of ``source`` as the series rule reads them (a file standardized)."""
    return load_corpus(source, skip_invalid=True, standardize=source != "moses").smiles


def series_of(corpus: Sequence[str], count: int = 3, size: int = 100, min_members: int = 150) -> list[Series]:
    """The series of :func:`find_series` in molecules already read."""
    members: dict[str, list[str]] = defaultdict(list)
    for smiles in corpus:
        members[murcko_scaffold(smiles)].append(smiles)
    ranked = sorted(
        (s for s, group in members.items() if len(group) >= min_members and _qualifies(s)),
        key=lambda s: (-len(members[s]), s),
    )
    return [Series(s, len(members[s]), members[s][:size]) for s in ranked[:count]]
