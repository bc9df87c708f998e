"""Time of one campaign ``propose`` with the default settings, stage by stage, on this machine.

    OMP_NUM_THREADS=2 python bench/propose_time.py [--settings F.toml] [--rounds 2] \
        [--output bench/results/propose_time.json]

The campaign is the first round(s) of the series benchmark (``chemloop bench campaign --series``):
12 members of the largest heterocyclic series of ZINC-250k measured by the series lab, then
``--rounds`` propose → measure → import cycles of 12. Reports each propose's wall time and the
seconds spent in each of its stages (refit, fine-tuning, RL, sampling candidates, the pick), the
settings, the torch thread count and the machine. Target: ≤ 3 minutes per propose on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import torch

from chemloop.bench.campaign import campaign_config, write_values
from chemloop.bench.machine import describe
from chemloop.bench.series import find_series
from chemloop.bench.series_campaign import SeriesLab, seed_set
from chemloop.config_files import read_toml
from chemloop.loop.campaign import init_campaign, propose
from chemloop.loop.progress import Progress
from chemloop.loop.results import import_results
from chemloop.loop.store import connect

ZINC = Path(__file__).resolve().parents[2] / "shared" / "data" / "zinc250k.smi.gz"


class StageClock:
    """Seconds per stage. A report of steps done closes time spent in its stage; a stage's first
    report (0 steps done) closes the time of the stage before it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._last = time.perf_counter()
        self._stage = "start"

    def __call__(self, progress: Progress) -> None:
        now = time.perf_counter()
        owner = progress.stage if progress.done > 0 else self._stage
        self.seconds[owner] += now - self._last
        self._last, self._stage = now, progress.stage

    def close(self) -> None:
        """The time since the last report belongs to the last stage."""
        self.seconds[self._stage] += time.perf_counter() - self._last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ZINC))
    parser.add_argument("--settings", type=Path, help="TOML with [campaign], [reward], [run], [score] tables")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("bench/results/propose_time.json"))
    args = parser.parse_args()
    overrides = read_toml(args.settings, "settings") if args.settings else {}
    [series] = find_series(args.data, count=1)
    seed_smiles, target = seed_set(series, args.seed, 12)
    lab = SeriesLab(series, target)
    rounds = []
    with tempfile.TemporaryDirectory() as folder:
        seed_csv = write_values(Path(folder) / "seed.csv", seed_smiles, lab.measure(seed_smiles))
        config = campaign_config(
            12,
            args.seed,
            seed_csv,
            dict(overrides.get("campaign", {})),
            dict(overrides.get("reward", {})),
            overrides.get("run", {}),
            overrides.get("score"),
        )
        factory = connect(f"sqlite:///{Path(folder) / 'campaign.db'}")
        init_campaign(factory, "timed", config)
        for number in range(1, args.rounds + 1):
            clock = StageClock()
            start = time.perf_counter()
            proposed = propose(factory, "timed", progress=clock).smiles
            seconds = time.perf_counter() - start
            clock.close()
            rounds.append(
                {
                    "round": number,
                    "seconds": round(seconds, 1),
                    "stages": {k: round(v, 1) for k, v in clock.seconds.items()},
                }
            )
            print(f"round {number}: {seconds:.0f} s", rounds[-1]["stages"], flush=True)
            results = write_values(Path(folder) / f"round{number}.csv", proposed, lab.measure(proposed))
            import_results(factory, "timed", results)
    result = {
        "benchmark": "propose time",
        "series": series.scaffold,
        "settings": str(args.settings) if args.settings else None,
        "campaign_settings": config.campaign.model_dump(mode="json", exclude={"seed_data", "seed"}),
        "torch_threads": torch.get_num_threads(),
        "machine": describe(),
        "measured": datetime.now(UTC).strftime("%Y-%m-%d"),
        "rounds": rounds,
        "target_seconds": 180,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
