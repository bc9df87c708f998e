"""Reward-model features compared by cross-validation: fingerprints vs the prior's embeddings.

A seeded sample of MOSES test molecules gets values from RDKit-based oracles (PMO tasks, so
the targets are meaningful drug-design objectives and not a descriptor the fingerprint
block already contains); the same model (ensemble of MLPs, default settings) is
cross-validated on each kind of features with the same folds. Writes a JSON file with every
fold's metrics, the winner per task and the machine.

    OMP_NUM_THREADS=2 nice -n 10 python bench/reward_compare.py [--size 1000] [--seed 0] [--folds 5] \\
        [--tasks osimertinib_mpo,median1,qed] [--output bench/results/reward_compare.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="MOSES test molecules to sample")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sample, the folds and the models")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tasks", default="osimertinib_mpo,median1,qed", help="comma-separated PMO tasks")
    parser.add_argument("--ensemble", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--output", type=Path, default=Path("bench/results/reward_compare.json"))
    args = parser.parse_args()

    import numpy as np
    import torch
    from rdkit import Chem
    from rich.console import Console

    from chemloop.data.corpus import load_moses
    from chemloop.reward.data import ValueData
    from chemloop.reward.evaluate import compare_features, format_table
    from chemloop.reward.features import FEATURE_KINDS, FeatureTable
    from chemloop.reward.model import RewardConfig
    from chemloop.score.oracles.pmo import oracle

    console = Console()
    started = time.perf_counter()
    smiles = random.Random(args.seed).sample(load_moses("test"), args.size)
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    canonical = [Chem.MolToSmiles(m) for m in mols]
    tables = {kind: FeatureTable(kind) for kind in FEATURE_KINDS}  # features shared by the tasks
    config = RewardConfig(kind="values", ensemble=args.ensemble, epochs=args.epochs, seed=args.seed)
    results = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        values = np.array(oracle(task)(mols), dtype=np.float64)
        data = ValueData(canonical, values, source=f"PMO {task} on {args.size} MOSES test molecules")

        def show(features: str, fold: int, metrics: dict, task: str = task) -> None:
            console.print(
                f"{task} {features} fold {fold}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())
            )

        comparison = compare_features(
            data, config, folds=args.folds, seed=args.seed, progress=show, tables=tables
        )
        comparison["target"] = {"mean": float(values.mean()), "std": float(values.std())}
        console.print(format_table(comparison), f"{task}: winner {comparison['winner']}")
        results[task] = comparison

    output = {
        "what": "reward-model features by k-fold CV: Morgan counts + RDKit 2D vs prior embeddings",
        "command": "python bench/reward_compare.py "
        f"--size {args.size} --seed {args.seed} --folds {args.folds} --tasks {args.tasks} "
        f"--ensemble {args.ensemble} --epochs {args.epochs} --output {args.output}",
        "winners": {task: r["winner"] for task, r in results.items()},
        "scores": {task: r["scores"] for task, r in results.items()},
        "tasks": results,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2))
    console.print(f"winners: {output['winners']}; {output['seconds']:.0f} s; wrote {args.output}")


if __name__ == "__main__":
    main()
