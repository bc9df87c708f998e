"""Top-1% hits of an open campaign benchmark's methods, all and those that keep the constitution.

    python bench/open_clean_hits.py bench/results/campaign_open_fexofenadine_mpo_s0.json ...

chemloop's campaigns drop candidates that break a computable principle of the default
medicinal-chemistry constitution; the baselines (random, greedy, screening MOSES) do not. This
counts, per file and method, the designed molecules (rounds 1 on) at or above the top-1%
threshold, and how many of them break no principle: the like-for-like count under the same rule.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chemloop.chem.mol import to_mol
from chemloop.constitution.principles import default_constitution


def clean_hits(result: dict) -> dict[str, tuple[int, int]]:
    """Per method of the first run: (top-1% hits, those breaking no computable principle)."""
    constitution = default_constitution()
    counts = {}
    for method, summary in result["runs"][0]["methods"].items():
        designed = [m for m in summary["molecules"] if m["round"] > 0]
        hits = [m["smiles"] for m in designed if m["value"] >= result["threshold"]]
        clean = [s for s in hits if not constitution.violations(to_mol(s))]
        counts[method] = (len(hits), len(clean))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench campaign result files")
    for path in parser.parse_args().results:
        result = json.loads(path.read_text())
        shown = ", ".join(f"{m} {h} ({c} clean)" for m, (h, c) in clean_hits(result).items())
        print(f"{path.name} ({result['task']}, seed {result['runs'][0]['seed']}): {shown}")


if __name__ == "__main__":
    main()
