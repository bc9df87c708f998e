"""SparseGPT's calibration molecules, spelled three ways: validity of the pruned prior's samples.

    OMP_NUM_THREADS=1 python bench/sparsegpt_calibration.py --sparsity 0.5 --num 20000 \
        --output bench/results/sparsegpt_calibration.json

The prior learned random spellings and samples them; its training split is stored canonical.
Each variant prunes a fresh copy of the prior with SparseGPT on 2,048 calibration molecules:
``canonical`` (what `chemloop compress` used until 2026-12-06), ``random`` (the same molecules,
one random spelling each: what it uses now for a model trained on random spellings) and
``samples`` (the prior's own valid samples, as it spells them). Every model, the unpruned prior
first, then samples ``--num`` molecules with the same seed in fp32.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import random
from pathlib import Path

from chemloop.bench.result_file import result_record, write_result
from chemloop.chem.mol import canonical as to_canonical
from chemloop.chem.mol import randomize
from chemloop.compression.calibration import batches, calibration_smiles
from chemloop.compression.prune import prune_sparsegpt
from chemloop.model import checkpoint
from chemloop.model.generate import sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--molecules", type=int, default=2048)
    parser.add_argument("--num", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    lm = checkpoint.load(args.model)
    # calibration_smiles spells them as the model writes; the first variant wants them canonical.
    chosen = calibration_smiles(args.model, lm, size=args.molecules, seed=args.seed)
    canonical = [to_canonical(s) for s in chosen]
    rng = random.Random(args.seed)
    own = sample(lm, 2 * args.molecules, seed=args.seed + 1, precision="fp32")
    spellings = {
        "canonical": canonical,
        "random": [randomize(s, rng) for s in canonical],
        "samples": [m.smiles for m in own.molecules if m.valid][: args.molecules],
    }
    rows = [_validity("unpruned", lm, args)]
    for name, smiles in spellings.items():
        pruned = dataclasses.replace(lm, model=copy.deepcopy(lm.model))
        summary = prune_sparsegpt(pruned.model, args.sparsity, batches(pruned, smiles))
        rows.append({**_validity(name, pruned, args), **summary})
        print(rows[-1], flush=True)
    write_result(result_record(args, lm.device, rows=rows), args.output)
    for row in rows:
        loss = rows[0]["validity"] - row["validity"]
        print(f"{row['calibration']:>10}: validity {row['validity']:.4f} (loss {loss:+.4f})")


def _validity(name: str, lm, args) -> dict:
    report = sample(lm, args.num, seed=args.seed, precision="fp32")
    return {"calibration": name, "validity": report.validity, "num": args.num}


if __name__ == "__main__":
    main()
