"""How long a prior's molecules are against its corpus: tokens of every sample (valid or not) beside
tokens of one random spelling of each held-out molecule, heavy atoms of the valid samples beside
the held-out molecules', and the corpus reweighted by 1/length (what a loss that weighs every
molecule alike, whatever its length, teaches a model to write).

    python bench/sample_lengths.py --model prior --num 3000 --seed 1 --precision bf16 \
        --output bench/results/sample_lengths_prior.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np


def quantiles(values: list[float] | np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """p10, median, p90 and mean, optionally of the distribution reweighted by ``weights``."""
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    picked = {f"p{p}": float(values[order][np.searchsorted(cumulative, p / 100)]) for p in (10, 50, 90)}
    return {**picked, "mean": round(float(np.average(values, weights=weights)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--num", type=int, default=3000, help="samples, and held-out molecules spelled")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    from rdkit import Chem

    from chemloop.bench.machine import describe
    from chemloop.bench.prior_metrics import load_split, split_options
    from chemloop.chem.mol import random_spelling
    from chemloop.model import checkpoint
    from chemloop.model.generate import sample

    lm = checkpoint.load(args.model)
    heldout = load_split(split_options(args.model)).heldout
    heldout = random.Random(args.seed).sample(heldout, min(args.num, len(heldout)))
    spelled = [lm.tokenizer.encode(random_spelling(s, seed=i + 1)) for i, s in enumerate(heldout)]
    corpus_tokens = np.array([len(ids) for ids in spelled], dtype=float)
    report = sample(lm, args.num, seed=args.seed, precision=args.precision)
    sample_tokens = [len(lm.tokenizer.encode(m.smiles)) for m in report.molecules]
    valid_atoms = [Chem.MolFromSmiles(m.canonical).GetNumHeavyAtoms() for m in report.molecules if m.valid]
    result = {
        "benchmark": "sample_lengths",
        "machine": describe(),
        "model": args.model,
        "num": args.num,
        "seed": args.seed,
        "validity": round(report.validity, 4),
        "tokens": {
            "samples": quantiles(sample_tokens),
            "heldout_random_spellings": quantiles(corpus_tokens),
            "heldout_reweighted_by_1_over_length": quantiles(corpus_tokens, 1 / corpus_tokens),
        },
        "heavy_atoms": {
            "valid_samples": quantiles(valid_atoms),
            "heldout": quantiles([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in heldout]),
        },
    }
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
