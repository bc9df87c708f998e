"""One PMO table from several ``chemloop bench pmo`` outputs (a benchmark split over processes).

Two processes on a 2-core machine each run a share of the tasks; this merges their JSON
files (refusing files whose optimizer settings or budget differ) and prints per-task AUC
top-10 beside published REINVENT, with the sum over the tasks run.

    python bench/pmo_table.py bench/results/pmo_s6_A.json bench/results/pmo_s6_B.json \\
        [--complete-seeds] [--output bench/results/pmo_s6.json]

``--complete-seeds`` keeps only the seeds every task has reached.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rich.console import Console

from chemloop.bench.pmo import merge_results
from chemloop.bench.pmo_reference import REINVENT, format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON files of chemloop bench pmo")
    parser.add_argument("--complete-seeds", action="store_true", help="only seeds every task reached")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    merged = merge_results([json.loads(p.read_text()) for p in args.results], args.complete_seeds)
    merged["sources"] = [str(p) for p in args.results]
    merged["reinvent_sum_same_tasks"] = sum(REINVENT[t][0] for t in merged["summary"])
    Console().print(format_table(merged["summary"], merged["budget"]))
    print(
        f"runs: {len(merged['runs'])}, stopped by: {dict(Counter(r['stopped_by'] for r in merged['runs']))}"
    )
    if args.output:
        args.output.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
