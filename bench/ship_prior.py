"""Copy a finished pretraining run into the package as the shipped prior.

    python bench/ship_prior.py runs/prior-cpu

Copies the checkpoint (weights, config, vocab) and the run's provenance (pretrain config,
metrics) into ``chemloop/priors/prior``. The model card is written by model_card.py.
"""

import shutil
import sys
from pathlib import Path

from chemloop.model import checkpoint

FILES = ("model.safetensors", "config.json", "vocab.json", "pretrain_config.json", "metrics.csv")


def main(run: str) -> None:
    checkpoint.load(run)  # refuse to ship a folder that does not load
    target = checkpoint.PRIORS_DIR / checkpoint.DEFAULT_PRIOR
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(Path(run) / name, target / name)
    size = (target / "model.safetensors").stat().st_size / 2**20
    print(f"shipped {run} to {target} ({size:.1f} MiB of weights)")


if __name__ == "__main__":
    main(sys.argv[1])
