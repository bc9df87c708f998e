#!/usr/bin/env bash
# The shipped prior (chemloop/priors/prior) as trained on a 2-core x86_64 CPU, without a GPU:
# 110 minutes of wall time on the full MOSES training set, then shipped with ship_prior.py.
# It ran through the Python API with exactly these values (saved as pretrain_config.json).
set -euo pipefail
chemloop pretrain --data moses --out runs/prior-cpu \
  --n-layer 5 --n-head 6 --n-embd 192 --block-size 64 \
  --batch-size 256 --max-steps 20000 --max-minutes 110 \
  --lr 1.5e-3 --min-lr 1e-4 --warmup-steps 300 --eval-interval 250 --seed 0
