"""SparseGPT variants on the default prior: validity of samples and held-out NLL, side by side.

    OMP_NUM_THREADS=1 python bench/sparsegpt_variants.py --variants block,sequential --num 20000 \
        --output bench/results/sparsegpt_variants.json

Every variant prunes a fresh copy of the model on the same 2,048 calibration molecules
(`chemloop compress`'s default: the training split, spelled as the model writes). ``block``
prunes each block's four linear layers on the inputs the unpruned block gives them (what
`chemloop compress` does); the others prune them one after the other, each on the inputs of the
block as pruned so far ("sequential"), with the sparsity shares below. Attention holds a third of
the pruned weights (4·d² of 12·d²), the MLP two thirds, so ``attn0.3-mlp0.6`` is 50% overall. The
unpruned model first, every model samples ``--num`` molecules with the same seed in fp32 and
scores the same ``--nll-molecules`` held-out molecules.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import random
from pathlib import Path

from chemloop.bench.compress import heldout, readable
from chemloop.bench.result_file import result_record, write_result
from chemloop.compression.calibration import batches, calibration_smiles
from chemloop.compression.prune import prune_sparsegpt
from chemloop.model import checkpoint
from chemloop.model.generate import sample
from chemloop.model.likelihood import log_likelihood

ATTENTION, MLP = ("attn.qkv", "attn.proj"), ("mlp.up", "mlp.down")


def _shares(attention: float, mlp: float) -> dict[str, float]:
    return {**dict.fromkeys(ATTENTION, attention), **dict.fromkeys(MLP, mlp)}


VARIANTS = {  # name: (sequential, sparsity per sublayer)
    "block": (False, _shares(0.5, 0.5)),
    "sequential": (True, _shares(0.5, 0.5)),
    "attn0.5": (True, _shares(0.5, 0.0)),
    "mlp0.5": (True, _shares(0.0, 0.5)),
    "attn0.3-mlp0.6": (True, _shares(0.3, 0.6)),
    "attn0.6-mlp0.45": (True, _shares(0.6, 0.45)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--variants", default="block,sequential", help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--molecules", type=int, default=2048)
    parser.add_argument("--num", type=int, default=20_000)
    parser.add_argument("--nll-molecules", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    chosen = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}: choose from {', '.join(VARIANTS)}")

    lm = checkpoint.load(args.model)
    data = batches(lm, calibration_smiles(args.model, lm, size=args.molecules, seed=args.seed))
    molecules, _ = heldout(args.model)
    nll_set = random.Random(args.seed).sample(readable(lm, molecules), args.nll_molecules)
    rows = [_measure("unpruned", lm, nll_set, args)]
    print(rows[-1], flush=True)
    for name in chosen:
        sequential, shares = VARIANTS[name]
        pruned = dataclasses.replace(lm, model=copy.deepcopy(lm.model))
        summary = prune_sparsegpt(pruned.model, shares, data, sequential=sequential)
        rows.append({**_measure(name, pruned, nll_set, args), **summary, "shares": shares})
        print(rows[-1], flush=True)
    write_result(result_record(args, lm.device, rows=rows), args.output)
    for row in rows:
        loss = rows[0]["validity"] - row["validity"]
        validity, nll = row["validity"], row["heldout_nll"]
        print(f"{row['variant']:>16}: validity {validity:.4f} (loss {loss:+.4f}), held-out NLL {nll:.3f}")


def _measure(name: str, lm, nll_set: list[str], args) -> dict:
    report = sample(lm, args.num, seed=args.seed, precision="fp32")
    nll = -log_likelihood(lm.model, lm.tokenizer, nll_set).mean().item()
    return {"variant": name, "validity": report.validity, "num": args.num, "heldout_nll": nll}


if __name__ == "__main__":
    main()
