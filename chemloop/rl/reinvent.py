"""REINVENT-style policy optimization (Olivecrona et al. 2017; Blaschke et al. 2020).

The agent, a copy of the prior, samples a batch; each string's target log-likelihood is
the prior's plus σ·score (the "augmented likelihood"), and the agent is pulled towards it
by a squared error. The prior term keeps the agent close to the prior.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from chemloop.chem.mol import try_canonical
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.likelihood import pad_batch, sequence_log_likelihood
from chemloop.model.sampling import sample_ids
from chemloop.rl.diversity import ScaffoldDiversityFilter
from chemloop.rl.memory import ReplayMemory

ScoreFunction = Callable[[Sequence[str]], Sequence[float]]


@dataclass
class StepReport:
    step: int
    mean_score: float
    best_score: float
    validity: float
    loss: float


class ReinventAgent:
    def __init__(
        self,
        prior: LanguageModel,
        *,
        sigma: float = 128.0,
        lr: float = 1e-4,
        batch_size: int = 64,
        replay: int = 8,
        memory: ReplayMemory | None = None,
        diversity: ScaffoldDiversityFilter | None = None,
        seed: int = 0,
    ) -> None:
        self.prior = prior
        self.agent = copy.deepcopy(prior.model).train()
        self.tokenizer = prior.tokenizer
        self.sigma, self.batch_size, self.replay = sigma, batch_size, replay
        self.memory = memory if memory is not None else ReplayMemory(seed=seed)
        self.diversity = diversity
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(seed)
        self.steps = 0
        for p in self.prior.model.parameters():
            p.requires_grad_(False)

    def _log_likelihoods(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            prior_logp = sequence_log_likelihood(self.prior.model, ids, self.tokenizer.pad_id)
        return prior_logp, sequence_log_likelihood(self.agent, ids, self.tokenizer.pad_id)

    def step(self, score: ScoreFunction) -> StepReport:
        """Sample a batch, score it, and take one gradient step (plus replay of the best)."""
        self.agent.eval()
        ids, _ = sample_ids(self.agent, self.tokenizer, self.batch_size, generator=self.generator)
        self.agent.train()
        smiles = [self.tokenizer.decode(row) for row in ids.tolist()]
        raw = [float(s) for s in score(smiles)]
        scores = [0.0 if math.isnan(s) else s for s in raw]
        canonical = [try_canonical(s) for s in smiles]
        rewarded = self.diversity(canonical, scores) if self.diversity else scores
        self.memory.add(canonical, scores)

        replay_smiles, replay_scores = self.memory.sample(self.replay)
        replay_ids = [self.tokenizer.encode(s) for s in replay_smiles]
        keep = [i for i, r in enumerate(replay_ids) if len(r) <= self.agent.config.block_size]
        # Sampled rows keep their <pad> tail; pad_batch just evens the widths with the replay rows.
        all_ids = pad_batch([*ids.tolist(), *(replay_ids[i] for i in keep)], self.tokenizer.pad_id)
        rewards = torch.tensor([*rewarded, *(replay_scores[i] for i in keep)])
        prior_logp, agent_logp = self._log_likelihoods(all_ids)
        target = prior_logp + self.sigma * rewards
        loss = (target - agent_logp).pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        valid = sum(c is not None for c in canonical) / len(canonical)
        return StepReport(self.steps, sum(scores) / len(scores), max(scores), valid, loss.item())
