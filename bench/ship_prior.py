"""Copy a finished pretraining run into the package as a shipped prior.

    python bench/ship_prior.py runs/zinc-prior              # the default prior, `prior`
    python bench/ship_prior.py runs/prior-cpu --name moses  # the MOSES prior

Copies the checkpoint (weights, config, vocab) and the run's provenance (pretrain config,
metrics) into ``chemloop/priors/NAME``. The model card is written by model_card.py.
"""

import argparse
import shutil
from pathlib import Path

from chemloop.model import checkpoint

FILES = ("model.safetensors", "config.json", "vocab.json", "pretrain_config.json", "metrics.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a pretraining run folder")
    parser.add_argument("--name", default=checkpoint.DEFAULT_PRIOR, help="the name it is loaded by")
    args = parser.parse_args()
    checkpoint.load(args.run)  # refuse to ship a folder that does not load
    target = checkpoint.PRIORS_DIR / args.name
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(args.run / name, target / name)
    size = (target / "model.safetensors").stat().st_size / 2**20
    print(f"shipped {args.run} to {target} ({size:.1f} MiB of weights)")


if __name__ == "__main__":
    main()
