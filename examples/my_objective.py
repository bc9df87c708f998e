"""A scoring plugin as a user writes one: a function from SMILES to scores in [0, 1].

Here: kinase-hinge-binder-like molecules, rewarding an aminopyrimidine and a cLogP near 3.
Used by examples/plugin.toml; chemloop runs it only because the config names it.
"""

import math

from rdkit import Chem
from rdkit.Chem import Crippen

HINGE_BINDER = Chem.MolFromSmarts("c1nc(N)ncc1")


def score(smiles: list[str]) -> list[float]:
    scores = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            scores.append(float("nan"))  # chemloop records NaN with a reason; it never crashes the run
            continue
        logp_term = math.exp(-((Crippen.MolLogP(mol) - 3.0) ** 2) / 2)
        scores.append((0.5 + 0.5 * mol.HasSubstructMatch(HINGE_BINDER)) * logp_term)
    return scores
