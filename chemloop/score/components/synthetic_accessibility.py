"""Synthetic accessibility (Ertl & Schuffenhauer 2009) from RDKit Contrib: 1 easy … 10 hard."""

from rdkit import Chem
from rdkit.Contrib.SA_Score import sascorer

from chemloop.score.registry import component


@component("sa_score")
def sa_score(mols: list[Chem.Mol]) -> list[float]:
    """Synthetic accessibility score, 1 (easy) to 10 (hard)."""
    return [sascorer.calculateScore(m) for m in mols]
