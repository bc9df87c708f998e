"""Why a model's samples are not molecules: each invalid string sorted by what RDKit rejects.

Parse failures are split by the grammar error a token walk finds (a ring label or branch still
open at the end, a ring closed on the atom that opened it, a ``)`` with no branch open, ``()``,
a token where none of its kind may stand: ``((``, ``(1``, two bonds in a row, a leading bond);
strings that parse fail sanitization on kekulization (an aromatic system with no Kekulé form) or
on an atom's valence. A few examples of each kind are kept.

    OMP_NUM_THREADS=1 python bench/invalid_samples.py [--model prior] [--num 2000] [--seed 1] \\
        [--output bench/results/invalid_samples_prior.json]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

RING_LABEL = re.compile(r"^(\d|%\d\d)$")
BONDS = frozenset("-=#/\\:$")
EXAMPLES = 5


def misplaced(token: str, previous: str | None) -> bool:
    """Whether ``token`` cannot follow ``previous`` (None: the start of the string)."""
    if token == "(":  # a branch hangs off an atom, a ring label or a closed branch
        return previous is None or previous == "(" or previous in BONDS
    if RING_LABEL.match(token):  # a ring label follows an atom, a ring label or a bond
        return previous is None or previous in ("(", ")")
    if token in BONDS:  # a bond follows an atom, a ring label or a branch's parenthesis
        return previous is None or previous in BONDS
    return False


def grammar_error(tokens: list[str]) -> str:
    """The first grammar error of a string RDKit could not parse, or ``other``."""
    depth, open_rings, atom, previous = 0, {}, -1, None
    for token in tokens:
        if misplaced(token, previous):
            return "misplaced token"
        if token == "(":
            depth += 1
        elif token == ")":
            if previous == "(":
                return "empty branch"
            if depth == 0:
                return "branch closed with none open"
            depth -= 1
        elif RING_LABEL.match(token):
            if token in open_rings:
                if open_rings.pop(token) == atom:
                    return "ring closed on the atom that opened it"
            else:
                open_rings[token] = atom
        elif token not in BONDS and token != ".":
            atom += 1
        previous = token
    if open_rings:
        return "ring label open at the end"
    if depth:
        return "branch open at the end"
    return "other"


def classify(smiles: str) -> str:
    """What RDKit rejects in a string that is no molecule."""
    from rdkit import Chem

    from chemloop.chem.tokenizer import TokenizerError, split_smiles

    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        try:
            return "parse: " + grammar_error(split_smiles(smiles))
        except TokenizerError:
            return "parse: unknown token"
    problems = Chem.DetectChemistryProblems(mol)
    if not problems:
        return "sanitization: other"
    return {"KekulizeException": "kekulization", "AtomValenceException": "valence"}.get(
        problems[0].GetType(), "sanitization: " + problems[0].GetType()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--num", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("bench/results/invalid_samples_prior.json"))
    args = parser.parse_args()

    from rdkit import RDLogger

    from chemloop.bench.machine import describe
    from chemloop.model import checkpoint
    from chemloop.model.generate import sample

    RDLogger.DisableLog("rdApp.*")
    lm = checkpoint.load(args.model)
    report = sample(lm, args.num, seed=args.seed, precision="fp32")
    kinds: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for molecule in report.molecules:
        kind = "valid" if molecule.valid else classify(molecule.smiles)
        kinds[kind] += 1
        if kind != "valid" and len(examples[kind]) < EXAMPLES:
            examples[kind].append(molecule.smiles)
    invalid = sum(n for kind, n in kinds.items() if kind != "valid")
    result = {
        "benchmark": "invalid samples",
        "model": args.model,
        "samples": len(report.molecules),
        "withheld": report.withheld,
        "seed": args.seed,
        "precision": "fp32",
        "machine": describe(),
        "invalid": invalid,
        "kinds": dict(kinds.most_common()),
        "examples": dict(examples),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    for kind, n in kinds.most_common():
        print(f"{n:6d}  {kind}")
    print(f"{invalid} of {len(report.molecules)} invalid; wrote {args.output}")


if __name__ == "__main__":
    main()
