"""RDKit descriptors of a molecule by name (physico-chemical, QED, SA score): one table behind both
a molecule's properties in every face (:func:`chemloop.services.molecules.properties`) and the scoring
components of the same names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors
from rdkit.Contrib.SA_Score import sascorer


@dataclass(frozen=True)
class Descriptor:
    function: Callable[[Chem.Mol], float]
    description: str  # one line: what the number is, with its unit or range
    digits: int | None = None  # decimals a molecule's properties show; None for a count


def stereocentres(mol: Chem.Mol) -> list[tuple[int, str]]:
    """Tetrahedral stereocentres as (atom index, CIP label or ``?`` if unassigned), leaving out a
    nitrogen that carries a hydrogen: a protonated amine (``[NH+]``, as ZINC writes amines at pH 7)
    inverts by proton exchange, so it makes no separable stereoisomers."""
    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=True, useLegacyImplementation=False)
    return [
        (index, label)
        for index, label in centres
        if not (
            mol.GetAtomWithIdx(index).GetSymbol() == "N" and mol.GetAtomWithIdx(index).GetTotalNumHs() > 0
        )
    ]


def _stereocentres(mol: Chem.Mol) -> int:
    return len(stereocentres(mol))


# In the order a molecule's properties list them.
DESCRIPTORS: dict[str, Descriptor] = {
    "mw": Descriptor(Descriptors.MolWt, "Molecular weight (Da).", 2),
    "clogp": Descriptor(Crippen.MolLogP, "Crippen cLogP.", 2),
    "tpsa": Descriptor(rdMolDescriptors.CalcTPSA, "Topological polar surface area (Å²).", 2),
    "hbd": Descriptor(Lipinski.NumHDonors, "Hydrogen-bond donors (Lipinski)."),
    "hba": Descriptor(Lipinski.NumHAcceptors, "Hydrogen-bond acceptors (Lipinski)."),
    "rotatable_bonds": Descriptor(rdMolDescriptors.CalcNumRotatableBonds, "Rotatable bonds."),
    "rings": Descriptor(rdMolDescriptors.CalcNumRings, "Number of rings (SSSR)."),
    "aromatic_rings": Descriptor(rdMolDescriptors.CalcNumAromaticRings, "Number of aromatic rings."),
    "heavy_atoms": Descriptor(Chem.Mol.GetNumHeavyAtoms, "Heavy-atom count."),
    "fraction_sp3": Descriptor(rdMolDescriptors.CalcFractionCSP3, "Fraction of sp3 carbons.", 3),
    "stereocentres": Descriptor(_stereocentres, "Stereocentres, assigned or not."),
    "qed": Descriptor(QED.qed, "Quantitative estimate of drug-likeness (Bickerton et al. 2012), 0 to 1.", 3),
    # Ertl & Schuffenhauer 2009, from RDKit Contrib.
    "sa_score": Descriptor(
        sascorer.calculateScore, "Synthetic accessibility score, 1 (easy) to 10 (hard).", 2
    ),
}


def descriptor_values(mol: Chem.Mol) -> dict[str, float]:
    """Every descriptor of :data:`DESCRIPTORS` for ``mol``, rounded as a molecule's properties show it."""
    values = {}
    for name, descriptor in DESCRIPTORS.items():
        value = descriptor.function(mol)
        values[name] = value if descriptor.digits is None else round(value, descriptor.digits)
    return values
