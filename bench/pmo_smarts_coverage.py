"""How often MOSES molecules carry valsartan_smarts' required substructure.

PMO's valsartan_smarts task scores 0 unless a molecule matches one SMARTS (an N-acyl,
N-methyl biphenylmethylamine, the sartans' core); until the agent writes one, every score is
0 and there is nothing to learn from. This counts the matches in MOSES, the shipped prior's
corpus, to say how rare that first hit is.

    python bench/pmo_smarts_coverage.py [--splits test,test_scaffolds] \\
        [--output bench/results/pmo_smarts_coverage.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", default="test,test_scaffolds", help="MOSES splits (train: 1.58M)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/pmo_smarts_coverage.json"))
    args = parser.parse_args()

    from rdkit import Chem, RDLogger

    from chemloop.bench.machine import describe
    from chemloop.data.corpus import load_moses
    from chemloop.score.oracles.pmo import VALSARTAN_SMARTS

    RDLogger.DisableLog("rdApp.*")
    pattern = Chem.MolFromSmarts(VALSARTAN_SMARTS)
    splits = {}
    for split in args.splits.split(","):
        molecules = load_moses(split)
        hits = [s for s in molecules if _matches(Chem.MolFromSmiles(s), pattern)]
        rate = len(hits) / len(molecules)
        splits[split] = {"molecules": len(molecules), "matches": len(hits), "rate": rate, "matching": hits}
        print(f"{split}: {len(hits)} of {len(molecules):,} match ({rate:.2e})")
    result = {"machine": describe(), "smarts": VALSARTAN_SMARTS, "splits": splits}
    args.output.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


def _matches(mol, pattern) -> bool:
    return mol is not None and mol.HasSubstructMatch(pattern)


if __name__ == "__main__":
    main()
