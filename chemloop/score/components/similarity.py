"""Tanimoto similarity to reference molecules on Morgan fingerprints (ECFP4 by default)."""

from collections.abc import Sequence

from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from chemloop.chem.mol import to_mol
from chemloop.errors import ChemloopError
from chemloop.score.registry import component


def _fingerprints(mols: Sequence[Chem.Mol], radius: int, counts: bool, bits: int):
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    make = generator.GetCountFingerprint if counts else generator.GetFingerprint
    return [make(m) for m in mols]


@component("similarity")
def similarity(
    mols: list[Chem.Mol],
    smiles: str | Sequence[str],
    radius: int = 2,
    counts: bool = True,
    bits: int = 2048,
    aggregate: str = "max",
) -> list[float]:
    """Tanimoto similarity to reference SMILES (max or mean over references)."""
    references = [smiles] if isinstance(smiles, str) else list(smiles)
    if aggregate not in ("max", "mean"):
        raise ChemloopError(f"similarity: aggregate must be 'max' or 'mean', not {aggregate!r}")
    reference_mols = [to_mol(s, "similarity reference") for s in references]
    reference_fps = _fingerprints(reference_mols, radius, counts, bits)
    result = []
    for fp in _fingerprints(mols, radius, counts, bits):
        values = DataStructs.BulkTanimotoSimilarity(fp, reference_fps)
        result.append(max(values) if aggregate == "max" else sum(values) / len(values))
    return result
