"""Wall time of Vina docking (dockstring, DRD2) on this machine: one drug-sized MOSES molecule on
one core, then a few molecules over the local backend's worker processes. No cache.

Also reports the CPU seconds the docking processes used (Vina, Open Babel, the workers): on a
machine shared with other jobs that number holds still while wall time grows.

    python bench/docking_speed.py --molecules 4 --workers 2 --output bench/results/docking_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from chemloop.bench.machine import cpu_name
from chemloop.data.corpus import load_moses
from chemloop.dock import DockSettings, LocalBackend, dock_many, resolve_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="DRD2")
    parser.add_argument("--exhaustiveness", type=int, default=8)
    parser.add_argument("--molecules", type=int, default=4, help="molecules for the parallel run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    smiles = load_moses("test")[::10_000][: args.molecules]  # spread over the test set
    target = resolve_target(args.target)
    settings = DockSettings(exhaustiveness=args.exhaustiveness, seed=0, cpus=1, timeout=600)

    load_before = [round(x, 2) for x in os.getloadavg()]
    start, cpu = time.perf_counter(), _children_cpu()
    [one] = dock_many(smiles[:1], target, settings, backend=LocalBackend(1))
    single, single_cpu = time.perf_counter() - start, _children_cpu() - cpu

    start, cpu = time.perf_counter(), _children_cpu()
    batch = dock_many(smiles, target, settings, backend=LocalBackend(args.workers))
    parallel, parallel_cpu = time.perf_counter() - start, _children_cpu() - cpu

    report = {
        "target": target.name,
        "exhaustiveness": args.exhaustiveness,
        "single": {
            "smiles": one.smiles,
            "score": one.score,
            "wall_s": round(single, 1),
            "cpu_s": round(single_cpu, 1),
            "cpus": 1,
        },
        "parallel": {
            "molecules": len(smiles),
            "workers": args.workers,
            "cpus_per_call": 1,
            "wall_s": round(parallel, 1),
            "cpu_s": round(parallel_cpu, 1),
            "scores": {r.smiles: r.score if r.error is None else r.error for r in batch},
        },
        "machine": {
            "cpus": os.cpu_count(),
            "processor": cpu_name(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],  # 1, 5, 15 min
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


def _children_cpu() -> float:
    """CPU seconds of finished child processes and their own children (Vina is a grandchild)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
