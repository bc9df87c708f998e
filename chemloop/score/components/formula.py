"""Molecular-formula (isomer) score, as in the GuacaMol/PMO isomer tasks.

Each element count is scored by a Gaussian (sigma 1) around its target, the total atom
count by a Gaussian (sigma 2), and the scores are combined by a geometric mean
(Brown et al. 2019, GuacaMol, "isomer" objectives; hydrogens counted explicitly).
"""

import math
import re
from collections import Counter

from rdkit import Chem

from chemloop.errors import ChemloopError
from chemloop.score.registry import component
from chemloop.score.transforms import gaussian


def parse_formula(formula: str) -> Counter:
    parts = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    if not parts or "".join(e + n for e, n in parts) != formula:
        raise ChemloopError(f"invalid molecular formula {formula!r} (write it like 'C11H24')")
    counts: Counter = Counter()
    for element, number in parts:
        counts[element] += int(number) if number else 1
    return counts


def _atom_counts(mol: Chem.Mol) -> Counter:
    return Counter(atom.GetSymbol() for atom in Chem.AddHs(mol).GetAtoms())


@component("formula")
def formula(mols: list[Chem.Mol], formula: str) -> list[float]:
    """How closely a molecule's atom counts match a molecular formula, 0 to 1."""
    target = parse_formula(formula)
    total = sum(target.values())
    scores = []
    for mol in mols:
        counts = _atom_counts(mol)
        terms = [gaussian(counts.get(e, 0), n, 1.0) for e, n in target.items()]
        terms.append(gaussian(sum(counts.values()), total, 2.0))
        scores.append(math.prod(terms) ** (1 / len(terms)))
    return scores
