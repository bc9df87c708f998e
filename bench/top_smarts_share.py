"""How many of a run's best molecules carry a substructure, beside how many molecules of a corpus do.

RL finds whatever a score rewards, a charge state included: a share far above the corpus's says
the agent sought the substructure out. The default SMARTS is a deprotonated phenol (an aryl
``[O-]``), which a prior trained on ZINC-250k's pH-7 forms can write but which is rare there.

    python bench/top_smarts_share.py runs/sweep-final/pmo/*/seed0 --corpus ../shared/data/zinc250k.smi.gz \\
        [--smarts '[O-;X1]c'] [--top 100] [--neutral-scores 10] [--output bench/results/top_smarts_share.json]

Each run folder's top.csv (written by ``chemloop optimize``) gives its best molecules, best first.
With ``--neutral-scores N`` the N best molecules of a PMO run that carry a charge are scored by
its task's oracle as written and as RDKit's ``Uncharger`` neutralizes them: how much of the score
the charge state holds.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

from chemloop.data.corpus import load_corpus
from chemloop.score.oracles.pmo import oracle


def share(smiles: list[str], pattern: Chem.Mol) -> dict:
    molecules = [Chem.MolFromSmiles(s) for s in smiles]
    parsed = [m for m in molecules if m is not None]
    hits = sum(m.HasSubstructMatch(pattern) for m in parsed)
    return {
        "molecules": len(parsed),
        "with_substructure": hits,
        "share": hits / len(parsed) if parsed else None,
    }


def neutral_scores(run: Path, best: list[str], count: int) -> list[dict]:
    """The ``count`` best charged molecules of a PMO run, scored as written and neutralized."""
    task = json.loads((run / "config.json").read_text())["score"]["components"][0]["params"]["task"]
    score, uncharger = oracle(task), rdMolStandardize.Uncharger()
    molecules = [m for m in map(Chem.MolFromSmiles, best) if m is not None]
    charged = [m for m in molecules if any(atom.GetFormalCharge() for atom in m.GetAtoms())][:count]
    rows = []
    for mol in charged:
        neutral = uncharger.uncharge(Chem.Mol(mol))
        as_written, neutralized = score([mol])[0], score([neutral])[0]
        rows.append(
            {
                "smiles": Chem.MolToSmiles(mol),
                "neutral": Chem.MolToSmiles(neutral),
                "score": as_written,
                "neutral_score": neutralized,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of chemloop optimize")
    parser.add_argument("--smarts", default="[O-;X1]c", help="the substructure (default: an aryl [O-])")
    parser.add_argument("--top", type=int, default=100, help="best molecules of each run")
    parser.add_argument("--corpus", help="a .smi/.csv/.sdf file (gzipped too) to compare with")
    parser.add_argument("--corpus-size", type=int, default=50_000, help="molecules drawn from it (seeded)")
    parser.add_argument(
        "--neutral-scores", type=int, default=0, help="charged best molecules to score neutral"
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    pattern = Chem.MolFromSmarts(args.smarts)
    if pattern is None:
        parser.error(f"--smarts {args.smarts!r} is not a valid SMARTS")

    result: dict = {"smarts": args.smarts, "top": args.top, "runs": {}}
    for run in args.runs:
        if not (run / "top.csv").exists():
            parser.error(f"{run} has no top.csv: not a run folder, or a run still going")
        with (run / "top.csv").open(newline="") as handle:
            best = [row["smiles"] for row in csv.DictReader(handle)][: args.top]
        result["runs"][str(run)] = share(best, pattern)
        if args.neutral_scores:
            rows = neutral_scores(run, best, args.neutral_scores)
            result["runs"][str(run)]["charged_scored_neutral"] = rows
            for row in rows:
                print(f"{run}: {row['score']:.3f} as written, {row['neutral_score']:.3f} as {row['neutral']}")
    if args.corpus:
        corpus = load_corpus(args.corpus, skip_invalid=True, rows_sample=args.corpus_size)
        result["corpus"] = {"file": args.corpus, **share(corpus.smiles, pattern)}
    for name, figures in [*result["runs"].items(), *([("corpus", result["corpus"])] if args.corpus else [])]:
        print(f"{name}: {figures['with_substructure']} of {figures['molecules']}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
