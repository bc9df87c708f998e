"""PMO runs compared at equal oracle calls, finished or not: AUC top-10 after N calls.

A settings comparison needs every variant at the same budget; a run stopped early (killed,
or still going) still has an oracle log, so each run is scored at every N it reached, as if
N were its budget. Also prints the mean validity of each run's last 20 steps and, with
``--reach``, the oracle calls after which the mean of the 10 best scores first reached each value.

    python bench/pmo_compare.py NAME=RUN_FOLDER ... [--at 1000,2500,5000,10000] \\
        [--reach 0.95,0.951] [--output bench/results/pmo_tuning.json]

RUN_FOLDER is one run (``<runs-dir>/<task>/seed<k>``) of ``chemloop bench pmo``, or the output
folder of ``chemloop optimize``.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from chemloop.bench.machine import describe
from chemloop.bench.pmo_auc import top_k_auc
from chemloop.rl.oracle_log import read_scores


def calls_to_reach(scores: list[float], value: float, k: int = 10) -> int | None:
    """The first call after which the mean of the ``k`` best scores so far is ≥ ``value`` (None: never)."""
    best: list[float] = []  # a min-heap of the k best
    for call, score in enumerate(scores, start=1):
        if len(best) < k:
            heapq.heappush(best, score)
        elif score > best[0]:
            heapq.heapreplace(best, score)
        if len(best) == k and sum(best) / k >= value:
            return call
    return None


def compare(folder: Path, points: list[int], reach: Sequence[float] = ()) -> dict:
    scores = read_scores(folder / "oracle_calls.csv")
    with (folder / "steps.csv").open() as handle:
        steps = list(csv.DictReader(handle))
    config = json.loads((folder / "config.json").read_text())
    return {
        "folder": str(folder),
        "settings": config["run"],
        "oracle_calls": len(scores),
        "steps": len(steps),
        "finished": (folder / "summary.json").exists(),
        "validity_last_20_steps": statistics.fmean(float(s["validity"]) for s in steps[-20:]),
        "auc_top10_at": {n: top_k_auc(scores[:n], n, k=10, freq=100) for n in points if len(scores) >= n},
        "calls_to_reach_top10": {str(v): calls_to_reach(scores, v) for v in reach},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="NAME=RUN_FOLDER")
    parser.add_argument("--at", default="1000,2500,5000,10000", help="oracle-call counts")
    parser.add_argument("--reach", default="", help="top-10 means, e.g. 0.95,0.951")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    points = [int(n) for n in args.at.split(",")]
    reach = [float(v) for v in args.reach.split(",") if v]
    result = {"machine": describe(), "runs": {}}
    for spec in args.runs:
        name, _, folder = spec.partition("=")
        found = result["runs"][name] = compare(Path(folder), points, reach)
        aucs = "  ".join(f"@{n}: {a:.3f}" for n, a in found["auc_top10_at"].items())
        print(
            f"{name:28s} {found['oracle_calls']:6d} calls {found['steps']:5d} steps "
            f"validity {found['validity_last_20_steps']:.2f}  AUC top-10 {aucs}"
        )
        for value, call in found["calls_to_reach_top10"].items():
            print(f"{'':28s} top-10 mean ≥ {value}: {'never' if call is None else f'after {call} calls'}")
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
