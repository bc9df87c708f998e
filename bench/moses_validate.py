"""Check our MOSES metrics against the published "Train" row.

Evaluates a seeded random sample of the MOSES training set (30,000 molecules, as MOSES
evaluates 30,000 samples per model) against the MOSES test and scaffold-test sets, and
prints it beside the published rows. Reference statistics are built on the first run and
cached (see ``chemloop.bench.moses_metrics``).

    nice -n 10 python bench/moses_validate.py [--n 30000] [--seed 0] [--n-jobs 2]

``--threads`` (default 1) caps BLAS/OpenMP threads: on a busy machine, multi-threaded
BLAS oversubscribes the cores and scipy's ``sqrtm`` inside the FCD slows down ~20x.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30_000, help="training molecules to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    args = parser.parse_args()
    for var in THREAD_VARS:  # before numpy, scipy and torch load their thread pools
        os.environ[var] = str(args.threads)
    from rich.console import Console

    from chemloop.bench import moses_metrics as mm
    from chemloop.bench.moses_reference import METRIC_KEYS, PUBLISHED, format_table
    from chemloop.data.corpus import load_moses

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    console = Console()
    opts = {"cache_dir": args.cache_dir, "n_jobs": args.n_jobs}

    timings = {}
    refs = {}
    for split in ("test", "test_scaffolds"):
        start = time.perf_counter()
        refs[split] = mm.moses_reference_stats(split, device=args.device, **opts)
        timings[f"reference stats {split} ({refs[split].n} mols)"] = time.perf_counter() - start
    start = time.perf_counter()
    train_set = mm.moses_train_canonical(**opts)
    timings[f"canonical train set ({len(train_set)} mols)"] = time.perf_counter() - start

    train = load_moses("train")
    sample = random.Random(args.seed).sample(train, args.n)
    start = time.perf_counter()
    ours = mm.moses_metrics(
        sample,
        train=train_set,
        test=refs["test"],
        test_scaffolds=refs["test_scaffolds"],
        device=args.device,
        n_jobs=args.n_jobs,
    )
    timings[f"moses_metrics on {args.n} molecules"] = time.perf_counter() - start

    console.print(format_table(ours, f"train sample {args.n // 1000}k"))
    published = PUBLISHED["Train"]
    console.print("deviation from the published Train row (ours - published):")
    for key in METRIC_KEYS:
        console.print(f"  {key:<13} {ours[key] - published[key]:+.4f}")
    start = time.perf_counter()
    fps = mm.fingerprints_of(sample, n_jobs=args.n_jobs)
    paper = mm.internal_diversity(fps, 2, per_molecule=False)
    console.print(
        f"IntDiv2 by the paper's formula 1 - sqrt(mean T^2): {paper:.4f} "
        f"(MOSES implementation: {ours['IntDiv2']:.4f}); "
        f"{time.perf_counter() - start:.0f} s"
    )
    for what, seconds in timings.items():
        console.print(f"time: {what}: {seconds:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"metrics": ours, "timings_s": timings}, indent=2))


if __name__ == "__main__":
    main()
