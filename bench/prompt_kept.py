"""The share of the molecules an RL run scored that keep its prompt, over every run under a folder.

    python bench/prompt_kept.py runs/pmo_drd2_prompt/zinc_decorate_arylpiperazine \
        --scaffold "Clc1cccc(N2CCN(*)CC2)c1Cl"

Reads each ``oracle_calls.csv`` below the folder (one per run of ``chemloop optimize`` or
``chemloop bench pmo``) and prints, per run, the molecules scored, how many keep the prompt
(chemloop's containment check: attachment points as any atom) and the top-10 mean score.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from rdkit import Chem

from chemloop.chem.prompts import PromptQuery, parse_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--scaffold")
    prompt.add_argument("--link")
    args = parser.parse_args()
    kind, text = ("decorate", args.scaffold) if args.scaffold else ("link", args.link)
    contains = PromptQuery(parse_prompt(text, kind))
    for log in sorted(args.folder.rglob("oracle_calls.csv")):
        with log.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        kept = sum(contains(Chem.MolFromSmiles(r["smiles"])) for r in rows)
        top10 = sorted((float(r["score"]) for r in rows), reverse=True)[:10]
        print(
            f"{log.parent.relative_to(args.folder)}: {len(rows)} scored, {kept} keep the prompt, "
            f"top-10 mean {sum(top10) / max(1, len(top10)):.3f}"
        )


if __name__ == "__main__":
    main()
