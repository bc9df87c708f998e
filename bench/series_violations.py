"""The share of each method's picks in a series-campaign result file that break a computable
principle of the default constitution, recomputed with today's checks, and which principles.

    python bench/series_violations.py bench/results/campaign_series_*.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rdkit import Chem

from chemloop.constitution.principles import load_constitution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    constitution = load_constitution()
    for path in args.results:
        runs = json.loads(path.read_text())["runs"]
        print(path)
        for method in runs[0]["methods"]:
            picks = [s for run in runs for chosen in run["methods"][method]["picks"] for s in chosen]
            broken = [constitution.violations(Chem.MolFromSmiles(s)) for s in picks]
            counts = Counter(p for found in broken for p in found)
            share = sum(bool(found) for found in broken) / max(1, len(picks))
            print(f"  {method:9s} {share:6.1%} of {len(picks)}  {dict(counts.most_common())}")


if __name__ == "__main__":
    main()
