"""How long the PMO reference molecules are for the shipped prior, beside what it was trained on.

The prior's context is ``block_size`` tokens (``<bos>`` and ``<eos>`` included), and it was
trained on MOSES, whose molecules are lead-like (MW 250–350). An MPO task built around a
larger drug asks the agent to write sequences as long as, or longer than, almost anything its
prior ever saw; this prints each reference molecule's canonical token count, the share of
MOSES training molecules at least that long, and how many tokens are left before the context
ends.

    python bench/pmo_target_lengths.py [--model prior] [--size 100000] [--seed 0] \\
        [--output bench/results/pmo_target_lengths.json]
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--size", type=int, default=100_000, help="MOSES training molecules sampled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("bench/results/pmo_target_lengths.json"))
    args = parser.parse_args()

    from chemloop.bench.machine import describe
    from chemloop.chem.mol import try_canonical
    from chemloop.data.corpus import load_moses
    from chemloop.model import checkpoint
    from chemloop.score.oracles import pmo

    lm = checkpoint.load(args.model)
    tokens = lm.tokenizer.encode  # with <bos> and <eos>: what the context has to hold
    sample = random.Random(args.seed).sample(load_moses("train"), args.size)
    corpus = sorted(len(tokens(s)) for s in sample)
    references = {
        name.lower(): value
        for name, value in vars(pmo).items()
        if name.isupper()
        and isinstance(value, str)
        and name not in {"MODELS_EXTRA", "HOP_SCAFFOLD"}
        and try_canonical(value) is not None  # SMARTS-only constants are not molecules
    }
    rows = {}
    for name, smiles in sorted(references.items()):
        length = len(tokens(try_canonical(smiles)))
        at_least = (len(corpus) - bisect.bisect_left(corpus, length)) / len(corpus)
        rows[name] = {"tokens": length, "moses_share_at_least_as_long": round(at_least, 5)}
    block = lm.model.config.block_size
    result = {
        "machine": describe(),
        "model": args.model,
        "block_size": block,
        "moses_train_sample": args.size,
        "moses_tokens_p50_p99_max": [corpus[len(corpus) // 2], corpus[int(len(corpus) * 0.99)], corpus[-1]],
        "references": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"context {block} tokens; MOSES train p50/p99/max {result['moses_tokens_p50_p99_max']}")
    for name, row in rows.items():
        share = row["moses_share_at_least_as_long"]
        print(f"{name:24s} {row['tokens']:3d} tokens; MOSES share at least as long {share:.4f}")


if __name__ == "__main__":
    main()
