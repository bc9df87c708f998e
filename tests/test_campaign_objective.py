"""The score a campaign's agent is steered by (chemloop.loop.campaign._objective), on fakes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from chemloop.loop.campaign import _objective


class FakeModel:
    """A reward model with fixed (mean, std) per canonical SMILES; records what it was asked."""

    def __init__(self, table: dict[str, tuple[float, float]]) -> None:
        self.table, self.asked = table, []

    def predict(self, smiles: list[str]) -> tuple[np.ndarray, np.ndarray]:
        self.asked.append(list(smiles))
        return np.array([self.table[s][0] for s in smiles]), np.array([self.table[s][1] for s in smiles])


@dataclass
class Scored:
    score: float


class FakeScorer:
    def __init__(self, table: dict[str, float], weighted: bool = True) -> None:
        self.table, self.asked = table, []
        self.config = SimpleNamespace(weighted=weighted)  # False: filters only

    def __call__(self, smiles: list[str]) -> list[Scored]:
        self.asked.append(list(smiles))
        return [Scored(self.table[s]) for s in smiles]


def squash(x: float, low: float, high: float) -> float:
    """The logistic the objective is documented to use: 0.5 mid-way, steepness 5 / (high - low)."""
    return 1 / (1 + math.exp(-5 / (high - low) * (x - (low + high) / 2)))


def test_nothing_to_steer_by_gives_no_objective():
    assert _objective(None, None, [1.0, 2.0], kappa=1.0) is None
    # Filters alone (the default constitution's) constrain candidates but do not steer the agent.
    assert _objective(None, FakeScorer({}, weighted=False), [1.0, 2.0], kappa=1.0) is None


def test_model_mean_plus_kappa_std_squashed_between_the_measured_extremes():
    model = FakeModel({"CCO": (3.0, 2.0), "c1ccccc1": (6.0, 0.0), "CCN": (1.0, 4.0)})
    score = _objective(model, None, [2.0, 6.0, 4.5], kappa=0.5)
    got = score(["CCO", "c1ccccc1", "CCN"])
    # CCO: 3 + 0.5·2 = 4, the middle of [2, 6]; benzene: 6, the top; CCN: 1 + 0.5·4 = 3.
    assert got == pytest.approx([0.5, squash(6.0, 2.0, 6.0), squash(3.0, 2.0, 6.0)], abs=1e-12)
    assert got[1] == pytest.approx(1 / (1 + math.exp(-2.5)))  # ≈ 0.924: the top is not 1
    assert model.asked == [["CCO", "c1ccccc1", "CCN"]]


def test_kappa_rewards_uncertainty():
    model = FakeModel({"CCO": (4.0, 1.0), "CCN": (4.0, 0.0)})
    greedy = _objective(model, None, [2.0, 6.0], kappa=0.0)(["CCO", "CCN"])
    optimistic = _objective(model, None, [2.0, 6.0], kappa=2.0)(["CCO", "CCN"])
    assert greedy == pytest.approx([0.5, 0.5])
    assert optimistic[0] == pytest.approx(squash(6.0, 2.0, 6.0)) and optimistic[1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("values", "low", "high"),
    [([], 0.0, 1.0), ([3.0], 3.0, 4.0), ([3.0, 3.0], 3.0, 4.0), ([-1.0, 7.0, 2.0], -1.0, 7.0)],
)
def test_the_squashing_range_without_a_spread_of_values(values, low, high):
    model = FakeModel({"CCO": (0.25, 0.0)})
    assert _objective(model, None, values, kappa=1.0)(["CCO"]) == [pytest.approx(squash(0.25, low, high))]


def test_invalid_smiles_score_zero_and_reach_neither_model_nor_scorer():
    model = FakeModel({"CCO": (4.0, 0.0)})
    scorer = FakeScorer({"CCO": 0.5})
    got = _objective(model, scorer, [2.0, 6.0], kappa=1.0)(["C1CC", "OCC", "not a molecule"])
    assert got == [0.0, pytest.approx(0.25), 0.0]
    assert model.asked == [["CCO"]] and scorer.asked == [["CCO"]]  # canonical forms only


def test_scorer_alone_passes_its_score_through_and_nan_counts_as_zero():
    scorer = FakeScorer({"CCO": 0.8, "CCN": 0.0, "c1ccccc1": math.nan})
    got = _objective(None, scorer, [2.0, 6.0], kappa=1.0)(["CCO", "CCN", "c1ccccc1"])
    assert got == [pytest.approx(0.8), 0.0, 0.0]


def test_model_and_scorer_multiply():
    model = FakeModel({"CCO": (5.0, 0.5), "CCN": (2.0, 0.0)})
    scorer = FakeScorer({"CCO": 0.6, "CCN": 0.0})  # CCN fails a filter: 0 whatever the model says
    got = _objective(model, scorer, [2.0, 6.0], kappa=2.0)(["CCO", "CCN"])
    assert got == [pytest.approx(0.6 * squash(6.0, 2.0, 6.0)), 0.0]


def test_an_empty_batch_asks_nothing():
    model, scorer = FakeModel({}), FakeScorer({})
    assert _objective(model, scorer, [1.0, 2.0], kappa=1.0)([]) == []
    assert model.asked == [] and scorer.asked == []


def test_a_molecule_sampled_twice_scores_the_same_both_times():
    model = FakeModel({"CCO": (5.0, 0.0), "CCN": (5.0, 0.0)})
    scorer = FakeScorer({"CCO": 0.5, "CCN": 0.5})
    score = _objective(model, scorer, [2.0, 6.0], kappa=1.0)
    once = score(["CCN"])[0]
    assert once == pytest.approx(0.5 * squash(5.0, 2.0, 6.0))
    assert score(["CCO", "OCC", "CCN"]) == pytest.approx([once, once, once])
