#!/usr/bin/env bash
# The broad prior (to ship as chemloop/priors/prior) trained on ZINC-250k on the 2-core CPU: random SMILES
# spellings, bf16 autocast where the CPU has bf16 units (AMX/AVX-512 BF16; fp32 elsewhere), one
# thread beside other work. Resumable: run it again and it
# continues from the last checkpoint in $OUT (every 250 steps), or from the committed one in
# $SAVED where that is further along, until max-minutes of training.
# The learning rate follows a cosine to --max-steps (4,500 steps, ~4.9 epochs) or --max-minutes,
# whichever comes first; steps 0-2,750 ran with a 420-minute budget, 2,750-4,000 with a cosine to
# 6,500 steps, the rest with this schedule (shortened so that the run ends on this CPU in a day).
# From the shipped step 5,750: INIT_FROM=prior OUT=runs/zinc-prior-continued MAX_STEPS=3000 LR=6e-4 (a restarted
# cosine, over 6,000 more steps until its step 1,000, then shortened to 3,000 so that it ends in about
# 7 hours of one core of a CPU without bf16 units). It ended at step 3,000 (held-out NLL 32.09) and was
# not shipped: its samples lie further from ZINC-250k (FCD, MW; docs/benchmarks.md); weights in
# checkpoints/zinc-prior-8750.
# With the loss that weighs every token alike (commit 887804f; before it, the prior learned the
# corpus reweighted by 1/length and wrote molecules too small): INIT_FROM=checkpoints/zinc-prior-8750
# OUT=runs/zinc-prior-lenfix SAVED=checkpoints/zinc-prior-lenfix MAX_STEPS=1500 MAX_MINUTES=80 LR=3e-4
# MIN_LR=3e-5 WARMUP=100 (SEED also picks the held-out split: keep the starting model's).
# On from those shipped weights, a restarted cosine over 5,000 steps: INIT_FROM=prior
# OUT=runs/zinc-prior-lenfix2 SAVED=checkpoints/zinc-prior-lenfix2 MAX_STEPS=5000 MAX_MINUTES=900
# LR=3e-4 MIN_LR=1e-5 WARMUP=100 (`prior` was then the lenfix weights, commit 70e1aa9; since
# 2026-12-07 it is this run's result, so to repeat it set INIT_FROM to a copy of the lenfix weights).
# INIT_FROM=prior OUT=runs/zinc-prior-continued starts a new run from the shipped weights (a fresh
# optimizer; their own optimizer state was not kept) where $OUT holds no run yet.
set -euo pipefail
DATA=${DATA:-../shared/data/zinc250k.smi.gz}
OUT=${OUT:-runs/zinc-prior}
# The committed state of the run, used when newer than $OUT's.
if [ -n "${INIT_FROM:-}" ]; then SAVED=${SAVED:-checkpoints/zinc-prior-continued}
else SAVED=${SAVED:-checkpoints/zinc-prior-training}; fi
step() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' "$1/trainer_state.json"; }
if [ -f "$SAVED/trainer_state.json" ] && { [ ! -f "$OUT/trainer_state.json" ] || \
    [ "$(step "$SAVED")" -gt "$(step "$OUT")" ]; }; then
  mkdir -p "$OUT" && cp "$SAVED"/* "$OUT"/
fi
RESUME=""
if [ -f "$OUT/trainer_state.json" ]; then RESUME="--resume"
elif [ -n "${INIT_FROM:-}" ]; then RESUME="--init-from $INIT_FROM"; fi
OMP_NUM_THREADS=${THREADS:-1} nice -n "${NICE:-10}" chemloop pretrain --data "$DATA" --out "$OUT" $RESUME \
  --n-layer 6 --n-head 4 --n-embd 256 --block-size 128 \
  --batch-size 256 --max-steps "${MAX_STEPS:-4500}" --max-minutes "${MAX_MINUTES:-900}" \
  --lr "${LR:-1.5e-3}" --min-lr "${MIN_LR:-1e-4}" --warmup-steps "${WARMUP:-500}" --eval-interval 250 \
  --holdout-fraction 0.05 --val-size 2000 --randomize --precision "${PRECISION:-auto}" --seed "${SEED:-0}"
