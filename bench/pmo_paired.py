"""Two PMO settings compared run by run: the same task and seed under each.

A run's seed fixes the prior's first samples, so two settings on the same (task, seed) start
alike and differ only by what the setting changes; comparing them pair by pair removes the
seed-to-seed spread that a table of means would carry. Prints per pair the AUC top-10 of
each, the difference, the calls used, what stopped each run and its wall time, then the
mean difference and how often the new setting was higher (with a two-sided sign test). With
``--spread`` (results holding several seeds per task) it also prints how large a sum of
differences seed-to-seed spread alone gives, to read the sum against.

    python bench/pmo_paired.py --base bench/results/pmo_default_seed0_A.json ... \\
        --new bench/results/pmo_barrier_seed0.json ... [--output paired.json] \\
        [--spread bench/results/pmo_default_seeds012_A.json ...]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from chemloop.bench.pmo import merge_result_files


def _runs(paths: list[Path]) -> dict[tuple[str, int], tuple[dict, dict]]:
    """Each (task, seed) run of the files with the settings it ran under: a pair's two runs must
    differ only in what is compared, while pairs may differ among themselves (e.g. the precision
    of the chip each pair ran on)."""
    runs: dict[tuple[str, int], tuple[dict, dict]] = {}
    for path in paths:
        merged = merge_result_files([path])
        for run in merged["runs"]:
            key = (run["task"], run["seed"])
            if key in runs:
                raise SystemExit(f"{run['task']} seed {run['seed']} is in more than one file")
            runs[key] = (run, merged["run_settings"])
    return runs


def _changes(base: dict, new: dict) -> dict:
    return {k: (base.get(k), new.get(k)) for k in sorted(set(base) | set(new)) if base.get(k) != new.get(k)}


def seed_spread(paths: list[Path], tasks: list[str]) -> float:
    """Standard deviation of a sum of one-run differences over ``tasks`` if seeds alone differed.

    One run's difference between two equal settings has variance 2·s², s the task's
    seed-to-seed standard deviation; a task run with one seed only takes the median s.
    """
    merged = merge_result_files(paths)
    spreads = {t: s["std"] for t, s in merged["summary"].items() if s["seeds"] > 1}
    if not spreads:
        raise SystemExit("--spread needs results with at least two seeds of some task")
    typical = statistics.median(spreads.values())
    return math.sqrt(sum(2 * spreads.get(task, typical) ** 2 for task in tasks))


def pairs_of_other_weights(base: dict, new: dict, pairs: list[tuple[str, int]]) -> list[str]:
    """The pairs whose two runs name the same model but recorded different weights: one name
    (``prior``) may stand for other weights in another release. Pairs that compare two models
    (``model`` differs, as for a compressed copy) and runs from before the record was kept pass."""
    mixed = []
    for task, seed in pairs:
        if base[task, seed][1].get("model") != new[task, seed][1].get("model"):
            continue
        weights = {base[task, seed][0].get("model_weights"), new[task, seed][0].get("model_weights")}
        if len(weights - {"", None}) > 1:
            mixed.append(f"{task} seed {seed}")
    return mixed


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: how often a fair coin splits ``wins + losses`` pairs at least as
    unevenly (ties left out), so a setting that changes nothing reads p near 1."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base", nargs="+", type=Path, required=True, help="results of the reference setting"
    )
    parser.add_argument("--new", nargs="+", type=Path, required=True, help="results of the setting tried")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--spread", nargs="+", type=Path, help="results with several seeds per task (the seed-to-seed spread)"
    )
    args = parser.parse_args()
    base, new = _runs(args.base), _runs(args.new)
    pairs = sorted(set(base) & set(new))
    if not pairs:
        raise SystemExit("no (task, seed) run is in both --base and --new")
    changes = [_changes(base[pair][1], new[pair][1]) for pair in pairs]
    changed = changes[0]
    if any(c != changed for c in changes):
        raise SystemExit(f"the pairs change different settings: {changes}")
    mixed = pairs_of_other_weights(base, new, pairs)
    if mixed:
        raise SystemExit(f"the two runs of {', '.join(mixed)} used other weights of the model")
    between = sorted(k for k in base[pairs[0]][1] if len({json.dumps(base[p][1].get(k)) for p in pairs}) > 1)
    print(f"settings changed (base -> new): {changed}")
    if between:
        print(f"settings that differ between pairs (alike within each): {', '.join(between)}")
    print("| task | seed | base AUC | new AUC | Δ | calls base / new | stopped base / new | s base / new |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for task, seed in pairs:
        b, n = base[task, seed][0], new[task, seed][0]
        delta = n["auc_top10"] - b["auc_top10"]
        rows.append({"task": task, "seed": seed, "base": b, "new": n, "delta": delta})
        print(
            f"| {task} | {seed} | {b['auc_top10']:.3f} | {n['auc_top10']:.3f} | {delta:+.3f} | "
            f"{b['oracle_calls']:,} / {n['oracle_calls']:,} | {b['stopped_by']} / {n['stopped_by']} | "
            f"{b['seconds']:,.0f} / {n['seconds']:,.0f} |"
        )
    deltas = [r["delta"] for r in rows]
    wins, losses = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
    p_sign = sign_test(wins, losses)
    print(
        f"{len(rows)} pairs: mean Δ {statistics.fmean(deltas):+.4f}, sum Δ {sum(deltas):+.3f}, "
        f"new higher in {wins}, lower in {losses} (two-sided sign test p = {p_sign:.3g})"
    )
    result = {
        "changed": changed,
        "differ_between_pairs": between,
        "base": [str(p) for p in args.base],
        "new": [str(p) for p in args.new],
        "higher": wins,
        "lower": losses,
        "sign_test_p": p_sign,
    }
    if args.spread:
        result["seed_spread_of_sum"] = seed_spread(args.spread, [r["task"] for r in rows])
        print(f"seed-to-seed spread alone gives a sum Δ of ±{result['seed_spread_of_sum']:.3f} (one sd)")
    if args.output:
        result["pairs"] = rows
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
