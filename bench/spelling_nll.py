"""How well a model knows random SMILES spellings: mean NLL of canonical vs random spellings.

Augmented Memory replays random spellings of the best molecules. A prior trained on canonical
SMILES only gives those spellings far lower likelihood, so the REINVENT target (prior log-
likelihood + σ·score) asks the agent to learn spellings its prior barely writes; this
measures the gap on a seeded sample of MOSES test molecules (one random spelling each).

    OMP_NUM_THREADS=1 python bench/spelling_nll.py [--model prior] [--size 1000] [--seed 0] \\
        [--output bench/results/spelling_nll.json]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--size", type=int, default=1000, help="MOSES test molecules sampled")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sample and the spellings")
    parser.add_argument("--output", type=Path, default=Path("bench/results/spelling_nll.json"))
    args = parser.parse_args()

    from chemloop.bench.machine import describe
    from chemloop.chem.mol import randomize, try_canonical
    from chemloop.data.corpus import load_moses
    from chemloop.model import checkpoint
    from chemloop.model.likelihood import log_likelihood

    lm = checkpoint.load(args.model)
    rng = random.Random(args.seed)
    canonical = [try_canonical(s) for s in rng.sample(load_moses("test"), args.size)]
    spelled = [randomize(c, rng) for c in canonical]  # what the agent replays
    fits = [
        i
        for i, (c, r) in enumerate(zip(canonical, spelled, strict=True))
        if max(len(lm.tokenizer.encode(c)), len(lm.tokenizer.encode(r))) <= lm.model.config.block_size
    ]
    nll = {
        name: -log_likelihood(lm.model, lm.tokenizer, [strings[i] for i in fits]).mean().item()
        for name, strings in (("canonical", canonical), ("random", spelled))
    }
    result = {
        "model": args.model,
        "molecules": len(fits),
        "left_out_longer_than_context": args.size - len(fits),
        "mean_nll_canonical": round(nll["canonical"], 2),
        "mean_nll_random_spelling": round(nll["random"], 2),
        "seed": args.seed,
        "machine": describe(),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
