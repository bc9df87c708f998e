"""``carry_agent``: a propose starts from the agent the previous one ended with (weights, and its
memory rescored by the new reward); a snapshot that does not fit the model is not used."""

from __future__ import annotations

import pytest
import torch
from sqlalchemy import func, select
from test_campaign import SEED, write_values

from chemloop.loop import agent_carry, campaign
from chemloop.loop import results as loop_results
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import AgentSnapshot, connect, session_scope
from chemloop.rl.settings import AgentSettings, make_agent


def _weights(agent) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in agent.policy.state_dict().items()}


def test_a_snapshot_restores_the_weights_and_rescores_the_memory(tiny_lm, tmp_path):
    factory = connect(f"sqlite:///{tmp_path / 'carry.db'}")
    campaign.init_campaign(factory, "c", CampaignConfig())
    first = make_agent(tiny_lm, AgentSettings(batch_size=8), seed=0)
    for p in first.policy.parameters():  # an agent that learned something: its weights moved
        p.data.add_(0.01)
    first.memory.add(["CCO", "c1ccccc1O"], [0.9, 0.5])
    with session_scope(factory) as session:
        agent_carry.store_snapshot(session, 1, 1, first)
        agent_carry.store_snapshot(session, 1, 2, first)  # only the newest is kept
        assert session.scalar(select(func.count()).select_from(AgentSnapshot)) == 1
        snapshot = agent_carry.latest_snapshot(session, 1)
    fresh = make_agent(tiny_lm, AgentSettings(batch_size=8), seed=1)
    assert agent_carry.resume_agent(
        fresh, snapshot, lambda smiles: [0.2 if s == "CCO" else 0.7 for s in smiles]
    )
    for name, value in _weights(first).items():
        assert torch.equal(fresh.policy.state_dict()[name], value)
    assert fresh.memory.best(2) == [("c1ccccc1O", 0.7), ("CCO", 0.2)]  # the new reward's view
    # The prior, the anchor of the update, is the model the agent was made from, not the snapshot.
    assert not torch.equal(
        next(iter(fresh.prior.model.state_dict().values())), next(iter(first.policy.state_dict().values()))
    )


def test_a_snapshot_that_does_not_fit_the_model_is_not_used(tiny_lm):
    agent = make_agent(tiny_lm, AgentSettings(batch_size=8), seed=0)
    before = _weights(agent)
    weights = {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) for k, v in before.items()}  # a longer vocabulary
    assert not agent_carry.resume_agent(agent, (weights, ["CCO"]), lambda smiles: [1.0] * len(smiles))
    assert all(torch.equal(agent.policy.state_dict()[k], v) for k, v in before.items())
    assert len(agent.memory) == 0


@pytest.mark.slow
def test_propose_carries_the_agent_from_round_to_round(tmp_path, monkeypatch):
    write_values(tmp_path / "seed.csv", SEED)
    config = CampaignConfig.model_validate(
        {
            "campaign": {
                "batch": 3,
                "candidates": 60,
                "rl_steps": 2,
                "rl_batch_size": 8,
                "finetune_epochs": 1,
                "carry_agent": True,
                "seed_data": str(tmp_path / "seed.csv"),
            },
            "reward": {"ensemble": 2, "hidden": 32, "epochs": 20, "cv_folds": 2},
        }
    )
    factory = connect(f"sqlite:///{tmp_path / 'carry.db'}")
    campaign.init_campaign(factory, "c", config)
    resumed: list[bool] = []
    resume = agent_carry.resume_agent
    monkeypatch.setattr(agent_carry, "resume_agent", lambda *a: resumed.append(resume(*a)) or resumed[-1])
    first = campaign.propose(factory, "c")
    loop_results.import_results(factory, "c", write_values(tmp_path / "r1.csv", first.smiles))
    campaign.propose(factory, "c")
    assert resumed == [True]  # round 1 had nothing to carry; round 2 started from round 1's agent
    with session_scope(factory) as session:
        rounds = list(session.scalars(select(AgentSnapshot.round_number)))
    assert rounds == [2]
