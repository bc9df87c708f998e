"""Which pair a chemist compares next (chemloop.loop.review.next_pair), on a bare SQLite store."""

from __future__ import annotations

import pytest

from chemloop.chem.mol import canonical
from chemloop.loop.campaign import init_campaign, record_preference
from chemloop.loop.config import CampaignConfig
from chemloop.loop.review import NEIGHBOURS, next_pair
from chemloop.loop.store import (
    Measurement,
    Preference,
    Proposal,
    Round,
    connect,
    get_campaign,
    session_scope,
)

# Small distinct molecules (alkanes C1 to C12), already canonical.
CHAIN = [canonical("C" * n) for n in range(1, 13)]


@pytest.fixture
def factory(tmp_path):
    factory = connect(f"sqlite:///{tmp_path / 'review.db'}")
    init_campaign(factory, "c", CampaignConfig())  # no seed data: no reward model is fitted
    return factory


def propose_round(factory, rows: list[tuple[str, float | None]], number: int = 1) -> None:
    """A round as ``propose`` stores it: (SMILES, predicted mean) in rank order."""
    with session_scope(factory) as session:
        round_ = Round(campaign_id=get_campaign(session, "c").id, number=number, acquisition="ucb")
        session.add(round_)
        session.flush()
        for rank, (smiles, mean) in enumerate(rows, start=1):
            session.add(
                Proposal(round_id=round_.id, rank=rank, smiles=canonical(smiles), predicted_mean=mean)
            )


def measure(factory, smiles: str, value: float, round_number: int = 0) -> None:
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, "c").id
        session.add(
            Measurement(
                campaign_id=campaign_id,
                smiles=canonical(smiles),
                value=value,
                round_number=round_number,
                external=round_number == 0,
            )
        )


def shown(pair) -> tuple[str, str]:
    a, b = pair
    return a["smiles"], b["smiles"]


def test_no_pair_with_fewer_than_two_molecules(factory):
    assert next_pair(factory, "c") is None
    propose_round(factory, [("CCO", 1.0)])
    assert next_pair(factory, "c") is None


def test_two_molecules_give_one_pair_until_it_is_compared(factory):
    propose_round(factory, [("CCO", 1.0), ("c1ccccc1", 3.0)])
    assert shown(next_pair(factory, "c")) == ("CCO", "c1ccccc1")
    record_preference(factory, "c", "c1ccccc1", "OCC", "a")  # the other order, another spelling
    assert next_pair(factory, "c") is None


def test_the_closest_estimates_come_first_lower_one_as_a(factory):
    propose_round(factory, [(CHAIN[0], 9.0), (CHAIN[1], 5.2), (CHAIN[2], 1.0), (CHAIN[3], 5.0)])
    assert shown(next_pair(factory, "c")) == (CHAIN[3], CHAIN[1])  # 5.0 and 5.2: gap 0.2


def test_a_measured_value_replaces_the_prediction(factory):
    propose_round(factory, [(CHAIN[0], 1.0), (CHAIN[1], 1.1), (CHAIN[2], 9.0)])
    assert shown(next_pair(factory, "c")) == (CHAIN[0], CHAIN[1])
    measure(factory, CHAIN[1], 8.95, round_number=1)  # measured: now next to CHAIN[2]'s 9.0
    assert shown(next_pair(factory, "c")) == (CHAIN[1], CHAIN[2])


def test_equal_gaps_go_to_the_lowest_estimates(factory):
    propose_round(factory, [(CHAIN[0], 7.0), (CHAIN[1], 8.0), (CHAIN[2], 1.0), (CHAIN[3], 2.0)])
    assert shown(next_pair(factory, "c")) == (CHAIN[2], CHAIN[3])


def test_skipped_and_compared_pairs_are_not_shown_again_in_either_order(factory):
    propose_round(factory, [(CHAIN[0], 1.0), (CHAIN[1], 1.1), (CHAIN[2], 1.3), (CHAIN[3], 5.0)])
    assert shown(next_pair(factory, "c")) == (CHAIN[0], CHAIN[1])  # gap 0.1
    skipped = [(CHAIN[1], CHAIN[0])]
    assert shown(next_pair(factory, "c", skipped=skipped)) == (CHAIN[1], CHAIN[2])  # gap 0.2
    record_preference(factory, "c", CHAIN[2], CHAIN[1], "b")
    assert shown(next_pair(factory, "c", skipped=skipped)) == (CHAIN[0], CHAIN[2])  # gap 0.3
    assert shown(next_pair(factory, "c")) == (CHAIN[0], CHAIN[1])  # skips are not stored


def test_molecules_without_estimates_pair_among_themselves_after_the_estimated_ones(factory):
    # CHAIN[1] and CHAIN[3] have neither a measurement nor a prediction.
    propose_round(factory, [(CHAIN[0], 1.0), (CHAIN[1], None), (CHAIN[2], 5.0), (CHAIN[3], None)])
    assert shown(next_pair(factory, "c")) == (CHAIN[0], CHAIN[2])  # a gap of 4 beats no estimate
    record_preference(factory, "c", CHAIN[0], CHAIN[2], "a")
    assert shown(next_pair(factory, "c")) == (CHAIN[1], CHAIN[3])  # campaign (rank) order
    record_preference(factory, "c", CHAIN[1], CHAIN[3], "a")
    # Then mixed pairs, in campaign order: rank 1 with rank 2, and so on.
    assert shown(next_pair(factory, "c")) == (CHAIN[0], CHAIN[1])


def test_pairs_beyond_the_neighbour_window_come_last_in_campaign_order(factory):
    # Estimates fall with the rank, so estimate order is the reverse of campaign order.
    n = NEIGHBOURS + 3
    propose_round(factory, [(CHAIN[i], -float(i)) for i in range(n)])
    far = [(0, n - 2), (0, n - 1), (1, n - 1)]  # more than NEIGHBOURS apart in estimate order
    assert all(j - i > NEIGHBOURS for i, j in far)
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, "c").id
        for i in range(n):
            for j in range(i + 1, n):
                if (i, j) not in far:
                    session.add(
                        Preference(
                            campaign_id=campaign_id, smiles_a=CHAIN[i], smiles_b=CHAIN[j], preferred="a"
                        )
                    )
    # Only far pairs are left: the first in campaign order, not the smallest gap (which would be
    # (CHAIN[n - 1], CHAIN[1]) or (CHAIN[n - 2], CHAIN[0]), both 9 apart).
    assert shown(next_pair(factory, "c")) == (CHAIN[0], CHAIN[n - 2])
    assert shown(next_pair(factory, "c", skipped=[(CHAIN[0], CHAIN[n - 2])])) == (CHAIN[0], CHAIN[n - 1])
    every_far = [(CHAIN[i], CHAIN[j]) for i, j in far]
    assert shown(next_pair(factory, "c", skipped=every_far[:2])) == (CHAIN[1], CHAIN[n - 1])
    assert next_pair(factory, "c", skipped=every_far) is None


def test_a_molecule_proposed_and_measured_is_one_molecule(factory):
    measure(factory, "CCO", 2.0)  # seed data
    propose_round(factory, [("OCC", 7.0)])  # the same molecule, proposed again
    assert next_pair(factory, "c") is None
