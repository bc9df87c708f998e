#!/usr/bin/env bash
# A GPU prior recipe, NOT run yet: no prior or measurement from it exists. On one GPU,
# --max-minutes 9 stops training after 9 minutes; the machine needs the MOSES data (molsets) and RDKit.
# Afterwards: python bench/ship_prior.py runs/prior-gpu, then the commands in model_card.py.
# Random SMILES (--randomize) because RL replays random spellings (Augmented Memory): the
# canonical-only CPU prior writes them badly, and its agents' validity fell to ~0.5 on PMO
# tasks; a random spelling is longer than the canonical one, hence a 128-token context.
set -euo pipefail
chemloop pretrain --data moses --out runs/prior-gpu --device cuda \
  --n-layer 6 --n-head 8 --n-embd 256 --block-size 128 --randomize \
  --batch-size 1024 --max-steps 15000 --max-minutes 9 \
  --lr 2e-3 --min-lr 2e-4 --warmup-steps 500 --eval-interval 1000 --seed 0
