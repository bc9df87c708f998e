"""Time of an RL step (sample, score QED, the update and its augmentation rounds) with the agent's
likelihoods in one padded batch against batches of similar length (of each ``--rows`` size), side by
side.

    OMP_NUM_THREADS=1 python bench/rl_step_time.py --steps 12 [--rows 8,16,32] \
        --output bench/results/rl_step_time.json

One agent per variant, each with the default settings from the same prior and seed; their steps
alternate, so load on a shared machine falls on all alike, and the median step time of each is
reported (the first two steps of each are warm-up and not counted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from rdkit.Chem import QED

from chemloop.bench.result_file import write_result
from chemloop.chem.mol import try_mol
from chemloop.model import checkpoint
from chemloop.model.likelihood import log_likelihood_by_length, pad_batch, sequence_log_likelihood
from chemloop.rl.settings import AgentSettings, make_agent

WARM_UP = 2


def qed(smiles: list[str]) -> list[float]:
    return [0.0 if (mol := try_mol(s)) is None else QED.qed(mol) for s in smiles]


def one_padded_batch(agent, model, sequences):
    """The agent's likelihood as it was: every row padded to the batch's longest (multiple of 16)."""
    pad = agent.tokenizer.pad_id
    ids = pad_batch(sequences, pad, multiple=16, limit=model.config.block_size).to(agent.device)
    return sequence_log_likelihood(model, ids, pad)


def by_length(agent, rows: int):
    """The agent's likelihood in batches of similar length, ``rows`` rows a batch."""

    def log_likelihood(model, sequences):
        return log_likelihood_by_length(
            model, sequences, agent.tokenizer.pad_id, rows_per_batch=rows, device=agent.device
        )

    return log_likelihood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--rows", default="16", help="comma-separated rows per length batch")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    lm = checkpoint.load(args.model)
    settings = AgentSettings(precision=args.precision)
    padded = make_agent(lm, settings, seed=0)
    padded._log_likelihood = lambda model, sequences: one_padded_batch(padded, model, sequences)
    agents = {"one padded batch": padded}
    for rows in (int(r) for r in args.rows.split(",")):
        agent = make_agent(lm, settings, seed=0)
        agent._log_likelihood = by_length(agent, rows)
        agents[f"by length, {rows} rows"] = agent
    times: dict[str, list[float]] = {name: [] for name in agents}
    for _ in range(args.steps):
        for name, agent in agents.items():
            start = time.perf_counter()
            agent.step(qed)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t[WARM_UP:]) for name, t in times.items()}
    result = {
        "model": args.model,
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "batch_size": settings.batch_size,
        "median_step_seconds": {k: round(v, 3) for k, v in medians.items()},
        "speedup": {k: round(medians["one padded batch"] / v, 3) for k, v in medians.items()},
        "step_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "step_seconds"}, indent=1))
    write_result(result, args.output)


if __name__ == "__main__":
    main()
