"""Where an RL step's time goes: the agent's sampling, the prior's likelihoods, the rest of the
update (the agent's likelihoods, backward pass, optimizer) and scoring (QED), with the default
settings on a prior.

    OMP_NUM_THREADS=1 python bench/rl_step_breakdown.py --steps 10 \
        --output bench/results/rl_step_breakdown.json

Each part is timed around the agent's own methods; the first two steps are warm-up and not
counted. Shares, not seconds, are what carry over between machines and loads.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import torch
from rl_step_time import qed  # the same scoring as the step-time benchmark beside this script

from chemloop.bench.machine import describe
from chemloop.bench.result_file import write_result
from chemloop.model import checkpoint
from chemloop.rl.settings import AgentSettings, make_agent

WARM_UP = 2


def timed(totals: dict[str, float], name: str, function):
    """``function`` that adds its running time to ``totals[name]``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prior")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    lm = checkpoint.load(args.model)
    settings = AgentSettings(precision=args.precision)
    agent = make_agent(lm, settings, seed=0)
    totals: dict[str, float] = defaultdict(float)
    # The prior's likelihoods are computed inside the update: timed on their own and taken out of it.
    agent._sample = timed(totals, "sampling", agent._sample)
    agent._prior_log_likelihood = timed(totals, "prior likelihoods", agent._prior_log_likelihood)
    agent._update = timed(totals, "update", agent._update)
    score = timed(totals, "scoring", qed)
    for _ in range(WARM_UP):
        agent.step(score)
    totals.clear()
    start = time.perf_counter()
    for _ in range(args.steps):
        agent.step(score)
    total = time.perf_counter() - start
    parts = {
        "sampling": totals["sampling"],
        "prior likelihoods": totals["prior likelihoods"],
        "agent likelihoods, backward, optimizer": totals["update"] - totals["prior likelihoods"],
        "scoring (QED)": totals["scoring"],
    }
    parts["other"] = total - sum(parts.values())
    result = {
        "machine": describe(torch.device("cpu")),
        "model": args.model,
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "batch_size": settings.batch_size,
        "augment_rounds": settings.augment_rounds,
        "seconds_per_step": round(total / args.steps, 3),
        "share": {k: round(v / total, 3) for k, v in parts.items()},
    }
    print(json.dumps(result, indent=1))
    write_result(result, args.output)


if __name__ == "__main__":
    main()
