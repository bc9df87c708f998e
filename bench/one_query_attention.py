"""One new token's attention over a KV-cache block, the two ways sampling can compute it.

PyTorch's fused attention (``scaled_dot_product_attention`` with a mask over the unfilled tail)
against batched matrix products and a softmax (the two functions of ``chemloop.model.gpt``), at
the shapes of sampling the default prior (batch 1,024, 4 heads of 64, a 48-position block with 40
filled), in bf16 and fp32, one thread.
Which is faster depends on the chip; ``chemloop.model.gpt._one_query_attention`` picks by it.

    OMP_NUM_THREADS=1 python bench/one_query_attention.py [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from chemloop.bench.machine import describe
from chemloop.model.gpt import fused_one_query_attention, one_query_attention_by_products


def milliseconds(kernel, args: tuple, calls: int, rounds: int) -> float:
    """The median over ``rounds`` of the mean time of ``calls`` calls."""
    kernel(*args)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            kernel(*args)
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--capacity", type=int, default=48)
    parser.add_argument("--filled", type=int, default=40)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        q, k, v = (torch.randn(args.batch, 4, n, 64, dtype=dtype) for n in (1, args.capacity, args.capacity))
        shape = (q, k, v, args.filled)
        fused_ms = milliseconds(fused_one_query_attention, shape, args.calls, args.rounds)
        products_ms = milliseconds(one_query_attention_by_products, shape, args.calls, args.rounds)
        rows[name] = {
            "fused_ms": round(fused_ms, 3),
            "products_ms": round(products_ms, 3),
            "fused_over_products": round(fused_ms / products_ms, 2),
        }
        print(
            f"{name}: fused {fused_ms:.2f} ms, products {products_ms:.2f} ms ({fused_ms / products_ms:.2f}x)"
        )
    if args.output:
        result = {
            "machine": describe(),
            "threads": torch.get_num_threads(),
            "args": vars(args) | {"output": str(args.output)},
            "results": rows,
        }
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
