"""One table from several ``chemloop bench campaign --series`` outputs (e.g. one file per seed).

    python bench/series_table.py bench/results/campaign_series_defaults_s*.json [--output merged.json]

Prints, per series and seed, chemloop's share of proposals on the series' scaffold (per round and
overall), top-1% hits, the best measured value after the last round against the seeds' best, and
the share breaking a computable principle of the default constitution, beside the baselines'
shares and hits; then the means over all runs and how many runs meet the campaign targets
(≥ 75% in the series, best above the seeds').
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

IN_SERIES_TARGET = 0.75
BASELINES = ("random", "greedy", "screen")


def rows(paths: list[Path]) -> list[dict]:
    out = []
    for path in paths:
        result = json.loads(path.read_text())
        for run in result["runs"]:
            ours = run["methods"]["chemloop"]
            out.append(
                {
                    "file": str(path),
                    "scaffold": run["scaffold"],
                    "seed": run["seed"],
                    "seed_best": run["seed_best"],
                    "in_series": ours["in_series"],
                    "per_round": ours["in_series_per_round"],
                    "hits": ours["top1_hits"],
                    "best": ours["best_so_far"][-1],
                    "rose": bool(ours["rose_above_seed"]),
                    "violating": ours["violating"],
                    "seconds": ours.get("seconds"),
                    **{f"{b}_in_series": run["methods"][b]["in_series"] for b in BASELINES},
                    **{f"{b}_hits": run["methods"][b]["top1_hits"] for b in BASELINES},
                }
            )
    return out


def markdown(table: list[dict]) -> str:
    lines = [
        "| series scaffold | seed | in the series (per round) | top-1% hits | best (seeds' best) "
        "| breaking the constitution | random / greedy / screen: in series, hits |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        rounds = "/".join(f"{100 * x:.0f}" for x in r["per_round"])
        base = ", ".join(f"{100 * r[f'{b}_in_series']:.0f}% {r[f'{b}_hits']}" for b in BASELINES)
        lines.append(
            f"| `{r['scaffold']}` | {r['seed']} | {100 * r['in_series']:.0f}% ({rounds}) | {r['hits']} "
            f"| {r['best']:.2f} ({r['seed_best']:.2f}) | {100 * r['violating']:.0f}% | {base} |"
        )
    return "\n".join(lines)


def summary(table: list[dict]) -> dict:
    return {
        "runs": len(table),
        "mean_in_series": round(statistics.mean(r["in_series"] for r in table), 4),
        "min_in_series": min(r["in_series"] for r in table),
        "runs_in_series_at_target": sum(r["in_series"] >= IN_SERIES_TARGET for r in table),
        "runs_best_above_seeds": sum(r["rose"] for r in table),
        "mean_hits": round(statistics.mean(r["hits"] for r in table), 2),
        "mean_violating": round(statistics.mean(r["violating"] for r in table), 4),
        **{f"mean_{b}_hits": round(statistics.mean(r[f"{b}_hits"] for r in table), 2) for b in BASELINES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    table = rows(args.files)
    print(markdown(table))
    totals = summary(table)
    print(json.dumps(totals, indent=1))
    if args.output:
        args.output.write_text(json.dumps({"runs": table, "summary": totals}, indent=1) + "\n")


if __name__ == "__main__":
    main()
