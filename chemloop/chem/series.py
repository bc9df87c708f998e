"""A chemical series as data: Morgan fingerprints and nearest neighbours, Murcko scaffolds, ring
systems, and the core that a set of molecules shares.

Fine-tuning reports how far samples moved towards a chemist's series with these; campaigns use
them for the trust region around what was measured and to explain each proposal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from chemloop.chem.mol import try_mol

MORGAN_RADIUS = 2  # ECFP4
MORGAN_BITS = 2048


def morgan_fingerprints(molecules: Sequence[str | Chem.Mol]) -> list:
    """ECFP4 bit vectors (RDKit ``ExplicitBitVect``); an unparsable SMILES gets None."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)
    mols = [m if isinstance(m, Chem.Mol) else try_mol(m) for m in molecules]
    return [generator.GetFingerprint(m) if m is not None else None for m in mols]


def nearest_neighbours(queries: Sequence, references: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """For each query fingerprint, the index of its most similar reference and that Tanimoto
    similarity (index -1 and similarity 0 for a None query or no references)."""
    usable = [(i, fp) for i, fp in enumerate(references) if fp is not None]
    index = np.full(len(queries), -1, dtype=np.int64)
    similarity = np.zeros(len(queries))
    if not usable:
        return index, similarity
    positions, fps = zip(*usable, strict=True)
    for q, fp in enumerate(queries):
        if fp is None:
            continue
        values = DataStructs.BulkTanimotoSimilarity(fp, list(fps))
        best = int(np.argmax(values))
        index[q], similarity[q] = positions[best], values[best]
    return index, similarity


def murcko_scaffold(smiles: str | Chem.Mol) -> str:
    """The Bemis–Murcko scaffold (ring systems and the linkers between them) as canonical SMILES;
    '' for an acyclic or unparsable molecule."""
    mol = smiles if isinstance(smiles, Chem.Mol) else try_mol(smiles)
    if mol is None:
        return ""
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol)


CORE_MIN_RINGS = 2  # one ring (a benzene, a piperidine) is shared by unrelated molecules: not a series


def series_core(smiles: Sequence[str], share: float) -> str | None:
    """The core of a series: among the Murcko scaffolds of ``smiles`` with at least two rings, the one
    that the largest share of them contain as a substructure (ties: the larger scaffold), if that
    share is at least ``share``; None when no scaffold is that common (no series to keep)."""
    mols = [m for m in map(try_mol, smiles) if m is not None]
    scaffolds = {murcko_scaffold(m) for m in mols} - {""}
    best: tuple[int, int, str] | None = None
    for scaffold in sorted(scaffolds):
        pattern = Chem.MolFromSmiles(scaffold)
        if pattern is None or pattern.GetRingInfo().NumRings() < CORE_MIN_RINGS:
            continue
        count = sum(m.HasSubstructMatch(pattern) for m in mols)
        if count >= share * len(mols) and (best is None or (count, pattern.GetNumAtoms()) > best[:2]):
            best = (count, pattern.GetNumAtoms(), scaffold)
    return best[2] if best else None


def ring_systems(mol: Chem.Mol) -> list[str]:
    """Each ring system of ``mol`` (rings that share an atom, fused or spiro) as canonical SMILES of
    its atoms, without substituents."""
    rings = [set(r) for r in mol.GetRingInfo().AtomRings()]
    systems: list[set[int]] = []
    for ring in rings:
        touching = [s for s in systems if s & ring]
        merged = set(ring).union(*touching)
        systems = [s for s in systems if not s & ring] + [merged]
    return sorted(Chem.MolFragmentToSmiles(mol, atomsToUse=sorted(s)) for s in systems)


def most_common(values: Sequence[str]) -> tuple[str, int] | None:
    """The most frequent non-empty value and its count (ties: the first seen)."""
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0] if counts else None


class SeriesCore:
    """What a set of molecules shares: its most common Murcko scaffold and its most common ring
    system, each matched as a substructure (so a substituted or extended molecule still counts)."""

    def __init__(self, smiles: Sequence[str]) -> None:
        mols = [m for m in (try_mol(s) for s in smiles) if m is not None]
        scaffold = most_common([murcko_scaffold(m) for m in mols])
        # Each system once per molecule, in ring_systems' sorted order: a set's order would change
        # with the process's string hashing and break ties (a phenylpyrazole's two rings) at random.
        systems = most_common([s for m in mols for s in dict.fromkeys(ring_systems(m))])
        self.scaffold = scaffold[0] if scaffold else None
        self.ring_system = systems[0] if systems else None
        self._scaffold = Chem.MolFromSmiles(self.scaffold) if self.scaffold else None
        # Ring-system SMILES are fragments: aromatic atoms without their substituents may not
        # kekulize, so they are matched as SMARTS (atoms and bonds as written).
        self._ring_system = Chem.MolFromSmarts(self.ring_system) if self.ring_system else None

    def fractions(self, smiles: Sequence[str]) -> dict[str, float]:
        """The fraction of ``smiles`` (invalid ones count as misses) containing the scaffold and the
        ring system."""
        mols = [try_mol(s) for s in smiles]
        total = max(1, len(mols))

        def share(pattern: Chem.Mol | None) -> float:
            if pattern is None:
                return 0.0
            return sum(m is not None and m.HasSubstructMatch(pattern) for m in mols) / total

        return {"scaffold": share(self._scaffold), "ring_system": share(self._ring_system)}
