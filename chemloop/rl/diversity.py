"""Diversity filter: once a Murcko scaffold has had ``bucket_size`` good molecules, further
molecules on it score 0, pushing the agent to new chemotypes (Blaschke et al. 2020)."""

from __future__ import annotations

from collections import Counter

from rdkit.Chem.Scaffolds import MurckoScaffold

from chemloop.chem.mol import try_mol


def scaffold_of(canonical: str) -> str:
    mol = try_mol(canonical)
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol) if mol is not None else ""


class ScaffoldDiversityFilter:
    def __init__(self, bucket_size: int = 25, min_score: float = 0.4) -> None:
        self.bucket_size = bucket_size
        self.min_score = min_score
        self.buckets: Counter[str] = Counter()

    def __call__(self, canonical: list[str | None], scores: list[float]) -> list[float]:
        out = []
        for smiles, score in zip(canonical, scores, strict=True):
            if not smiles or not score >= self.min_score:
                out.append(score)
                continue
            scaffold = scaffold_of(smiles)
            self.buckets[scaffold] += 1
            out.append(0.0 if self.buckets[scaffold] > self.bucket_size else score)
        return out
