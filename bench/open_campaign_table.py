"""One Markdown table from ``chemloop bench campaign --task T`` outputs, two settings side by side.

    python bench/open_campaign_table.py --base bench/results/campaign_open_*_s[012].json \\
        --new bench/results/campaign_open_*_rl_kappa_-1_s[012].json

Prints a row per task and seed found in ``--new``: its chemloop arm's top-1% hits and best
measured value, the same for the ``--base`` file of that task and seed (when there is one),
screening MOSES with the campaign's reward model, and the new hits as a multiple of screening's;
with ``--baselines`` also random and greedy picks from the prior's samples. Then, per task, the sums
of hits. A file with more than one seed gives a row per seed.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def runs(paths: list[Path]) -> dict[tuple[str, int], dict]:
    """(task, seed) → that run's methods, with the file they came from."""
    found = {}
    for path in paths:
        result = json.loads(path.read_text())
        for run in result["runs"]:
            key = (result["task"], run["seed"])
            if key in found:
                raise SystemExit(f"{key[0]} seed {key[1]} is in {found[key]['file']} and {path.name}")
            found[key] = {"file": path.name, **run["methods"]}
    return found


def ratio(hits: int, screen: int) -> str:
    return f"{hits / screen:.1f}×" if screen else ("∞" if hits else "–")


def cell(arm: dict | None) -> str:
    return f"{arm['top1_hits']}, {arm['best_measured']:.3f}" if arm else "–"


def table(
    base: dict[tuple[str, int], dict], new: dict[tuple[str, int], dict], baselines: bool = False
) -> list[str]:
    extra = ("random picks", "greedy picks") if baselines else ()
    with_base = bool(base)
    columns = ["task, seed", "new: hits, best", *(["base: hits, best"] if with_base else [])]
    columns += [f"{e}: hits, best" for e in extra]
    columns += ["screening: hits, best", "new vs screening"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for task, seed in sorted(new):
        arms = new[(task, seed)]
        ours, screen = arms["chemloop"], arms["screen"]
        before = base.get((task, seed), {}).get("chemloop")
        cells = [f"{task}, {seed}", cell(ours), *([cell(before)] if with_base else [])]
        cells += [cell(arms.get(name)) for name in ("random", "greedy")[: len(extra)]]
        cells += [cell(screen), ratio(ours["top1_hits"], screen["top1_hits"])]
        lines.append("| " + " | ".join(cells) + " |")
        total = sums[task]
        total[0] += ours["top1_hits"]
        total[1] += before["top1_hits"] if before else 0
        total[2] += screen["top1_hits"]
    lines.append("")
    for task, (ours, before, screen) in sorted(sums.items()):
        lines.append(
            f"{task}: hits {ours} new, " + (f"{before} base, " if with_base else "") + f"{screen} screening"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, nargs="*", default=[], help="results with the base settings")
    parser.add_argument("--new", type=Path, nargs="+", required=True, help="results with the new settings")
    parser.add_argument("--baselines", action="store_true", help="add random and greedy picks' columns")
    args = parser.parse_args()
    print("\n".join(table(runs(args.base), runs(args.new), args.baselines)))


if __name__ == "__main__":
    main()
