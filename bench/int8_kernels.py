"""Which int8 kernel is fastest on this machine for a SMILES GPT's linear layers.

Times one linear layer (``batch × in → out``, the shapes of a 6-layer, 256-wide model's
decode step) with each kernel PyTorch or torchao offers on a CPU, medians of repeats, all in
one run: fp32, bf16, PyTorch's quantized engine with dynamic int8 activations (what
``torch.ao.quantization.quantize_dynamic`` and chemloop's ``int8`` ``dynamic`` scheme run),
``_weight_int8pack_mm`` (int8 weight-only), ``_int_mm`` with per-row activation quantization
(int8 × int8), and, if torchao is installed, torchao's ``Int8WeightOnlyConfig`` and
``Int8DynamicActivationInt8WeightConfig`` on a real ``nn.Linear``.

    OMP_NUM_THREADS=1 python bench/int8_kernels.py [--batch 1024] [--output bench/results/int8_kernels.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

SHAPES = [(256, 768), (256, 1024), (1024, 256), (256, 256)]  # qkv, mlp.up, mlp.down, attn.proj


def timed(call: Callable[[], object], repeats: int = 5) -> float:
    """Median milliseconds per call (about 0.1 s of calls per repeat; slow kernels once)."""
    call()
    start = time.perf_counter()
    call()
    inner = max(1, min(20, int(0.1 / max(1e-6, time.perf_counter() - start))))
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            call()
        runs.append((time.perf_counter() - start) / inner * 1e3)
    return statistics.median(runs)


def kernels(x: torch.Tensor, weight: torch.Tensor) -> dict[str, Callable[[], object]]:
    from chemloop.model.quantized import Int8Linear

    linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    linear.weight.data = weight
    engine = Int8Linear.from_linear(linear, "dynamic").eval()
    q, scale = engine.weight_int8, engine.weight_scale
    q_t = q.t().contiguous()
    xb, wb = x.bfloat16(), weight.bfloat16()

    def int_mm() -> torch.Tensor:
        row_scale = x.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127
        xq = torch.round(x / row_scale).to(torch.int8)
        return torch._int_mm(xq, q_t).float() * row_scale * scale

    found = {
        "fp32": lambda: F.linear(x, weight),
        "bf16": lambda: F.linear(xb, wb),
        "engine dynamic int8 (chemloop int8)": lambda: engine(x),
        "_weight_int8pack_mm (weight-only)": lambda: torch.ops.aten._weight_int8pack_mm(x, q, scale),
        "_int_mm (dynamic)": int_mm,
    }
    found.update(_torchao(linear, x))
    return found


def _torchao(linear: torch.nn.Linear, x: torch.Tensor) -> dict[str, Callable[[], object]]:
    try:
        import copy

        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except ImportError:
        return {}
    out = {}
    for name, config in [
        ("torchao weight-only", Int8WeightOnlyConfig()),
        ("torchao dynamic", Int8DynamicActivationInt8WeightConfig()),
    ]:
        layer = torch.nn.Sequential(copy.deepcopy(linear))
        quantize_(layer, config)
        out[name] = lambda layer=layer: layer(x)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1024, help="rows: sequences sampled at once")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from chemloop.bench.machine import describe

    torch.manual_seed(0)
    rows = []
    with torch.no_grad():
        for k, n in SHAPES:
            x, weight = torch.randn(args.batch, k), torch.randn(n, k) * 0.02
            times = {name: round(timed(call), 3) for name, call in kernels(x, weight).items()}
            rows.append({"shape": [args.batch, k, n], "ms": times})
            print(
                f"{args.batch} x {k} -> {n}: "
                + ", ".join(f"{name} {ms:.2f} ms" for name, ms in times.items())
            )
    result = {
        "machine": describe(torch.device("cpu")),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "quantized_engine": torch.backends.quantized.engine,
        "rows": rows,
    }
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
