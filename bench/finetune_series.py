"""Fine-tuning on a series: the shipped prior fine-tuned on 100 molecules of each of three ZINC-250k
series (chosen by chemloop.bench.series's rule), with default settings; 1,000 samples each.

    python bench/finetune_series.py [--model prior] [--out bench/results/finetune_series.json]
        [--set lr=1e-4 --set patience=5 ...]   # FinetuneConfig settings other than the defaults

Reports per series: validity, the share of samples containing the series' scaffold (its core) and
its most common ring system, nearest-neighbour Tanimoto to the 100 molecules, held-out NLL before
and after, and the wall time of the whole fine-tuning (report sampling included).
Targets: scaffold share ≥ 0.50, validity ≥ 0.95, ≤ 5 minutes on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from chemloop.bench.machine import describe
from chemloop.bench.series import find_series
from chemloop.train.finetune import FinetuneConfig, finetune

ZINC = Path(__file__).resolve().parents[2] / "shared" / "data" / "zinc250k.smi.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--data", default=str(ZINC))
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/finetune_series.json"))
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a FinetuneConfig setting"
    )
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    rows = []
    for series in find_series(args.data, count=args.count):
        with tempfile.TemporaryDirectory() as folder:
            data = Path(folder) / "series.smi"
            data.write_text("\n".join(series.smiles) + "\n")
            start = time.perf_counter()
            config = FinetuneConfig(data=str(data), out=Path(folder) / "tuned", model=args.model, **overrides)
            report = finetune(config)
            seconds = time.perf_counter() - start
        after = report["after"]
        rows.append(
            {
                "scaffold": series.scaffold,
                "members_in_corpus": series.members,
                "validity": after["validity"],
                "with_series_scaffold": after["with_scaffold"],
                "with_ring_system": after["with_ring_system"],
                "nearest_neighbour_tanimoto": after["nearest_neighbour_tanimoto"],
                "before": report["before"],
                "heldout_nll_before": report["heldout_nll_before"],
                "heldout_nll_after": report["heldout_nll_after"],
                "best_epoch": report["best_epoch"],
                "added_tokens": report["added_tokens"],
                "seconds": round(seconds, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "benchmark": "fine-tuning on a series (100 molecules, 1,000 samples)",
        "model": args.model,
        "data": args.data,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": describe(),
        "settings": FinetuneConfig(data="-", model=args.model, **overrides).model_dump(
            mode="json", exclude={"data", "out"}
        ),
        "series": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
