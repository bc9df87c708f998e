"""Ratings turned into preference pairs for a campaign's reward model (chemloop.loop.reward_store)."""

from __future__ import annotations

import itertools

import pytest

from chemloop.loop import reward_store
from chemloop.loop.campaign import init_campaign, record_preference, record_rating
from chemloop.loop.config import CampaignConfig
from chemloop.loop.reward_store import MAX_RATING_PAIRS, _feedback, _rating_pairs
from chemloop.loop.store import Measurement, Rating, connect, get_campaign, session_scope


def rated(*pairs: tuple[str, int]) -> list[Rating]:
    return [Rating(smiles=s, rating=r) for s, r in pairs]


def many(n: int) -> list[Rating]:
    """``n`` molecules (names only: pairing never parses them) rated 1, 2, 3, 4, 5, 1, 2, …"""
    return rated(*((f"m{i}", 1 + i % 5) for i in range(n)))


def as_tuples(pairs) -> list[tuple[str, str, str]]:
    return list(zip(pairs.smiles_a, pairs.smiles_b, pairs.preferred, strict=True))


def check_pairs(pairs, ratings: list[Rating]) -> None:
    """Every pair joins two different molecules with different mean ratings; the higher one wins."""
    by_molecule: dict[str, list[int]] = {}
    for r in ratings:
        by_molecule.setdefault(r.smiles, []).append(r.rating)
    mean = {s: sum(v) / len(v) for s, v in by_molecule.items()}
    assert len(pairs.smiles_a) == len(pairs.smiles_b) == len(pairs.preferred) == len(pairs)
    for winner, loser in zip(pairs.winners, pairs.losers, strict=True):
        assert winner != loser and mean[winner] > mean[loser]


def test_higher_rating_beats_lower_and_ties_make_no_pair():
    ratings = rated(("A", 5), ("B", 3), ("C", 3), ("D", 1))
    pairs = _rating_pairs(ratings, seed=0)
    assert as_tuples(pairs) == [
        ("A", "B", "a"),
        ("A", "C", "a"),
        ("A", "D", "a"),
        ("B", "D", "a"),
        ("C", "D", "a"),
    ]
    check_pairs(pairs, ratings)


def test_a_molecule_rated_several_times_counts_by_its_mean():
    # A: 5 and 1, mean 3; B: 4; C: 3 (ties A); D: 2 then 4, mean 3 (ties A and C).
    ratings = rated(("A", 5), ("B", 4), ("A", 1), ("C", 3), ("D", 2), ("D", 4))
    pairs = _rating_pairs(ratings, seed=0)
    assert sorted(zip(pairs.winners, pairs.losers, strict=True)) == [("B", "A"), ("B", "C"), ("B", "D")]


@pytest.mark.parametrize("ratings", [[], rated(("A", 4)), rated(("A", 3), ("B", 3), ("A", 3))])
def test_no_pairs_without_two_different_ratings(ratings):
    assert len(_rating_pairs(ratings, seed=0)) == 0


def test_up_to_the_cap_every_pair_is_listed_once():
    n = 100  # 4,950 pairs: not above MAX_RATING_PAIRS, so all of them, nothing drawn
    assert n * (n - 1) // 2 <= MAX_RATING_PAIRS < (n + 1) * n // 2
    ratings = many(n)
    pairs = _rating_pairs(ratings, seed=0)
    check_pairs(pairs, ratings)
    listed = {frozenset(p) for p in zip(pairs.smiles_a, pairs.smiles_b, strict=True)}
    assert len(listed) == len(pairs)  # no repeats
    # Every pair of different ratings: all pairs less those within each of the 5 groups of 20.
    assert len(pairs) == n * (n - 1) // 2 - 5 * (20 * 19 // 2) == 4000
    assert _rating_pairs(ratings, seed=1).preferred == pairs.preferred  # no drawing: the seed is unused


@pytest.mark.parametrize("n", [101, 400, 3000])
def test_above_the_cap_a_seeded_sample_holds_the_cap(n):
    ratings = many(n)
    pairs = _rating_pairs(ratings, seed=7)
    check_pairs(pairs, ratings)
    assert 0.7 * MAX_RATING_PAIRS <= len(pairs) <= MAX_RATING_PAIRS  # ties (~1 in 5) are dropped
    again = _rating_pairs(ratings, seed=7)
    assert as_tuples(again) == as_tuples(pairs)
    assert as_tuples(_rating_pairs(ratings, seed=8)) != as_tuples(pairs)


def test_the_cap_is_the_module_constant(monkeypatch):
    monkeypatch.setattr(reward_store, "MAX_RATING_PAIRS", 10)
    five, six = many(5), many(6)  # 10 pairs: all listed; 15 pairs: drawn, at most 10
    assert len(_rating_pairs(five, seed=0)) == 10
    for seed in range(20):
        pairs = _rating_pairs(six, seed=seed)
        check_pairs(pairs, six)
        assert len(pairs) <= 10


def test_mostly_tied_ratings_give_fewer_pairs_than_the_cap():
    # 1,000 molecules rated 3 and ten rated 5: a drawn pair is rarely between different ratings.
    ratings = rated(*((f"t{i}", 3) for i in range(1000)), *((f"h{i}", 5) for i in range(10)))
    pairs = _rating_pairs(ratings, seed=0)
    check_pairs(pairs, ratings)
    assert 0 < len(pairs) < MAX_RATING_PAIRS // 10
    assert set(pairs.winners) <= {f"h{i}" for i in range(10)}


def test_feedback_puts_chemists_choices_first_then_rating_pairs(tmp_path):
    factory = connect(f"sqlite:///{tmp_path / 'ratings.db'}")
    init_campaign(factory, "c", CampaignConfig())
    record_preference(factory, "c", "CCO", "CCN", "b")
    record_rating(factory, "c", "c1ccccc1", 2)
    record_rating(factory, "c", "CCCl", 4)
    record_rating(factory, "c", "CC(=O)O", 4)
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, "c").id
        data, extra = _feedback(session, campaign_id, seed=0)
    # No measured values: the pairs are the data, and nothing is extra.
    assert len(extra) == 0
    assert list(zip(data.winners, data.losers, strict=True)) == [
        ("CCN", "CCO"),
        ("CCCl", "c1ccccc1"),
        ("CC(=O)O", "c1ccccc1"),
    ]
    with session_scope(factory) as session:
        session.add(Measurement(campaign_id=campaign_id, smiles="CCO", value=1.5, round_number=0))
    with session_scope(factory) as session:
        data, extra = _feedback(session, campaign_id, seed=0)
    assert data.kind == "values" and data.smiles == ["CCO"] and list(data.values) == [1.5]
    assert len(extra) == 3 and extra.winners == ["CCN", "CCCl", "CC(=O)O"]


def test_rating_pairs_use_the_campaign_seed(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(
        reward_store, "_rating_pairs", lambda ratings, seed: seen.append(seed) or _rating_pairs(ratings, seed)
    )
    monkeypatch.setattr(reward_store, "MAX_RATING_PAIRS", 2)
    factory = connect(f"sqlite:///{tmp_path / 'seed.db'}")
    config = CampaignConfig.model_validate({"campaign": {"seed": 42, "min_measurements": 50}})
    init_campaign(factory, "c", config)
    for smiles, rating in zip(["CCO", "CCN", "CCC", "CCCl"], itertools.cycle([1, 5]), strict=False):
        record_rating(factory, "c", smiles, rating)
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, "c").id
    assert reward_store.refit(factory, campaign_id, config) is False  # 4 pairs at most, below 50: no fit
    assert seen == [42]
