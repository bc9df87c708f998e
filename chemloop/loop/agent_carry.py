"""A campaign's agent carried from one propose to the next (``[campaign] carry_agent``).

Each propose fine-tunes the prior on the measured molecules and steers a copy of it with RL. With
``carry_agent`` the copy instead starts from the weights the previous propose's agent ended with,
and its replay memory from that agent's memory rescored by this round's reward (a reward model
refitted on new results rates the remembered molecules anew); the freshly fine-tuned prior stays
the anchor of the update. A snapshot whose weights do not fit this round's model (fine-tuning
added a token to the vocabulary) is not used: the round starts from the fine-tuned prior.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import torch
from safetensors.torch import load, save
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chemloop.loop.store import AgentSnapshot
from chemloop.rl.agent import Agent

Snapshot = tuple[dict[str, torch.Tensor], list[str]]  # weights, remembered SMILES


def latest_snapshot(session: Session, campaign_id: int) -> Snapshot | None:
    """The weights and remembered SMILES of the newest stored agent, or None."""
    found = session.scalars(
        select(AgentSnapshot)
        .where(AgentSnapshot.campaign_id == campaign_id)
        .order_by(AgentSnapshot.id.desc())
    ).first()
    if found is None:
        return None
    return load(found.weights), json.loads(found.memory_json)


def store_snapshot(session: Session, campaign_id: int, round_number: int, agent: Agent) -> None:
    """Keep ``agent`` (weights and remembered SMILES) as the campaign's only snapshot."""
    # Copies: the tied embedding and output weights would otherwise share memory, which safetensors refuses.
    weights = {k: v.detach().cpu().clone() for k, v in agent.policy.state_dict().items()}
    remembered = [smiles for smiles, _ in agent.memory.best(len(agent.memory))]
    session.execute(delete(AgentSnapshot).where(AgentSnapshot.campaign_id == campaign_id))
    session.add(
        AgentSnapshot(
            campaign_id=campaign_id,
            round_number=round_number,
            weights=save(weights),
            memory_json=json.dumps(remembered),
        )
    )


def resume_agent(
    agent: Agent, snapshot: Snapshot, score: Callable[[Sequence[str]], Sequence[float]] | None
) -> bool:
    """Start ``agent`` from ``snapshot``: its weights, and its memory rescored by ``score`` (none: the
    memory starts empty). False, and ``agent`` untouched, when the weights do not fit its model."""
    weights, remembered = snapshot
    own = agent.policy.state_dict()
    if set(weights) != set(own) or any(weights[k].shape != own[k].shape for k in own):
        return False
    agent.policy.load_state_dict(weights)
    if score is not None and remembered:
        agent.memory.add(list(remembered), [float(s) for s in score(remembered)])
    return True
