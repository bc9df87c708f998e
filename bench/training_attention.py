"""Training-step speed of a SMILES GPT by the attention kernel its CPU backward pass goes through.

PyTorch offers a fused (flash) attention kernel and an unfused (math) one; on a CPU the model trains
in bf16 with the kernel in ``chemloop.model.gpt.CPU_TRAINING_ATTENTION``, in fp32 with the fused
one. This times forward, backward and an AdamW step on the same random batch with each kernel in
fp32 and in bf16 autocast, the variants in turn within every round, and reports the median
tokens/s of each.

    OMP_NUM_THREADS=1 python bench/training_attention.py [--model prior] [--batch-size 256]
        [--length 48] [--rounds 5] [--output bench/results/training_attention.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

KERNELS = {"fused": SDPBackend.FLASH_ATTENTION, "math": SDPBackend.MATH}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--length", type=int, default=48, help="tokens per sequence")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant and round")
    parser.add_argument("--output", type=Path, default=Path("bench/results/training_attention.json"))
    args = parser.parse_args()

    from chemloop.bench.machine import describe
    from chemloop.model import checkpoint, gpt

    model = checkpoint.load(args.model).model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(4, model.config.vocab_size, (args.batch_size, args.length), generator=generator)

    def train_step(precision: str) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    variants = [(kernel, precision) for kernel in KERNELS for precision in ("fp32", "bf16")]
    rates: dict[str, list[float]] = {f"{k} {p}": [] for k, p in variants}
    tokens = args.batch_size * (args.length - 1) * args.steps
    for _ in range(args.rounds):
        for kernel, precision in variants:
            # The model picks the kernel for bf16 itself; the outer context sets it for fp32.
            gpt.CPU_TRAINING_ATTENTION = KERNELS[kernel]
            with sdpa_kernel(KERNELS[kernel]):
                train_step(precision)  # warm-up: the kernel's first call with these shapes
                start = time.perf_counter()
                for _ in range(args.steps):
                    train_step(precision)
            rates[f"{kernel} {precision}"].append(tokens / (time.perf_counter() - start))
    medians = {name: round(statistics.median(r)) for name, r in rates.items()}
    result = {
        "machine": describe(),
        "threads": torch.get_num_threads(),
        "model": args.model,
        "batch_size": args.batch_size,
        "length": args.length,
        "rounds": args.rounds,
        "tokens_per_s_median": medians,
        "tokens_per_s_runs": {name: [round(x) for x in r] for name, r in rates.items()},
    }
    for precision in ("fp32", "bf16"):
        fused, math = medians[f"fused {precision}"], medians[f"math {precision}"]
        print(f"{precision}: fused {fused}, math {math} tokens/s ({math / fused:.2f}x)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
