"""The RL agent: a copy of the prior that samples, is scored, and is updated.

Each step samples a batch, scores it, adds replayed best molecules (Augmented Memory),
and takes one gradient step with the chosen update (``chemloop.rl.losses``): the
REINVENT augmented likelihood (Olivecrona et al. 2017; Blaschke et al. 2020) or
REINFORCE with a KL penalty to the prior. With a GA (``chemloop.rl.ga``) part of each batch
is graph-GA offspring of the replay memory, scored and learned from with the same update. Under a
prompt (decorate a scaffold, link two fragments) the agent writes its molecules by prompting
(``chemloop.model.prompting``), a molecule that loses the prompt is never scored, and the update
uses the likelihood of each whole string as the agent wrote it.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from chemloop.chem.mol import randomize, try_canonical, try_mol
from chemloop.chem.prompts import Prompt, PromptQuery
from chemloop.chem.tokenizer import TokenizerError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import autocast, resolve_precision
from chemloop.model.gpt import GPT
from chemloop.model.likelihood import log_likelihood_by_length
from chemloop.model.optim_state import load_optimizer, save_optimizer
from chemloop.model.prompting import prompted_strings
from chemloop.model.sampling import sample_ids
from chemloop.rl.diversity import ScaffoldDiversityFilter, scaffold_of
from chemloop.rl.ga import GraphGA
from chemloop.rl.losses import reinforce_kl_loss, reinvent_loss
from chemloop.rl.memory import ReplayMemory
from chemloop.rl.screen import NeighbourScreen

# One score per SMILES; None for a molecule left unscored (no oracle budget left).
ScoreFunction = Callable[[Sequence[str]], Sequence[float | None]]


def _without_padding(row: list[int], pad_id: int) -> list[int]:
    """A sampled row without its ``<pad>`` tail (rows come back as wide as the context)."""
    end = len(row)
    while end and row[end - 1] == pad_id:
        end -= 1
    return row[:end]


def _zero_if_nan(score: float) -> float:
    """A scorer's value as a reward: NaN (no molecule, or one it cannot score) counts as 0."""
    return 0.0 if math.isnan(score) else float(score)


@dataclass
class StepReport:
    """One step, over the agent's own samples (not the GA's offspring): validity over all of them, the
    scores over those before the first one the budget left unscored."""

    step: int
    mean_score: float
    best_score: float
    validity: float
    loss: float
    offspring: list[str] = field(default_factory=list)  # canonical SMILES of the GA offspring scored


class Agent:
    def __init__(
        self,
        prior: LanguageModel,
        *,
        update: str = "reinvent",
        sigma: float = 128.0,
        likelihood_barrier: float = 0.0,
        beta: float = 0.05,
        lr: float = 1e-4,
        batch_size: int = 64,
        replay: int = 8,
        augment_rounds: int = 0,
        augment_whole_memory: bool = False,
        unique_batch: bool = False,
        randomize: bool = False,
        memory: ReplayMemory | None = None,
        diversity: ScaffoldDiversityFilter | None = None,
        ga: GraphGA | None = None,
        ga_share: float = 0.0,
        screen: NeighbourScreen | None = None,
        prompt: Prompt | None = None,
        precision: str = "fp32",
        seed: int = 0,
    ) -> None:
        if update == "reinvent":
            self.loss = lambda *args, fresh: reinvent_loss(*args, sigma=sigma, barrier=likelihood_barrier)
        elif update == "reinforce_kl":
            self.loss = lambda *args, fresh: reinforce_kl_loss(*args, beta=beta, fresh=fresh)
        else:
            raise ValueError(f"unknown policy update {update!r}; choose 'reinvent' or 'reinforce_kl'")
        self.prior = prior
        self.policy = copy.deepcopy(prior.model).train()
        for p in self.policy.parameters():  # a prior that an earlier agent froze is copied frozen
            p.requires_grad_(True)
        self.tokenizer = prior.tokenizer
        self.batch_size, self.replay, self.augment_rounds = batch_size, replay, augment_rounds
        self.augment_whole_memory = augment_whole_memory
        self.unique_batch = unique_batch
        self.randomize = randomize
        self.memory = memory if memory is not None else ReplayMemory(randomize=randomize, seed=seed)
        self.diversity = diversity
        self.ga, self.ga_share = ga, ga_share
        self.screen = screen
        # Canonical SMILES scored so far: GA offspring already scored are dropped before scoring.
        self._scored: set[str] = set()
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr)
        # The prior never changes, so each sequence's prior log-likelihood is computed once: replayed
        # and re-spelled rows come back every step (a cache, not state: a resume recomputes it).
        self._prior_logp: dict[tuple[int, ...], float] = {}
        self.prompt = prompt
        self._contains = PromptQuery(prompt) if prompt is not None else None
        self.generator = torch.Generator().manual_seed(seed)
        self.seed = seed
        # Forward passes (sampling, both likelihoods) under this precision; weights, gradients and
        # Adam's state stay float32, as in pretraining (chemloop.model.device).
        self.device = next(self.policy.parameters()).device
        self.precision = resolve_precision(precision, self.device)
        self.steps = 0
        for p in self.prior.model.parameters():
            p.requires_grad_(False)

    def step(self, score: ScoreFunction) -> StepReport:
        """Sample a batch, score it, and update on it plus replayed best molecules.

        With ``augment_rounds`` > 0 the same scores are reused for that many extra updates
        on random spellings of the batch and the replay (Augmented Memory): more learning
        per oracle call, which is what the PMO budget rewards. With ``randomize`` off the
        extra updates reuse the canonical spelling. With ``augment_whole_memory`` each extra
        update replays the whole memory instead of ``replay`` molecules from it, as the
        published Augmented Memory does. With ``unique_batch`` a sequence sampled twice in one
        batch is learned from once, as REINVENT does (Augmented Memory's PMO code keeps repeats).
        With a GA, ``ga_share`` of the batch is GA offspring of the memory instead of samples: they
        follow the samples into scoring and every update, spelled as the model writes (canonical).
        With a screen (``chemloop.rl.screen``) the agent samples several batches and the new molecules
        scored are those of them with the best nearest-neighbour estimate of the score.
        """
        wanted = self._offspring_count()
        own = self.batch_size - wanted
        rows = self._sample(own * self.screen.factor if self.screen else own)
        if self.screen is not None:
            kept = self.screen.choose([try_canonical(self.tokenizer.decode(row)) for row in rows], own)
            rows = [rows[i] for i in kept]
        smiles = [self.tokenizer.decode(row) for row in rows]
        sampled = len(rows)
        for child, ids in self._offspring(wanted, smiles):
            smiles.append(child)
            rows.append(ids)
        returned = list(score(smiles))
        scored = [i for i, s in enumerate(returned) if s is not None]
        if not scored:  # nothing could be scored: no update, no step
            return StepReport(self.steps, math.nan, math.nan, math.nan, math.nan)
        on_policy = sum(1 for i in scored if i < sampled)  # the agent's samples come first
        canonical = [try_canonical(s) for s in smiles]
        # Where the budget ran out inside the batch, past the first sample it left unscored only the
        # invalid strings (free to score) were scored: the mean score covers the samples before it,
        # validity every sample (it needs no score).
        paid = next((i for i in range(sampled) if returned[i] is None), sampled)
        report_scores = [_zero_if_nan(returned[i]) for i in range(paid) or scored]
        own = range(sampled) or scored  # only offspring were sampled: report on them
        validity = sum(canonical[i] is not None for i in own) / len(own)
        if len(scored) < len(returned):  # the budget ran out inside this batch: learn from the rest
            rows, smiles = [rows[i] for i in scored], [smiles[i] for i in scored]
            canonical = [canonical[i] for i in scored]
        scores = [_zero_if_nan(returned[i]) for i in scored]
        if self.ga is not None:
            self._scored.update(c for c in canonical if c is not None)
        if self.screen is not None:
            self.screen.remember(canonical, scores)
        rewarded = self.diversity(canonical, scores) if self.diversity else scores
        self._remember(canonical, scores, rewarded)

        loss = self._update(rows, rewarded, self.replay, on_policy=on_policy)
        valid = [(c, r) for c, r in zip(canonical, rewarded, strict=True) if c is not None]
        augment_replay = len(self.memory) if self.augment_whole_memory else self.replay
        spelling_rng = random.Random(f"{self.seed}:augment:{self.steps}")  # resumed runs spell alike
        for _ in range(self.augment_rounds):
            spellings = [
                self._encode_or_none(randomize(c, spelling_rng) if self.randomize else c) for c, _ in valid
            ]
            kept = [(ids_, r) for ids_, (_, r) in zip(spellings, valid, strict=True) if ids_ is not None]
            if kept:
                self._update([i for i, _ in kept], [r for _, r in kept], augment_replay)
        self.steps += 1
        return StepReport(
            self.steps,
            sum(report_scores) / len(report_scores),
            max(report_scores),
            validity,
            loss,
            offspring=[c for c in canonical[on_policy:] if c is not None],
        )

    def _sample(self, n: int) -> list[list[int]]:
        """``n`` sequences from the policy, without their padding (deduplicated with ``unique_batch``);
        under a prompt, those that keep it (or are no molecule, to learn from)."""
        self.policy.eval()
        with self._autocast():
            if self.prompt is None:
                ids, _ = sample_ids(self.policy, self.tokenizer, n, generator=self.generator)
                rows = [_without_padding(row, self.tokenizer.pad_id) for row in ids.tolist()]
            else:
                rows = self._sample_prompted(n)
        self.policy.train()
        if self.unique_batch:  # a collapsing agent repeats itself; repeats would weigh its favourite more
            rows = list({tuple(row): row for row in rows}.values())
        return rows

    def _sample_prompted(self, n: int) -> list[list[int]]:
        """``n`` strings continuing the prompt, as token ids. A molecule that lost the prompt is
        dropped, and so is a string the vocabulary cannot spell (a linked fragment is written by
        RDKit, not the model); strings that are no molecule stay, to be scored 0 and learned from.
        The rounds' spelling choices are seeded by the step, so a resumed run draws as an unbroken one."""
        assert self.prompt is not None and self._contains is not None
        policy = LanguageModel(self.policy, self.tokenizer, self.prior.metadata)
        rng = random.Random(f"{self.seed}:{self.steps}")
        with torch.no_grad():
            written = prompted_strings(policy, self.prompt, n, self.generator, rng)
        rows = []
        for smiles, _ in written:
            mol = try_mol(smiles)
            ids = self._encode_or_none(smiles)
            if ids is not None and (mol is None or self._contains(mol)):
                rows.append(ids)
        return rows

    def _offspring_count(self) -> int:
        """GA offspring wanted this step: ``ga_share`` of the batch, once the memory holds two parents."""
        if self.ga is None or self.ga_share <= 0 or len(self.memory) < 2 or self.batch_size < 2:
            return 0
        return min(self.batch_size - 1, max(1, round(self.ga_share * self.batch_size)))

    def _offspring(self, n: int, sampled: list[str]) -> list[tuple[str, list[int]]]:
        """Up to ``n`` GA offspring of the memory with their token ids, in the canonical spelling.

        Invalid children, children already scored or in this batch, and children the model cannot
        write (a token it lacks, longer than its context) are dropped before any is scored.
        """
        if self.ga is None or n <= 0:
            return []
        taken = {c for c in map(try_canonical, sampled) if c is not None}
        chosen: dict[str, list[int]] = {}

        def accept(child: str) -> bool:
            spelled = try_canonical(child)
            seen = spelled in self._scored or spelled in self.memory or spelled in taken or spelled in chosen
            if spelled is None or seen or not self._keeps_prompt(spelled):
                return False
            ids = self._encode_or_none(spelled)
            if ids is not None:
                chosen[spelled] = ids
            return ids is not None

        parents = [s for s, _ in self.memory.best(len(self.memory))]
        self.ga.offspring(parents, n, accept)
        return list(chosen.items())

    def _keeps_prompt(self, smiles: str) -> bool:
        return self._contains is None or self._contains(try_mol(smiles))

    def _remember(self, canonical: list[str | None], scores: list[float], rewarded: list[float]) -> None:
        """Add the batch to the replay memory; purge scaffolds the diversity filter just closed.

        Replaying molecules of a full scaffold would pull the agent back to it (the
        "selective memory purge" of Augmented Memory).
        """
        closed = {
            scaffold_of(c)
            for c, s, r in zip(canonical, scores, rewarded, strict=True)
            if c is not None and s > 0 and r == 0
        }
        self.memory.add(canonical, rewarded)
        if closed:
            self.memory.discard(lambda smiles: scaffold_of(smiles) in closed)

    def _update(
        self,
        fresh_ids: list[list[int]],
        fresh_rewards: list[float],
        replay: int,
        on_policy: int | None = None,
    ) -> float:
        """One gradient step on fresh rows plus ``replay`` remembered molecules; returns the loss.

        The first ``on_policy`` fresh rows are the agent's own samples (all of them if unset):
        REINFORCE's baseline is their mean, so GA offspring are judged against the agent's samples.
        """
        replay_smiles, replay_scores = self.memory.sample(replay)
        replay_ids = [self._encode_or_none(s) for s in replay_smiles]
        keep = [i for i, r in enumerate(replay_ids) if r is not None]
        sequences = [*fresh_ids, *(replay_ids[i] for i in keep)]
        rewards = torch.tensor([*fresh_rewards, *(replay_scores[i] for i in keep)])
        prior_logp = self._prior_log_likelihood(sequences)
        with self._autocast():
            agent_logp = self._log_likelihood(self.policy, sequences)
        baseline_rows = on_policy or len(fresh_ids)
        loss = self.loss(agent_logp, prior_logp, rewards, fresh=baseline_rows)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def _prior_log_likelihood(self, sequences: list[list[int]]) -> torch.Tensor:
        """The prior's log-likelihood of each sequence, computing only those not seen before."""
        keys = [tuple(s) for s in sequences]
        new = list(dict.fromkeys(k for k in keys if k not in self._prior_logp))
        if new:
            with torch.no_grad(), self._autocast():
                values = self._log_likelihood(self.prior.model, [list(k) for k in new])
            self._prior_logp.update(zip(new, values.tolist(), strict=True))
        return torch.tensor([self._prior_logp[k] for k in keys])

    def _log_likelihood(self, model: GPT, sequences: list[list[int]]) -> torch.Tensor:
        """Each sequence's log-likelihood under ``model``, in batches of similar length (little padding)."""
        return log_likelihood_by_length(model, sequences, self.tokenizer.pad_id, device=self.device)

    def _autocast(self) -> AbstractContextManager:
        return autocast(self.device, self.precision)

    def _encode_or_none(self, smiles: str) -> list[int] | None:
        """Token ids of a replayed spelling, or None if it needs a token the prior lacks or is too long.

        A random spelling can need a token (e.g. ``[SH]``) that the canonical one does not.
        """
        try:
            ids = self.tokenizer.encode(smiles)
        except TokenizerError:
            return None
        return ids if len(ids) <= self.policy.config.block_size else None

    # Resume: weights and optimizer as safetensors, the rest as JSON (no pickles).
    def save_state(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # The policy's weights go in "agent/", where a resume (and any saved run state) has them.
        checkpoint.save(directory / "agent", self.policy, self.tokenizer)
        save_file({"generator": self.generator.get_state()}, directory / "rng.safetensors")
        save_optimizer(self.optimizer, directory)
        state = {
            "steps": self.steps,
            "memory": self.memory.state(),
            "diversity": dict(self.diversity.buckets) if self.diversity else None,
            "ga": self.ga.state() if self.ga else None,
            "scored": sorted(self._scored) if self.ga else None,
            "screen": self.screen.state() if self.screen else None,
        }
        (directory / "agent_state.json").write_text(json.dumps(state))

    def load_state(self, directory: Path) -> None:
        self.policy.load_state_dict(checkpoint.load(directory / "agent").model.state_dict())
        self.generator.set_state(load_file(directory / "rng.safetensors")["generator"])
        load_optimizer(self.optimizer, directory)
        state = json.loads((directory / "agent_state.json").read_text())
        self.steps = state["steps"]
        self.memory.load_state(state["memory"])
        if self.diversity is not None and state["diversity"] is not None:
            self.diversity.buckets.update(state["diversity"])
        if self.ga is not None and state.get("ga") is not None:  # states before the GA have no key
            self.ga.load_state(state["ga"])
            self._scored = set(state["scored"])
        if self.screen is not None and state.get("screen") is not None:
            self.screen.load_state(state["screen"])
