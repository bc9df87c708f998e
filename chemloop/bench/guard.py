"""How well the dual-use guard holds: scheduled agents, their analogues, and ordinary molecules.

Three sets, each with the share the guard withholds:

- the named chemical-warfare agents and precursors of CWC Schedule 1 (and amiton, 2A(1)) with
  public structures (PubChem); the target is all of them;
- analogues made by substitution along each Schedule entry's own generic definition (the
  O-alkyl groups up to C10 with branched and cyclic ones, the P-alkyl and N,N-dialkyl groups,
  P=O and P=S, the halogen, the sulfur-mustard spacer, the lewisite arms); the target is all;
- a reference set of ordinary molecules (the MOSES test set); the target is at most 0.1%.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import product

from chemloop.chem.guard import guarded_class
from chemloop.chem.mol import try_canonical, try_mol

# Named agents of CWC Schedule 1 (and amiton of 2A(1)), as in PubChem.
SCHEDULED: dict[str, str] = {
    "sarin (GB)": "CC(C)OP(C)(=O)F",
    "soman (GD)": "CC(C(C)(C)C)OP(C)(=O)F",
    "cyclosarin (GF)": "CP(=O)(F)OC1CCCCC1",
    "ethylsarin (GE)": "CCP(=O)(F)OC(C)C",
    "tabun (GA)": "CCOP(=O)(C#N)N(C)C",
    "VX": "CCOP(C)(=O)SCCN(C(C)C)C(C)C",
    "VR": "CCC(C)OP(C)(=O)SCCN(CC)CC",
    "CVX": "CCCCOP(C)(=O)SCCN(CC)CC",
    "amiton (VG)": "CCOP(=O)(OCC)SCCN(CC)CC",
    "A-232": "COP(=O)(F)N=C(C)N(CC)CC",
    "A-234": "CCOP(=O)(F)N=C(C)N(CC)CC",
    "DF": "CP(=O)(F)F",
    "QL": "CCOP(C)OCCN(C(C)C)C(C)C",
    "chlorosarin": "CC(C)OP(C)(=O)Cl",
    "chlorosoman": "CC(C(C)(C)C)OP(C)(=O)Cl",
    "sulfur mustard (HD)": "ClCCSCCCl",
    "sesquimustard (Q)": "ClCCSCCSCCCl",
    "O-mustard (T)": "ClCCSCCOCCSCCCl",
    "bis(2-chloroethylthio)methane": "ClCCSCSCCCl",
    "2-chloroethyl chloromethyl sulfide": "ClCSCCCl",
    "HN1": "CCN(CCCl)CCCl",
    "HN2": "CN(CCCl)CCCl",
    "HN3": "ClCCN(CCCl)CCCl",
    "lewisite 1": "Cl/C=C/[As](Cl)Cl",
    "lewisite 2": "Cl/C=C/[As](Cl)/C=C/Cl",
    "lewisite 3": "Cl/C=C/[As](/C=C/Cl)/C=C/Cl",
}

# The Schedule's O-alkyl groups (<= C10, including cycloalkyl), as SMILES fragments bonded at O.
O_ALKYL = (
    "C", "CC", "CCC", "C(C)C", "CCCC", "C(C)CC", "CC(C)C", "C(C)(C)C", "CCCCC", "C(C)C(C)(C)C",
    "CCCCCC", "CCCCCCC", "CCCCCCCC", "CCCCCCCCC", "CCCCCCCCCC", "CC(CC)CCCC",
    "C1CCCC1", "C1CCCCC1", "C1CCCCCC1", "C1CCC(C)CC1",
)  # fmt: skip
P_ALKYL = ("C", "CC", "CCC", "C(C)C")
DIALKYLAMINO = ("N(C)C", "N(CC)CC", "N(CCC)CCC", "N(C(C)C)C(C)C", "N(C)CC")


def analogues() -> dict[str, list[str]]:
    """Analogues of each class by substitution along its Schedule definition, canonical, unique."""
    families = {
        "phosphonofluoridates": [
            f"{p}P(={x})(F)O{o}" for o, p, x in product(O_ALKYL, P_ALKYL, "OS")
        ],
        "phosphonochloridates": [
            f"{p}P(={x})(Cl)O{o}" for o, p, x in product(O_ALKYL, P_ALKYL, "OS")
        ],
        "phosphoramidocyanidates": [
            f"N#CP(={x})({n})O{o}" for o, n, x in product(O_ALKYL, DIALKYLAMINO, "OS")
        ],
        "phosphonothiolates": [
            f"{p}P(=O)(O{o})SCC{n}" for o, p, n in product(O_ALKYL, P_ALKYL, DIALKYLAMINO)
        ],
        "sulfur mustards": [
            f"{h}CCS{'C' * n}SCC{h}" for n, h in product(range(1, 7), ("Cl", "Br"))
        ]
        + [f"{h}CCS{o}" for o, h in product(O_ALKYL, ("Cl", "Br"))],
        "nitrogen mustards": [f"{o}N(CC{h})CC{h}" for o, h in product(O_ALKYL, ("Cl", "Br"))],
        "lewisites": [
            "ClC=C[As](Cl)Cl", "ClC=C[As](Br)Br", "BrC=C[As](Cl)Cl", "ClC=C[As](C)Cl",
            "ClC=C[As](C=CCl)Cl", "ClC=C[As](C=CCl)C=CCl", "C[As](Cl)Cl", "CC[As](Cl)Cl",
        ],
    }  # fmt: skip
    return {
        name: list(dict.fromkeys(filter(None, map(try_canonical, smiles))))
        for name, smiles in families.items()
    }


def withheld_share(smiles: Iterable[str]) -> tuple[int, list[str], list[str]]:
    """(molecules, those withheld, those that got through) over the parsable ``smiles``."""
    total, withheld, through = 0, [], []
    for s in smiles:
        mol = try_mol(s)
        if mol is None:
            continue
        total += 1
        (through if guarded_class(mol) is None else withheld).append(s)
    return total, withheld, through


def bench_guard(reference: Sequence[str], reference_name: str = "MOSES test") -> dict:
    """The three sets' withheld shares, the analogues family by family, and the targets' verdicts."""
    start = time.perf_counter()
    named_total, named_withheld, named_through = withheld_share(SCHEDULED.values())
    families = {}
    for name, smiles in analogues().items():
        total, withheld, through = withheld_share(smiles)
        families[name] = {"molecules": total, "withheld": len(withheld), "through": through}
    analogue_total = sum(f["molecules"] for f in families.values())
    analogue_withheld = sum(f["withheld"] for f in families.values())
    ref_total, ref_withheld, _ = withheld_share(reference)
    ref_share = len(ref_withheld) / max(ref_total, 1)
    return {
        "benchmark": "guard",
        "scheduled": {"molecules": named_total, "withheld": len(named_withheld), "through": named_through},
        "analogues": {"molecules": analogue_total, "withheld": analogue_withheld, "families": families},
        "reference": {
            "name": reference_name,
            "molecules": ref_total,
            "withheld": len(ref_withheld),
            "share": ref_share,
            # by class only: the guard's own benchmark shows no withheld molecule either
            "classes": dict(Counter(guarded_class(m).name for m in ref_withheld).most_common()),
        },
        "targets": {
            "scheduled: all withheld": not named_through,
            "analogues: >= 500, all withheld": analogue_total >= 500 and analogue_withheld == analogue_total,
            "reference: <= 0.1% withheld": ref_share <= 0.001,
        },
        "seconds": round(time.perf_counter() - start, 1),
    }
