"""GA-guided exploration: graph-GA offspring of the replay memory, scored, counted and learned from."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from chemloop.chem.mol import canonical
from chemloop.model import checkpoint
from chemloop.rl import Agent, ReplayMemory
from chemloop.rl.ga import GraphGA
from chemloop.rl.oracle_log import OracleLog, read_sources
from chemloop.rl.run import OptimizeConfig, optimize
from chemloop.rl.settings import AgentSettings, make_agent
from chemloop.score.config import ScoreConfig
from chemloop.score.scorer import Scorer

PARENTS = [
    "CC(=O)Nc1ccc(O)cc1",
    "COc1ccc2[nH]cc(CCN)c2c1",
    "CN1CCC(C(=O)c2ccccc2)CC1",
    "O=C(O)c1ccccc1O",
    "Cc1ccc(S(N)(=O)=O)cc1",
    "CCN(CC)C(=O)c1cccnc1",
]


def qed_score():
    scorer = Scorer(ScoreConfig(components=[{"type": "qed"}]))
    return scorer, lambda smiles: [r.score for r in scorer(smiles)]


def fixed_samples(monkeypatch, lm, smiles: list[str]) -> None:
    """The agent "samples" ``smiles`` (the first ``num`` of them) instead of running the model."""
    import chemloop.rl.agent as agent_module

    def sample_ids(model, tokenizer, num, **kwargs):
        batch = torch.full((num, 40), tokenizer.pad_id)
        for i, text in enumerate(smiles[:num]):
            row = tokenizer.encode(text)
            batch[i, : len(row)] = torch.tensor(row)
        return batch, None

    monkeypatch.setattr(agent_module, "sample_ids", sample_ids)


def remembering(parents: list[str]) -> ReplayMemory:
    memory = ReplayMemory(size=100, randomize=False, seed=0)
    memory.add([canonical(s) for s in parents], [0.9 - 0.1 * i for i in range(len(parents))])
    return memory


def test_rank_weights_favour_the_top_and_offspring_repeat_with_the_seed():
    ga = GraphGA(rank_coefficient=0.01, seed=3)
    weights = ga.rank_weights(100)
    assert weights == sorted(weights, reverse=True) and weights[0] == pytest.approx(1.0)
    assert weights[0] / weights[-1] == pytest.approx(100.0)  # 1/(1+0) against 1/(1+99)
    first = ga.offspring(PARENTS, 5, accept=lambda child: True)
    again = GraphGA(rank_coefficient=0.01, seed=3).offspring(PARENTS, 5, accept=lambda child: True)
    assert first == again and 0 < len(first) <= 5
    assert GraphGA(seed=3).offspring([], 5, accept=lambda child: True) == []


def test_offspring_are_scored_after_the_samples_and_learned_from_in_the_models_spelling(monkeypatch):
    lm = checkpoint.load("prior")
    fixed_samples(monkeypatch, lm, ["CCO", "CCN", "c1ccncc1", "CC(C)O"])
    agent = Agent(lm, batch_size=8, replay=0, memory=remembering(PARENTS), ga=GraphGA(seed=0), ga_share=0.5)
    updates = []
    original = agent._update
    monkeypatch.setattr(
        agent,
        "_update",
        lambda ids, rewards, replay, **kw: (
            updates.append((ids, rewards, kw)) or original(ids, rewards, replay, **kw)
        ),
    )
    asked = []
    _, score = qed_score()
    report = agent.step(lambda smiles: asked.extend(smiles) or score(smiles))
    assert 0 < len(report.offspring) <= 4  # half of the batch of 8, less what was dropped
    assert asked == ["CCO", "CCN", "c1ccncc1", "CC(C)O", *report.offspring]  # after the agent's samples
    ids, rewards, kwargs = updates[0]  # the step's update: samples, then offspring
    assert kwargs["on_policy"] == 4  # REINFORCE's baseline stays the agent's own samples
    tail = ids[-len(report.offspring) :]
    assert tail == [lm.tokenizer.encode(child) for child in report.offspring]  # canonical spelling
    assert rewards[-len(report.offspring) :] == pytest.approx(score(report.offspring))
    assert not set(report.offspring) & {canonical(p) for p in PARENTS}  # new molecules only


def test_invalid_repeated_and_unwritable_offspring_are_dropped_before_scoring():
    lm = checkpoint.load("prior")

    class Proposes(GraphGA):
        """Offers fixed children to the agent's acceptance rule."""

        def offspring(self, ranked, n, accept, tries=4):
            return [c for c in self.children if accept(c)][:n]

    ga = Proposes()
    agent = Agent(lm, batch_size=8, memory=remembering(PARENTS), ga=ga, ga_share=0.5)
    agent._scored.add(canonical("CCOC(C)=O"))  # scored at an earlier step
    ga.children = [
        "not a molecule",
        PARENTS[0],  # in the memory, so scored before
        "CCOC(C)=O",  # scored before
        "[U]",  # a token the prior lacks
        "C" * 200,  # longer than the model's context
        "OCCc1ccccc1",
        "c1ccccc1CCO",  # the same molecule spelled otherwise
    ]
    kept = agent._offspring(4, sampled=["CCN"])
    assert [child for child, _ in kept] == [canonical("OCCc1ccccc1")]
    assert agent._offspring(4, sampled=["OCCc1ccccc1"]) == []  # the agent sampled it this step


@pytest.mark.slow
def test_ga_share_zero_is_the_agent_without_a_ga(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the GA ran with ga_share = 0")

    monkeypatch.setattr(GraphGA, "offspring", never)
    lm = checkpoint.load("prior")

    def run(ga: GraphGA | None) -> tuple[list[str], list[float], list[torch.Tensor]]:
        agent = Agent(lm, batch_size=8, replay=2, augment_rounds=1, ga=ga, ga_share=0.0, seed=0)
        _, score = qed_score()
        asked: list[str] = []
        reports = [agent.step(lambda smiles: asked.extend(smiles) or score(smiles)) for _ in range(2)]
        return asked, [r.loss for r in reports], [p.detach().clone() for p in agent.policy.parameters()]

    (asked_a, loss_a, weights_a), (asked_b, loss_b, weights_b) = run(None), run(GraphGA(seed=0))
    assert asked_a == asked_b and loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(weights_a, weights_b, strict=True))
    assert make_agent(lm, AgentSettings(ga_share=0.0), seed=0).ga is None  # off: no GA at all
    assert make_agent(lm, AgentSettings(), seed=0).ga is not None  # the default since 2026-12-06


def test_the_ga_state_survives_a_save_and_load(tmp_path, monkeypatch):
    lm = checkpoint.load("prior")
    fixed_samples(monkeypatch, lm, ["CCO", "CCN", "c1ccncc1", "CC(C)O"])
    settings = AgentSettings(batch_size=8, ga_share=0.5)
    agent = make_agent(lm, settings, seed=0)
    agent.memory = remembering(PARENTS)
    _, score = qed_score()
    agent.step(score)
    agent.save_state(tmp_path / "state")
    again = make_agent(lm, settings, seed=0)
    again.load_state(tmp_path / "state")
    assert again._scored == agent._scored and {"CCO", "CCN", "c1ccncc1", "CC(C)O"} <= agent._scored
    assert again.ga.offspring(PARENTS, 3, lambda c: True) == agent.ga.offspring(PARENTS, 3, lambda c: True)


@pytest.mark.slow
def test_an_optimize_run_counts_ga_offspring_in_the_budget_and_logs_their_source(tmp_path):
    config = OptimizeConfig.model_validate(
        {
            "run": {"budget": 64, "batch_size": 16, "seed": 1, "ga_share": 0.25},
            "score": {"components": [{"type": "qed"}]},
        }
    )
    out = optimize(config, tmp_path / "run")
    with (out / "oracle_calls.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 64 and len({r["smiles"] for r in rows}) == 64  # the budget holds offspring too
    sources = read_sources(out / "oracle_calls.csv")
    assert set(sources) == {"agent", "ga"} and sources[0] == "agent"  # no parents at the first step
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ga_offspring_calls"] == sources.count("ga") > 0
    report = (out / "report.html").read_text()
    assert "Where the molecules came from" in report and "GA offspring" in report


def test_the_source_chart_draws_bars_from_its_own_zero_line():
    """Each bar stands on the x axis and a share of 1 reaches the top tick: bars and axes share a scale."""
    import re

    from chemloop.rl.report import _source_svg

    svg = _source_svg(["agent"] * 150 + ["ga"] * 50)  # twenty windows of ten: 15 without GA, 5 all GA
    axis_y = float(re.search(r'<line x1="[\d.]+" y1="([\d.]+)" x2="[\d.]+" y2="\1"', svg).group(1))
    top_y = (
        min(float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" text-anchor="end">1\.00', svg)) - 4
    )
    bars = [
        tuple(map(float, b))
        for b in re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    ]
    assert len(bars) == 20 and all(y + height == pytest.approx(axis_y) for y, height in bars)
    assert bars[-1][0] == pytest.approx(top_y)  # the all-GA window reaches the 1.00 tick
    height = float(re.search(r'<svg width="\d+" height="(\d+)"', svg).group(1))
    assert axis_y < height  # the axis and its labels inside the picture


def test_a_log_without_the_source_column_is_read_and_continued_as_it_was(tmp_path):
    from chemloop.score.scorer import Scored

    path = tmp_path / "oracle_calls.csv"
    path.write_text("call,smiles,score,qed_raw,qed\n1,CCO,0.4,0.4,0.4\n")
    log = OracleLog(path, ["qed"])
    assert [c.canonical for c in log.read()] == ["CCO"]
    log.append([Scored("CCN", "CCN", 0.3, {"qed": 0.3}, {"qed": 0.3})], first_number=2, sources=["ga"])
    assert path.read_text().splitlines()[-1] == "2,CCN,0.3,0.3,0.3"  # older columns kept
    assert read_sources(path) == ["agent", "agent"]
    fresh = OracleLog(tmp_path / "new.csv", ["qed"])
    fresh.append([Scored("CCN", "CCN", 0.3, {"qed": 0.3}, {"qed": 0.3})], first_number=1, sources=["ga"])
    assert read_sources(fresh.path) == ["ga"] and [c.canonical for c in fresh.read()] == ["CCN"]
