"""The trust region, the applicability domain and the explanation of a proposal, on a hand-made set
(indoles measured; candidates near them, on their scaffold, and far away)."""

from __future__ import annotations

import numpy as np
import pytest

from chemloop.loop.campaign import _objective, rank_weights
from chemloop.loop.domain import MeasuredSet, pessimistic_where_out_of_domain

MEASURED = ["c1ccc2[nH]ccc2c1", "Cc1ccc2[nH]ccc2c1", "COc1ccc2[nH]ccc2c1", "Clc1ccc2[nH]ccc2c1"]
VALUES = [5.0, 6.0, 7.0, 8.0]
NEAR = "Fc1ccc2[nH]ccc2c1"  # one more 5-substituted indole
SAME_SCAFFOLD = "CCCCCCCCCCc1c[nH]c2ccccc12"  # an indole with a long chain: dissimilar, same scaffold
FAR = "CCCCCCCCCCCCCCO"  # nothing like the series


def test_nearest_measured_molecule_and_out_of_domain_flag():
    measured = MeasuredSet(MEASURED, VALUES)
    assert 0 < measured.domain_similarity < 1
    near, same, far = measured.explain([NEAR, SAME_SCAFFOLD, FAR])
    assert near.nearest_smiles in MEASURED and near.nearest_similarity > 0.4 and not near.out_of_domain
    assert near.nearest_value == VALUES[MEASURED.index(near.nearest_smiles)]
    assert far.nearest_similarity < 0.1 and far.out_of_domain
    assert same.nearest_similarity < measured.domain_similarity and same.out_of_domain


def test_trust_region_by_similarity_or_scaffold_and_off_when_asked():
    measured = MeasuredSet(MEASURED, VALUES)
    candidates = [NEAR, SAME_SCAFFOLD, FAR]
    why = measured.explain(candidates)
    assert measured.in_trust_region(candidates, why, 0.35, scaffold=True) == [True, True, False]
    assert measured.in_trust_region(candidates, why, 0.35, scaffold=False) == [True, False, False]
    assert measured.in_trust_region(candidates, why, None, scaffold=False) == [True, True, True]
    assert MeasuredSet([], []).in_trust_region(candidates, why, 0.35, True) == [True, True, True]


def test_too_few_molecules_have_no_domain_to_leave():
    assert MeasuredSet(MEASURED[:2], VALUES[:2]).domain_similarity == 0.0
    assert not any(e.out_of_domain for e in MeasuredSet(MEASURED[:2], VALUES[:2]).explain([FAR]))


def test_out_of_domain_uncertainty_earns_no_bonus():
    mean, std = pessimistic_where_out_of_domain(
        np.array([5.0, 5.0]), np.array([2.0, 2.0]), [False, True], 1.0
    )
    assert mean.tolist() == [5.0, 3.0] and std.tolist() == [2.0, 0.0]


class FakeModel:
    def predict(self, smiles):
        return np.full(len(smiles), 6.0), np.full(len(smiles), 2.0)


def test_objective_penalises_out_of_domain_and_zeroes_outside_the_trust_region():
    measured = MeasuredSet(MEASURED, VALUES)
    plain = _objective(FakeModel(), None, VALUES, kappa=1.0)
    guarded = _objective(FakeModel(), None, VALUES, kappa=1.0, measured=measured, trust_similarity=0.35)
    open_region = _objective(FakeModel(), None, VALUES, kappa=1.0, measured=measured, trust_similarity=None)
    near, same, far = guarded([NEAR, SAME_SCAFFOLD, FAR])
    assert near == pytest.approx(plain([NEAR])[0])  # in domain: mean + κ·std as before
    assert 0 < same < near  # on the scaffold but out of domain: mean − κ·std
    assert far == 0.0  # outside the trust region
    assert 0 < open_region([FAR])[0] < near  # no trust region: scored, without the bonus


def test_rank_weights_favour_the_better_molecules():
    assert rank_weights([7.0, 5.0, 9.0, 6.0]) == [0.75, 0.25, 1.0, 0.5]
    assert rank_weights([1e6, 1.0]) == [1.0, 0.5]  # ranks: an outlier does not take over
