"""One PMO table from several ``chemloop bench pmo`` outputs (a benchmark split over processes).

Two processes on a 2-core machine each run a share of the tasks; this merges their JSON
files (refusing files whose optimizer settings or budget differ) and prints per-task AUC
top-10 beside published REINVENT, with the sum over the tasks run.

    python bench/pmo_table.py bench/results/pmo_s6_A.json bench/results/pmo_s6_B.json \\
        [--complete-seeds] [--output bench/results/pmo_s6.json] [--markdown]

``--complete-seeds`` keeps only the seeds every task has reached; ``--markdown`` also prints
the table as the README shows it (with oracle calls used and what stopped the runs).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rich.console import Console

from chemloop.bench.pmo import merge_result_files
from chemloop.bench.pmo_reference import (
    AUGMENTED_MEMORY_SUM_ALL,
    REINVENT,
    REINVENT_SUM_ALL,
    compare,
    format_table,
)


def markdown_table(merged: dict) -> str:
    """Per task: our mean ± std, published REINVENT, the difference, calls used, s/run, stops."""
    lines = [
        "| task | chemloop | REINVENT (published) | Δ | calls used (mean) | stopped by | s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = compare(merged["summary"])
    for task, row, mean, std, delta in rows:
        runs = [r for r in merged["runs"] if r["task"] == task]
        calls = sum(r["oracle_calls"] for r in runs) / len(runs)
        stops = ", ".join(
            f"{k} {v}" if len(runs) > 1 else k for k, v in Counter(r["stopped_by"] for r in runs).items()
        )
        bold = "**" if abs(delta) > max(std, row["std"], 0.01) else ""
        lines.append(
            f"| {task} | {row['mean']:.3f} ± {row['std']:.3f} | {mean:.3f} ± {std:.3f} | "
            f"{bold}{delta:+.3f}{bold} | {calls:,.0f} | {stops} | {row['seconds']:,.0f} |"
        )
    ours, theirs = sum(r[1]["mean"] for r in rows), sum(r[2] for r in rows)
    lines.append(
        f"| **sum, {len(merged['summary'])} tasks** | **{ours:.3f}** | **{theirs:.3f}** "
        f"| **{ours - theirs:+.3f}** | | | |"
    )
    if len(merged["summary"]) == len(REINVENT):
        lines.append(
            f"\nPublished sums over all 23 tasks: REINVENT {REINVENT_SUM_ALL}, "
            f"Augmented Memory {AUGMENTED_MEMORY_SUM_ALL}."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON files of chemloop bench pmo")
    parser.add_argument("--complete-seeds", action="store_true", help="only seeds every task reached")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", action="store_true", help="also print the README's table")
    args = parser.parse_args()
    merged = merge_result_files(args.results, args.complete_seeds)
    merged["sources"] = [str(p) for p in args.results]
    merged["reinvent_sum_same_tasks"] = sum(REINVENT[t][0] for t in merged["summary"])
    Console().print(format_table(merged["summary"], merged["budget"]))
    print(
        f"runs: {len(merged['runs'])}, stopped by: {dict(Counter(r['stopped_by'] for r in merged['runs']))}"
    )
    if args.markdown:
        print(markdown_table(merged))
    if args.output:
        args.output.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
