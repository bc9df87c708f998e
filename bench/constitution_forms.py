"""Principles broken by a prior's samples as written and as compounds (their neutral forms).

The default prior writes ZINC-250k's pH-7 forms (ammoniums, carboxylates); the constitution's
checks judge each molecule's neutral form. This counts, per principle of the default constitution,
the valid samples that break it checked as written and checked as compounds, and writes them with
the machine.

    OMP_NUM_THREADS=1 python bench/constitution_forms.py [--model prior] [--num 5000] [--seed 0] \\
        [--output bench/results/constitution_forms.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--num", type=int, default=5000, help="strings to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    from collections import Counter

    from rdkit import Chem

    import chemloop
    from chemloop.bench.result_file import result_record, write_result
    from chemloop.constitution.principles import default_constitution

    rules = default_constitution()
    computable = [p for p in rules.principles if p.computable]
    samples = chemloop.sample(chemloop.load_model(args.model), args.num, seed=args.seed)
    mols = [Chem.MolFromSmiles(m.canonical) for m in samples.molecules if m.valid]
    as_written = [{p.id for p in computable if p._violation(m) is not None} for m in mols]
    as_compounds = [set(rules.violations(m)) for m in mols]
    written, compounds = (
        Counter(i for v in as_written for i in v),
        Counter(i for v in as_compounds for i in v),
    )
    per_principle = {p.id: {"as_written": written[p.id], "as_compounds": compounds[p.id]} for p in computable}
    charged = sum(any(atom.GetFormalCharge() for atom in m.GetAtoms()) for m in mols)
    result = result_record(
        args,
        valid=len(mols),
        charged=charged,
        any_as_written=round(sum(bool(v) for v in as_written) / len(mols), 4),
        any_as_compounds=round(sum(bool(v) for v in as_compounds) / len(mols), 4),
        per_principle=per_principle,
    )
    for principle, counts in per_principle.items():
        print(f"{principle:20s} {counts['as_written']:6d} {counts['as_compounds']:6d}")
    print(
        f"{len(mols)} valid ({charged} charged): some principle broken as written "
        f"{result['any_as_written']:.3f}, as compounds {result['any_as_compounds']:.3f}"
    )
    write_result(result, args.output)


if __name__ == "__main__":
    main()
