"""Reward models on parent compounds against the SMILES as written, where the forms differ.

A lab files results under the parent compound (neutral, no counter-ion), while the default prior
writes the pH-7 forms of ZINC-250k (ammoniums, carboxylates). Each draw trains a reward model on
``--train`` ZINC-250k molecules written as their parents, valued by a PMO oracle on the parent,
and predicts ``--test`` other ZINC-250k molecules whose written form is not their parent (charged
or a salt), as written, against the oracle's value of their parent: the compound's value. The
same model settings run with ``parent_forms`` on and off, on the same rows. Writes each draw's
Spearman and RMSE, their means, and the machine.

    OMP_NUM_THREADS=1 python bench/reward_parent_forms.py --data ../shared/data/zinc250k.smi.gz \\
        [--tasks osimertinib_mpo,fexofenadine_mpo,ranolazine_mpo,qed] [--draws 3] \\
        [--output bench/results/reward_parent_forms.json]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path


def draw_rows(smiles: list[str], train: int, test: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """``train`` parents of molecules and ``test`` (written, parent) pairs whose two forms differ."""
    from rdkit import Chem

    from chemloop.chem.mol import parent_smiles

    order = random.Random(seed).sample(range(len(smiles)), len(smiles))
    parents, changed = [], []
    for i in order:
        mol = Chem.MolFromSmiles(smiles[i])
        written, parent = Chem.MolToSmiles(mol), parent_smiles(mol)
        if written != parent and len(changed) < test:
            changed.append((written, parent))
        elif written == parent and len(parents) < train:
            parents.append(parent)
        if len(parents) == train and len(changed) == test:
            break
    return parents, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="ZINC-250k (.smi, gzipped or not)")
    parser.add_argument("--tasks", default="osimertinib_mpo,fexofenadine_mpo,ranolazine_mpo,qed")
    parser.add_argument("--train", type=int, default=300, help="parent compounds the model learns")
    parser.add_argument("--test", type=int, default=500, help="molecules written in another form")
    parser.add_argument("--draws", type=int, default=3, help="independent row draws (seeds 0, 1, ...)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    import numpy as np
    from rdkit import Chem
    from scipy.stats import spearmanr

    from chemloop.bench.result_file import result_record, write_result
    from chemloop.data.corpus import load_corpus
    from chemloop.reward.data import ValueData
    from chemloop.reward.features import FeatureTable
    from chemloop.reward.model import RewardConfig, RewardModel
    from chemloop.score.oracles.pmo import oracle

    started = time.perf_counter()
    smiles = load_corpus(args.data).smiles
    table = FeatureTable("fingerprints")  # shared: both arms featurize the same strings
    draws, summary = [], {}
    for seed in range(args.draws):
        parents, changed = draw_rows(smiles, args.train, args.test, seed)
        written = [w for w, _ in changed]
        for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
            score = oracle(task)
            train_values = np.array(score([Chem.MolFromSmiles(s) for s in parents]))
            truth = np.array(score([Chem.MolFromSmiles(p) for _, p in changed]))
            row = {"seed": seed, "task": task}
            for arm, parent_forms in (("parent_forms", True), ("as_written", False)):
                config = RewardConfig(kind="values", parent_forms=parent_forms, seed=seed)
                model = RewardModel.fit(ValueData(parents, train_values), config, table=table)
                predicted, _ = model.predict(written)
                row[arm] = {
                    "spearman": round(float(spearmanr(predicted, truth).statistic), 4),
                    "rmse": round(float(np.sqrt(np.mean((predicted - truth) ** 2))), 4),
                }
            print(row, flush=True)
            draws.append(row)
    for task in dict.fromkeys(r["task"] for r in draws):
        rows = [r for r in draws if r["task"] == task]
        summary[task] = {
            arm: {m: round(float(np.mean([r[arm][m] for r in rows])), 4) for m in ("spearman", "rmse")}
            for arm in ("parent_forms", "as_written")
        }
        print(task, summary[task])
    seconds = round(time.perf_counter() - started, 1)
    write_result(result_record(args, draws=draws, mean=summary, seconds=seconds), args.output)


if __name__ == "__main__":
    main()
