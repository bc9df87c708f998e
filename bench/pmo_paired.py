"""Two PMO settings compared run by run: the same task and seed under each.

A run's seed fixes the prior's first samples, so two settings on the same (task, seed) start
alike and differ only by what the setting changes; comparing them pair by pair removes the
seed-to-seed spread that a table of means would carry. Prints per pair the AUC top-10 of
each, the difference, the calls used, what stopped each run and its wall time, then the
mean difference.

    python bench/pmo_paired.py --base bench/results/pmo_s6_A.json ... \\
        --new bench/results/pmo_barrier_seed0.json ... [--output bench/results/pmo_paired.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from chemloop.bench.pmo import merge_results


def _runs(paths: list[Path]) -> tuple[dict[tuple[str, int], dict], dict]:
    merged = merge_results([json.loads(p.read_text()) for p in paths])
    return {(r["task"], r["seed"]): r for r in merged["runs"]}, merged["run_settings"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base", nargs="+", type=Path, required=True, help="results of the reference setting"
    )
    parser.add_argument("--new", nargs="+", type=Path, required=True, help="results of the setting tried")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    base, base_settings = _runs(args.base)
    new, new_settings = _runs(args.new)
    pairs = sorted(set(base) & set(new))
    if not pairs:
        raise SystemExit("no (task, seed) run is in both --base and --new")
    changed = {
        k: (base_settings[k], new_settings[k]) for k in base_settings if base_settings[k] != new_settings[k]
    }
    print(f"settings changed (base -> new): {changed}")
    print("| task | seed | base AUC | new AUC | Δ | calls base / new | stopped base / new | s base / new |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for task, seed in pairs:
        b, n = base[task, seed], new[task, seed]
        delta = n["auc_top10"] - b["auc_top10"]
        rows.append({"task": task, "seed": seed, "base": b, "new": n, "delta": delta})
        print(
            f"| {task} | {seed} | {b['auc_top10']:.3f} | {n['auc_top10']:.3f} | {delta:+.3f} | "
            f"{b['oracle_calls']:,} / {n['oracle_calls']:,} | {b['stopped_by']} / {n['stopped_by']} | "
            f"{b['seconds']:,.0f} / {n['seconds']:,.0f} |"
        )
    deltas = [r["delta"] for r in rows]
    wins = sum(d > 0 for d in deltas)
    print(
        f"{len(rows)} pairs: mean Δ {statistics.fmean(deltas):+.4f}, sum Δ {sum(deltas):+.3f}, "
        f"new higher in {wins}, lower in {sum(d < 0 for d in deltas)}"
    )
    if args.output:
        result = {"changed": changed, "base": [str(p) for p in args.base], "new": [str(p) for p in args.new]}
        result["pairs"] = rows
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
