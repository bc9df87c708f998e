"""Which RL uncertainty weight ``[campaign] rl_kappa = "auto"`` picks in each round of stored
campaign benchmarks: κ when the molecules measured before the round share a series core, −1 when
they do not (an open campaign).

    python bench/open_campaign_cores.py                   # the stored open and series runs
    python bench/open_campaign_cores.py FILE [FILE ...]

Open-campaign files (``chemloop bench campaign --task``) list the designed molecules with their
round; series files (``--series``) list each round's picks.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

from chemloop.loop.config import CampaignSection

DEFAULT_FILES = ["bench/results/campaign_open_*_s[012].json", "bench/results/campaign_series_*_s[012].json"]


def rounds_of_picks(run: dict, rounds: int) -> list[list[str]]:
    """Each round's designed molecules, from either kind of result file."""
    chemloop = run["methods"]["chemloop"]
    if "picks" in chemloop:
        return [list(picks) for picks in chemloop["picks"]]
    return [[m["smiles"] for m in chemloop["molecules"] if m["round"] == r] for r in range(1, rounds + 1)]


def auto_weights(run: dict, rounds: int, settings: CampaignSection) -> list[float]:
    """The weight "auto" gives each round, from what was measured before it."""
    measured, weights = list(run["seed_molecules"]), []
    for picks in rounds_of_picks(run, rounds):
        weights.append(settings.rl_uncertainty_weight(measured))
        measured += picks
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted({Path(f) for pattern in DEFAULT_FILES for f in glob.glob(pattern)})
    for path in files:
        result = json.loads(path.read_text())
        settings = CampaignSection(kappa=result["campaign_settings"].get("kappa", 1.0), rl_kappa="auto")
        for run in result["runs"]:
            where = run.get("scaffold") or result.get("task")
            weights = auto_weights(run, result["rounds"], settings)
            print(f"{path.name}  {where}  seed {run['seed']}: " + " ".join(f"{w:+g}" for w in weights))


if __name__ == "__main__":
    main()
