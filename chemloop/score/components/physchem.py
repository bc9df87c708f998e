"""RDKit physico-chemical descriptors as scoring components (raw values, no transform)."""

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

from chemloop.score.registry import component


@component("qed")
def qed(mols: list[Chem.Mol]) -> list[float]:
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012), 0 to 1."""
    return [QED.qed(m) for m in mols]


@component("mw")
def molecular_weight(mols: list[Chem.Mol]) -> list[float]:
    """Molecular weight (Da)."""
    return [Descriptors.MolWt(m) for m in mols]


@component("clogp")
def clogp(mols: list[Chem.Mol]) -> list[float]:
    """Crippen cLogP."""
    return [Crippen.MolLogP(m) for m in mols]


@component("tpsa")
def tpsa(mols: list[Chem.Mol]) -> list[float]:
    """Topological polar surface area (Å²)."""
    return [rdMolDescriptors.CalcTPSA(m) for m in mols]


@component("hbd")
def hbd(mols: list[Chem.Mol]) -> list[float]:
    """Hydrogen-bond donors (Lipinski)."""
    return [Lipinski.NumHDonors(m) for m in mols]


@component("hba")
def hba(mols: list[Chem.Mol]) -> list[float]:
    """Hydrogen-bond acceptors (Lipinski)."""
    return [Lipinski.NumHAcceptors(m) for m in mols]


@component("rotatable_bonds")
def rotatable_bonds(mols: list[Chem.Mol]) -> list[float]:
    """Rotatable bonds."""
    return [rdMolDescriptors.CalcNumRotatableBonds(m) for m in mols]


@component("rings")
def rings(mols: list[Chem.Mol]) -> list[float]:
    """Number of rings (SSSR)."""
    return [rdMolDescriptors.CalcNumRings(m) for m in mols]


@component("aromatic_rings")
def aromatic_rings(mols: list[Chem.Mol]) -> list[float]:
    """Number of aromatic rings."""
    return [rdMolDescriptors.CalcNumAromaticRings(m) for m in mols]


@component("heavy_atoms")
def heavy_atoms(mols: list[Chem.Mol]) -> list[float]:
    """Heavy-atom count."""
    return [m.GetNumHeavyAtoms() for m in mols]


@component("fraction_sp3")
def fraction_sp3(mols: list[Chem.Mol]) -> list[float]:
    """Fraction of sp3 carbons."""
    return [rdMolDescriptors.CalcFractionCSP3(m) for m in mols]


@component("stereocentres")
def stereocentres(mols: list[Chem.Mol]) -> list[float]:
    """Stereocentres, assigned or not."""
    return [
        len(Chem.FindMolChiralCenters(m, includeUnassigned=True, useLegacyImplementation=False)) for m in mols
    ]
