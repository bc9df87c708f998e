#!/usr/bin/env bash
# Sampling throughput of two commits side by side: `chemloop bench sampling` from a checkout of each,
# the two in turn within every round, so that load on a shared machine falls on both alike.
#
#   bash bench/sampling_commits.sh BEFORE AFTER [ROUNDS] [PRECISIONS] [OUT_DIR]
#
# Each round runs BEFORE's then AFTER's code (the models and the virtual environment are this
# checkout's) for 10,000 molecules per format, two threads; the JSON of every run goes to OUT_DIR
# (default runs/sampling-commits) and a table of the medians is printed at the end.
set -euo pipefail
before=$1 after=$2 rounds=${3:-3} precisions=${4:-fp32,bf16} out=${5:-runs/sampling-commits}
root=$(git rev-parse --show-toplevel)
python="$root/.venv/bin/python"
mkdir -p "$out"
trap 'for c in "$before" "$after"; do git -C "$root" worktree remove --force "$out/tree-$c" 2>/dev/null || true; done' EXIT
for commit in "$before" "$after"; do
    git -C "$root" worktree add --force --detach "$out/tree-$commit" "$commit" >/dev/null
done
for round in $(seq 1 "$rounds"); do
    for commit in "$before" "$after"; do
        (cd "$out/tree-$commit" && OMP_NUM_THREADS=2 PYTHONPATH=. "$python" -m chemloop.cli bench sampling \
            --model prior --num 10000 --repeats 1 --precision "$precisions" \
            --output "$root/$out/$commit-round$round.json" >/dev/null)
    done
done
"$python" - "$out" "$before" "$after" <<'EOF'
import json, statistics, sys
from pathlib import Path
out, commits = Path(sys.argv[1]), sys.argv[2:]
rows = {}
for commit in commits:
    for run in sorted(out.glob(f"{commit}-round*.json")):
        for fmt, row in json.loads(run.read_text())["precisions"].items():
            rows.setdefault((fmt, commit), []).append(row["median_valid_per_s"])
for fmt in dict.fromkeys(f for f, _ in rows):
    medians = [statistics.median(rows[(fmt, c)]) for c in commits]
    runs = "; ".join(f"{c}: {', '.join(f'{v:.0f}' for v in rows[(fmt, c)])}" for c in commits)
    print(f"{fmt}: {medians[0]:.0f} -> {medians[1]:.0f} valid molecules/s ({medians[1] / medians[0]:.2f}x; runs {runs})")
EOF
