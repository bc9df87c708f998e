"""DRD2 activity: the probability of the PMO benchmark's DRD2 classifier (Olivecrona et al. 2017's
SVM as shipped by TDC). An optional extra: it needs scikit-learn and molscore's model file."""

from rdkit import Chem

from chemloop.score.oracles.pmo import oracle
from chemloop.score.registry import component


@component("drd2")
def drd2(mols: list[Chem.Mol]) -> list[float]:
    """Predicted probability of DRD2 activity (PMO's model; needs the pmo-models extra)."""
    return oracle("drd2")(mols)
