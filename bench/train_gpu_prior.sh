#!/usr/bin/env bash
# Planned GPU prior (NOT yet run: no GPU was lent to the session that wrote it). On one
# GPU, --max-minutes caps it under the device tool's 10-minute command limit; carry the MOSES data and an RDKit wheel (see the device tool's README).
# Afterwards: python bench/ship_prior.py runs/prior-gpu, then the commands in model_card.py.
# Random SMILES (--randomize) because RL replays random spellings (Augmented Memory): the
# canonical-only CPU prior writes them badly, and its agents' validity fell to ~0.5 on PMO
# tasks; a random spelling is longer than the canonical one, hence a 128-token context.
set -euo pipefail
chemloop pretrain --data moses --out runs/prior-gpu --device cuda \
  --n-layer 6 --n-head 8 --n-embd 256 --block-size 128 --randomize \
  --batch-size 1024 --max-steps 15000 --max-minutes 9 \
  --lr 2e-3 --min-lr 2e-4 --warmup-steps 500 --eval-interval 1000 --seed 0
