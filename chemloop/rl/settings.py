"""The agent's settings, one set for every face that steers a model.

``chemloop optimize`` (``[run]``), ``chemloop bench pmo`` and a campaign's ``propose`` (its
``[run]`` table) all build their agent from :class:`AgentSettings` through :func:`make_agent`, so
the defaults below are what each of them runs unless a config says otherwise. They are the
settings measured on the PMO benchmark (docs/benchmarks/pmo.md): Augmented Memory's PMO settings
(Guo & Schwaller 2024: batch 64, σ 500, 2 augmentation rounds, top-100 memory, 10 replayed, no
diversity filter) with the learning rate 1e-4 (their 5e-4, set for an RNN prior, collapsed the
transformer's validity) and the spelling of the prior (canonical spellings won on PMO's tuning
tasks with a prior that learned canonical SMILES only).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chemloop.chem.prompts import Prompt, PromptKind, parse_prompt
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import resolve_precision
from chemloop.model.prompting import prepare_prompt
from chemloop.rl.agent import Agent
from chemloop.rl.diversity import ScaffoldDiversityFilter
from chemloop.rl.ga import GraphGA
from chemloop.rl.memory import ReplayMemory
from chemloop.rl.screen import NeighbourScreen


class PromptSetting(BaseModel):
    """``[run] prompt``: every molecule the agent writes keeps this part (docs/prompting.md)."""

    model_config = ConfigDict(extra="forbid")

    scaffold: str | None = Field(
        None,
        description="a scaffold with '*' attachment points that every molecule decorates (one point: grows)",
    )
    link: str | None = Field(None, description="two fragments, FRAG1*.*FRAG2, that every molecule links")

    @model_validator(mode="after")
    def _one_checked_prompt(self) -> PromptSetting:
        if (self.scaffold is None) == (self.link is None):
            raise ValueError("give scaffold or link, one of the two")
        parse_prompt(self.text, self.kind)  # a PromptError names the prompt and what is wrong
        return self

    @property
    def kind(self) -> PromptKind:
        return "decorate" if self.scaffold is not None else "link"

    @property
    def text(self) -> str:
        return self.scaffold if self.scaffold is not None else str(self.link)


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(
        64, ge=1, description="molecules scored per step (agent samples and GA offspring)"
    )
    update: Literal["reinvent", "reinforce_kl"] = Field(
        "reinvent",
        description="policy update: REINVENT's augmented likelihood, or REINFORCE with a KL penalty",
    )
    sigma: float = Field(500.0, gt=0, description="reinvent: weight of the score in the augmented likelihood")
    likelihood_barrier: float = Field(
        0.0, ge=0, description="reinvent: weight of REINVENT's penalty on near-certain sequences (5e3 in PMO)"
    )
    beta: float = Field(0.05, ge=0, description="reinforce_kl: weight of the KL penalty to the prior")
    lr: float = Field(1e-4, gt=0, description="Adam learning rate of the agent")
    replay: int = Field(10, ge=0, description="remembered molecules added to each batch")
    memory_size: int = Field(100, ge=1, description="best molecules kept for replay")
    augment_rounds: int = Field(
        2, ge=0, description="extra updates per batch on random spellings (Augmented Memory)"
    )
    augment_whole_memory: bool = Field(
        False,
        description="each augmentation round replays the whole memory (published Augmented Memory) "
        "instead of `replay` molecules from it",
    )
    unique_batch: bool = Field(
        False, description="learn once from a sequence sampled twice in a batch (REINVENT's dedup)"
    )
    # Follows the prior by default: a prior that learned canonical SMILES only rates a random
    # spelling ~75 nats less likely (bench/spelling_nll.py), and agents trained on random
    # spellings from it fell to ~0.5 validity; a prior pretrained on random spellings writes them.
    randomize: bool | None = Field(
        None,
        description="replay and augmentation use random SMILES spellings (Augmented Memory); "
        "false keeps the canonical spelling; unset follows the prior (on if it was trained on random "
        "spellings)",
    )
    diversity_bucket: int | None = Field(None, ge=1, description="scaffold bucket size; none disables")
    # 0.25 since 2026-12-06: higher PMO AUC in 18 of the 19 paired runs that differed (two priors,
    # 16 tasks, seed 0; three tuning-task seeds; lower on drd2 by 0.010) and a higher make-run
    # top-10 on 3 of 3 seeds (docs/benchmarks/pmo.md, GA row). 0.5 and 0.75 were no better beyond seed
    # noise on the tuning tasks with the prior shipped 2026-12-07 (the same table).
    ga_share: float = Field(
        0.25,
        ge=0,
        lt=1,
        description="share of each step's batch made by graph-GA crossover and mutation of the replay "
        "memory (mol-ga's operators) instead of sampled by the agent; scored, counted in the budget and "
        "learned from like the agent's samples; 0: off. Offspring are always new molecules, so their "
        "share of oracle calls grows as the agent repeats itself",
    )
    ga_mutation_rate: float = Field(
        0.01, ge=0, le=1, description="ga: chance that a crossover child is also mutated"
    )
    ga_rank_coefficient: float = Field(
        0.01,
        gt=0,
        description="ga: parents are drawn from the memory with weight 1 / (k·N + rank), k this value and N "
        "the memory's size; smaller favours the top molecules more",
    )
    screen_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="the agent samples this many times the molecules it has scored, and the new molecules "
        "scored are those with the best nearest-neighbour estimate of the score from every molecule "
        "scored so far (ECFP4 Tanimoto); 1: off",
    )
    # bf16 where the CPU has the units: a step ~1.5x faster, and PMO's tuning tasks scored alike
    # (bf16 higher in 3 of 5 seed pairs against fp32, +0.027 on average; docs/benchmarks.md).
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="number format of the agent's forward passes (sampling, likelihoods): bf16 runs matrix "
        "products in bfloat16 (weights, gradients and optimizer state stay float32); auto: bf16 on a GPU "
        "or a CPU with bf16 units (AMX, AVX-512 BF16), else fp32",
    )
    prompt: PromptSetting | None = Field(
        None,
        description='steer under a prompt: { scaffold = "CORE with *" } or { link = "FRAG1*.*FRAG2" }; '
        "the agent writes only molecules that keep it (others are never scored) and learns from each "
        "whole string as it wrote it; GA offspring that lose it are dropped. Needs a prior trained on "
        "random spellings",
    )


def agent_settings(section: AgentSettings) -> AgentSettings:
    """Only the agent's settings of ``section`` (a ``[run]`` table carries stopping rules too)."""
    return AgentSettings.model_validate(section.model_dump(include=set(AgentSettings.model_fields)))


def resolve(settings: AgentSettings, prior: LanguageModel) -> AgentSettings:
    """``settings`` with what depends on the prior filled in (``randomize`` left unset follows it)."""
    resolved = agent_settings(settings)
    if resolved.randomize is None:
        resolved = resolved.model_copy(update={"randomize": prior.writes_random_spellings})
    return resolved.model_copy(update={"precision": agent_precision(resolved.precision)})


def agent_precision(precision: str) -> str:
    """``auto`` made concrete for the agent, which runs on the CPU: bf16 where it has the units."""
    return resolve_precision(precision, torch.device("cpu"))


def checked_prompt(settings: AgentSettings, prior: LanguageModel) -> Prompt | None:
    """The prompt of ``settings``, checked against what ``prior`` can write (before any sampling)."""
    return (
        None if settings.prompt is None else prepare_prompt(prior, settings.prompt.text, settings.prompt.kind)
    )


def make_agent(prior: LanguageModel, settings: AgentSettings, seed: int) -> Agent:
    """The agent of ``settings``, a copy of ``prior``; what every face that steers a model runs."""
    s = resolve(settings, prior)
    return Agent(
        prior,
        update=s.update,
        sigma=s.sigma,
        likelihood_barrier=s.likelihood_barrier,
        beta=s.beta,
        lr=s.lr,
        batch_size=s.batch_size,
        replay=s.replay,
        augment_rounds=s.augment_rounds,
        augment_whole_memory=s.augment_whole_memory,
        unique_batch=s.unique_batch,
        randomize=bool(s.randomize),
        memory=ReplayMemory(size=s.memory_size, randomize=bool(s.randomize), seed=seed),
        diversity=ScaffoldDiversityFilter(s.diversity_bucket) if s.diversity_bucket else None,
        ga=GraphGA(s.ga_mutation_rate, s.ga_rank_coefficient, seed=seed) if s.ga_share > 0 else None,
        ga_share=s.ga_share,
        screen=NeighbourScreen(s.screen_factor) if s.screen_factor > 1 else None,
        prompt=checked_prompt(s, prior),
        precision=s.precision,
        seed=seed,
    )
