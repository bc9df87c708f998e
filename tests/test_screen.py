"""Screening the agent's samples with a nearest-neighbour estimate before the oracle scores them."""

from __future__ import annotations

import pytest
import torch

from chemloop.chem.mol import canonical
from chemloop.model import checkpoint
from chemloop.rl import Agent
from chemloop.rl.screen import NeighbourScreen
from chemloop.rl.settings import AgentSettings, make_agent

SCORED = {"CCO": 1.0, "CCCO": 0.8, "c1ccccc1": 0.0, "Cc1ccccc1": 0.1}


def screen_with(scored: dict[str, float], neighbours: int = 2, min_scored: int = 1) -> NeighbourScreen:
    screen = NeighbourScreen(factor=3, neighbours=neighbours, min_scored=min_scored)
    screen.remember([canonical(s) for s in scored], list(scored.values()))
    return screen


def test_the_estimate_is_the_similarity_weighted_score_of_the_nearest_scored():
    screen = screen_with(SCORED, neighbours=1)
    assert screen.estimate([canonical("CCO")]) == pytest.approx([1.0])  # itself: similarity 1
    alcohol, arene = screen.estimate([canonical("CCCCO"), canonical("CCc1ccccc1")])
    assert alcohol == pytest.approx(0.8) and arene == pytest.approx(0.1)  # their nearest neighbours
    two = screen_with(SCORED, neighbours=2).estimate([canonical("CCCCO")])[0]
    assert 0.8 < two < 1.0  # between its two nearest, nearer the nearer one


def test_free_samples_stay_and_new_ones_are_replaced_by_the_best_estimated():
    screen = screen_with(SCORED)
    samples = [
        None,  # no molecule: costs no call, stays
        canonical("CCO"),  # scored before: stays
        canonical("Cc1ccccc1C"),  # new, estimated low (an arene)
        canonical("Cc1ccccc1C"),  # its repeat: free, stays
        # the next batches' worth of samples
        canonical("CCCCO"),  # new, estimated high (an alcohol)
        canonical("c1ccc2ccccc2c1"),
        None,
    ]
    assert screen.choose(samples, 4) == [0, 1, 3, 4]
    assert screen.choose(samples[:4], 4) == [0, 1, 2, 3]  # one batch sampled: nothing to choose from


def test_until_enough_is_scored_the_first_batch_is_scored_as_sampled():
    screen = screen_with(SCORED, min_scored=10)
    samples = [canonical(s) for s in ["CCN", "CCCN", "CCCCO", "OCCO", "c1ccncc1", "CCOCC"]]
    assert screen.choose(samples, 2) == [0, 1]


def test_remember_counts_each_molecule_once_and_the_state_round_trips():
    screen = screen_with(SCORED)
    screen.remember([canonical("CCO"), canonical("CCN"), canonical("CCN"), None], [0.0, 0.5, 0.5, 0.0])
    assert screen.scores[canonical("CCO")] == 1.0 and len(screen.scores) == len(SCORED) + 1
    again = NeighbourScreen(factor=3, neighbours=2, min_scored=1)
    again.load_state(screen.state())
    probe = [canonical("CCCCN"), canonical("Cc1ccccc1O")]
    assert again.scores == screen.scores
    assert again.estimate(probe) == pytest.approx(screen.estimate(probe))


def test_the_agent_scores_as_many_new_molecules_as_without_screening(monkeypatch):
    """The agent samples factor × batch, and the oracle sees one batch's worth of new molecules."""
    import chemloop.rl.agent as agent_module

    lm = checkpoint.load("prior")
    pool = [
        "CCO",
        "CCN",
        "CCCO",
        "CCCN",
        "OCCO",
        "c1ccccc1",
        "Cc1ccccc1",
        "c1ccncc1",
        "CCOC",
        "CCCCO",
        "CC=O",
    ]
    asked_for = []

    def sample_ids(model, tokenizer, num, **kwargs):
        asked_for.append(num)
        batch = torch.full((num, 40), tokenizer.pad_id)
        for i in range(num):
            row = tokenizer.encode(pool[i % len(pool)])
            batch[i, : len(row)] = torch.tensor(row)
        return batch, None

    monkeypatch.setattr(agent_module, "sample_ids", sample_ids)
    screen = screen_with(SCORED)
    agent = Agent(lm, batch_size=4, replay=0, screen=screen)
    scored: list[str] = []
    agent.step(lambda smiles: scored.extend(smiles) or [0.5] * len(smiles))
    assert asked_for == [12]  # three batches' worth
    before = {canonical(s) for s in SCORED}
    new = [canonical(s) for s in scored if canonical(s) not in before]
    assert len(scored) == 4 and {canonical("CCO"), canonical("CCCO")} <= set(scored)  # free, kept
    assert len(new) == 2 and all(screen.scores[c] == 0.5 for c in new)  # scored, then remembered


def test_screen_factor_one_is_the_agent_without_a_screen():
    lm = checkpoint.load("prior")
    assert make_agent(lm, AgentSettings(), seed=0).screen is None
    assert make_agent(lm, AgentSettings(screen_factor=4), seed=0).screen.factor == 4
    with pytest.raises(ValueError, match="at least 1"):
        NeighbourScreen(factor=0)


@pytest.mark.slow
def test_an_optimize_run_with_a_screen_spends_its_budget_and_keeps_what_it_scored(tmp_path):
    import csv
    import json

    from chemloop.rl.run import OptimizeConfig, optimize

    def config(budget: int) -> OptimizeConfig:
        run = {"budget": budget, "batch_size": 16, "seed": 1, "screen_factor": 3}
        return OptimizeConfig.model_validate({"run": run, "score": {"components": [{"type": "qed"}]}})

    out = optimize(config(160), tmp_path / "run")
    with (out / "oracle_calls.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 160 and len({r["smiles"] for r in rows}) == 160
    state = json.loads((out / "state" / "agent_state.json").read_text())
    assert len(state["screen"]["scores"]) >= 100  # every molecule scored, kept for a resume
