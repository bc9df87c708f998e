#!/usr/bin/env bash
# One PMO run (a task, a seed) whose agent starts from, samples from and is kept close to a
# compressed copy of the default prior, the column `chemloop bench compress --rl-tasks` adds, one
# run at a time so that bench/sweep.sh can queue it. The copy is made where it is missing; its
# calibration is seeded, so every machine makes the same one.
#
#     bash bench/pmo_compressed.sh sparsegpt:0.5 zaleplon_mpo 0 runs/variants runs/pmo --output out.json
#
# VARIANT: sparsegpt:S (SparseGPT, unstructured) or mlp:S (that share of MLP units removed).
set -euo pipefail
VARIANT=$1 TASK=$2 SEED=$3 VARIANTS=$4 RUNS=$5
[ "${6:-}" = --output ] && [ -n "${7:-}" ] || { echo "usage: see the top of $0" >&2; exit 2; }
OUTPUT=$7
METHOD=${VARIANT%%:*} SPARSITY=${VARIANT#*:}
FOLDER=$VARIANTS/prior-$METHOD-$SPARSITY
case $METHOD in
    sparsegpt) PRUNE=(--algorithm sparsegpt) ;;
    mlp) PRUNE=(--structured mlp) ;;
    *) echo "unknown variant $VARIANT: sparsegpt:S or mlp:S" >&2; exit 2 ;;
esac
if [ ! -f "$FOLDER/model.safetensors" ]; then
    rm -rf "$FOLDER.partial"
    chemloop compress --model prior --method prune --sparsity "$SPARSITY" "${PRUNE[@]}" --out "$FOLDER.partial"
    mv "$FOLDER.partial" "$FOLDER"
fi
printf '[run]\nmodel = "%s"\n' "$FOLDER" > "$FOLDER.pmo.toml"
chemloop bench pmo --tasks "$TASK" --seeds 1 --first-seed "$SEED" --settings "$FOLDER.pmo.toml" \
    --runs-dir "$RUNS/$METHOD-$SPARSITY" --output "$OUTPUT"
