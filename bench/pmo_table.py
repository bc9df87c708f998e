"""One PMO table from several ``chemloop bench pmo`` outputs (a benchmark split over processes).

Two processes on a 2-core machine each run a share of the tasks; this merges their JSON
files (refusing files whose optimizer settings or budget differ) and prints per-task AUC
top-10 beside published REINVENT, with the sum over the tasks run.

    python bench/pmo_table.py bench/results/pmo_default_seeds012_A.json \\
        bench/results/pmo_default_seeds012_B.json [--complete-seeds] [--markdown] \\
        [--exclude-from-sum TASK,TASK] [--beside earlier.json --beside-label "MOSES prior"] \\
        [--output merged.json]

``--complete-seeds`` keeps only the seeds every task has reached; ``--markdown`` also prints
the table as docs/benchmarks/pmo.md shows it (with oracle calls used and what stopped the
runs); ``--exclude-from-sum`` marks tasks that cannot be compared with the published runs
(scored differently) and prints the sums, ours and REINVENT's, over the other tasks;
``--beside`` adds a column of earlier runs (a file this script wrote with ``--output``, e.g. the
same benchmark from another prior) with our difference to them. The tasks whose mean falls below
REINVENT's published mean by more than its published standard deviation are listed.
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


def markdown_table(
    merged: dict, excluded: frozenset[str] = frozenset(), beside: dict | None = None, beside_label: str = ""
) -> str:
    """Per task: our mean ± std, published REINVENT, the difference, calls used, s/run, stops; with
    ``beside`` (a merged table of earlier runs) also their mean ± std and our difference to them.

    Tasks in ``excluded`` are marked † and have no difference; the sum row leaves them out.
    """
    other = beside["summary"] if beside else None
    extra = f" {beside_label} | Δ {beside_label} |" if other is not None else ""
    lines = [
        f"| task | chemloop | REINVENT (published) | Δ |{extra} calls used (mean) | stopped by | s/run |",
        "|---|---|---|---|" + ("---|---|" if other is not None else "") + "---|---|---|",
    ]
    rows = compare(merged["summary"])
    most = max(row["seeds"] for row in merged["summary"].values())  # a task short of it is marked
    for task, row, mean, std, delta in rows:
        runs = [r for r in merged["runs"] if r["task"] == task]
        calls = sum(r["oracle_calls"] for r in runs) / len(runs)
        stops = ", ".join(
            f"{k} {v}" if len(runs) > 1 else k for k, v in Counter(r["stopped_by"] for r in runs).items()
        )
        bold = "**" if abs(delta) > max(std, row["std"], 0.01) else ""
        shown = "—" if task in excluded else f"{bold}{delta:+.3f}{bold}"
        cells = "" if other is None else _beside_cells(other.get(task), row["mean"])
        ours = f"{row['mean']:.3f}" + (f" ± {row['std']:.3f}" if row["seeds"] > 1 else "")
        if row["seeds"] < most:
            ours += f" ({row['seeds']} of {most} seeds)"
        lines.append(
            f"| {task}{' †' if task in excluded else ''} | {ours} | "
            f"{mean:.3f} ± {std:.3f} | {shown} |{cells} {calls:,.0f} | {stops} | {row['seconds']:,.0f} |"
        )
    kept = comparable_sums(merged["summary"], excluded)
    label = f"sum, {kept['tasks']} tasks" + (" without †" if excluded else "")
    cells = ""
    if other is not None:
        tasks = [t for t in merged["summary"] if t not in excluded]
        earlier_sum = sum(other[t]["mean"] for t in tasks) if all(t in other for t in tasks) else None
        cells = " — | — |"
        if earlier_sum is not None:
            cells = f" **{earlier_sum:.3f}** | **{kept['chemloop'] - earlier_sum:+.3f}** |"
    lines.append(
        f"| **{label}** | **{kept['chemloop']:.3f}** | **{kept['reinvent']:.3f}** "
        f"| **{kept['chemloop'] - kept['reinvent']:+.3f}** |{cells} | | |"
    )
    if len(merged["summary"]) == len(REINVENT) and not excluded:
        lines.append(
            f"\nPublished sums over all 23 tasks: REINVENT {REINVENT_SUM_ALL}, "
            f"Augmented Memory {AUGMENTED_MEMORY_SUM_ALL}."
        )
    return "\n".join(lines)


def _beside_cells(earlier: dict | None, ours: float) -> str:
    """An earlier run's mean ± std and our difference to it, or dashes where it has no such task."""
    if earlier is None:
        return " — | — |"
    return f" {earlier['mean']:.3f} ± {earlier['std']:.3f} | {ours - earlier['mean']:+.3f} |"


def below_reinvent(summary: dict[str, dict[str, float]], excluded: frozenset[str] = frozenset()) -> list[str]:
    """Tasks whose mean is below REINVENT's published mean by more than its published std."""
    return [task for task, _, _, std, delta in compare(summary) if task not in excluded and delta < -std]


def comparable_sums(summary: dict[str, dict[str, float]], excluded: frozenset[str]) -> dict:
    """Sums of per-task means, ours and published REINVENT's, over the tasks not ``excluded``.

    REINVENT's is the sum of its rounded per-task means (see chemloop.bench.pmo_reference).
    """
    unknown = sorted(excluded - set(summary))
    if unknown:
        raise SystemExit(f"--exclude-from-sum names tasks not in these results: {', '.join(unknown)}")
    kept = [row for row in compare(summary) if row[0] not in excluded]
    return {
        "tasks": len(kept),
        "chemloop": sum(row[1]["mean"] for row in kept),
        "reinvent": sum(row[2] for row in kept),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON files of chemloop bench pmo")
    parser.add_argument("--complete-seeds", action="store_true", help="only seeds every task reached")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--markdown", action="store_true", help="also print the table as a markdown table")
    parser.add_argument(
        "--exclude-from-sum",
        default="",
        metavar="TASKS",
        help="comma-separated tasks not comparable with the published runs: marked, and left out of the sums",
    )
    parser.add_argument("--beside", type=Path, help="a table this script wrote (--output) of earlier runs")
    parser.add_argument("--beside-label", default="earlier runs", help="its column's name")
    args = parser.parse_args()
    if args.beside is not None and not (args.markdown and args.beside.is_file()):
        parser.error(f"--beside needs --markdown and an existing file: {args.beside}")
    excluded = frozenset(t.strip() for t in args.exclude_from_sum.split(",") if t.strip())
    merged = merge_result_files(args.results, args.complete_seeds)
    merged["sources"] = [str(p) for p in args.results]
    merged["reinvent_sum_same_tasks"] = sum(row[2] for row in compare(merged["summary"]))
    Console().print(format_table(merged["summary"], merged["budget"]))
    print(
        f"runs: {len(merged['runs'])}, stopped by: {dict(Counter(r['stopped_by'] for r in merged['runs']))}"
    )
    if excluded:
        kept = comparable_sums(merged["summary"], excluded)
        print(
            f"sum over the {kept['tasks']} tasks without {', '.join(sorted(excluded))}: "
            f"chemloop {kept['chemloop']:.3f}, REINVENT {kept['reinvent']:.3f} "
            f"(Δ {kept['chemloop'] - kept['reinvent']:+.3f})"
        )
    below = below_reinvent(merged["summary"], excluded)
    print(
        "below REINVENT's published mean by more than its std: "
        + (", ".join(f"{t} ({merged['summary'][t]['mean']:.3f})" for t in below) or "none")
    )
    if args.markdown:
        beside = json.loads(args.beside.read_text()) if args.beside else None
        print(markdown_table(merged, excluded, beside, args.beside_label))
    if args.output:
        args.output.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
