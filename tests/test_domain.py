"""The trust region, the applicability domain and the explanation of a proposal, on a hand-made set
(indoles measured; candidates near them, on their scaffold, and far away)."""

from __future__ import annotations

import numpy as np
import pytest

from chemloop.chem.mol import parent_smiles
from chemloop.chem.series import series_core
from chemloop.loop.campaign import _objective, rank_weights
from chemloop.loop.domain import (
    MeasuredSet,
    TrustRule,
    pessimistic_where_out_of_domain,
    trust_region_miss,
)

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
    assert measured.in_trust_region(candidates, why, TrustRule(0.35, scaffold=True)) == [True, True, False]
    assert measured.in_trust_region(candidates, why, TrustRule(0.35, scaffold=False)) == [True, False, False]
    assert measured.in_trust_region(candidates, why, TrustRule(None, scaffold=False)) == [True, True, True]
    assert MeasuredSet([], []).in_trust_region(candidates, why, TrustRule(0.35)) == [True, True, True]


# Benzylpiperidines measured; open-chain benzylamines look alike by ECFP4 but have left the series.
PIPERIDINES = [
    "COc1ccc(C[NH+]2CCC(OC(C)(C)C)CC2)cc1",
    "CC1CC[NH+](Cc2ccc(C#N)cc2F)CC1",
    "CNC(=O)[C@@H]1CCC[NH+](Cc2ccc(Cl)c(F)c2)C1",
    "CO[C@H]1CCC[NH+](Cc2cccc(Cl)c2Cl)C1",
]
OPEN_CHAIN = "COc1ccc(C[NH2+]C(C)(C)C)cc1"  # Tanimoto 0.38 to the first
ANOTHER_PIPERIDINE = "COc1ccc(C[NH+]2CCC(C)CC2)cc1"


def test_the_series_core_is_the_most_shared_scaffold_of_two_rings_or_more():
    core = "c1ccc(C[NH+]2CCCCC2)cc1"
    assert series_core(PIPERIDINES, 0.5) == core
    assert series_core([*PIPERIDINES, "c1ccc2ccccc2c1", "c1ccc2ccccc2c1"], 0.5) == core  # 4 of 6
    others = [
        "c1ccc2ccccc2c1",
        "Cc1ccc2ccccc2c1",
        "c1ccc2[nH]ccc2c1",
        "Cc1ccc2[nH]ccc2c1",
        "c1ccc(-c2ccccc2)cc1",
    ]
    assert series_core([*PIPERIDINES, *others], 0.5) is None  # at most 4 of 9 share a scaffold: no series
    assert series_core(["Cc1ccccc1", "Clc1ccccc1O", "CCc1ccccc1"], 0.5) is None  # one ring is no series
    # A larger scaffold shared as widely wins over its part (ties: the larger).
    biaryls = ["c1ccc(-c2ccncc2)cc1", "Cc1ccc(-c2ccncc2)cc1", "Fc1ccc(-c2ccncc2)cc1"]
    assert series_core(biaryls, 0.5) == "c1ccc(-c2ccncc2)cc1"
    assert series_core([], 0.5) is None


def test_the_trust_region_keeps_the_series_core_and_says_why_a_candidate_lies_outside():
    measured = MeasuredSet(PIPERIDINES, [1.0, 2.0, 3.0, 4.0])
    candidates = [OPEN_CHAIN, ANOTHER_PIPERIDINE]
    why = measured.explain(candidates)
    assert why[0].nearest_similarity >= 0.35  # near enough by similarity alone
    assert measured.in_trust_region(candidates, why, TrustRule(0.35, core_share=None)) == [True, True]
    assert measured.in_trust_region(candidates, why, TrustRule(0.35, core_share=0.5)) == [False, True]
    anchor = measured.anchor(TrustRule(0.35, core_share=0.5))
    missing = trust_region_miss(
        OPEN_CHAIN, why[0].nearest_similarity, anchor, TrustRule(0.35, core_share=0.5)
    )
    assert missing == "it lacks the series' core c1ccc(CN2CCCCC2)cc1"  # the parents' core
    strict = TrustRule(0.5, scaffold=False, core_share=0.5)
    far = trust_region_miss(OPEN_CHAIN, 0.2, measured.anchor(strict), strict)
    assert far == "its nearest measured molecule is only 0.20 similar (the region needs 0.50)"
    assert trust_region_miss(OPEN_CHAIN, 0.2, anchor, TrustRule(None, core_share=0.5)) is None  # off


def test_a_charge_state_or_salt_of_a_measured_compound_is_that_compound():
    neutral = [parent_smiles(s) for s in PIPERIDINES]
    for measured_forms, candidates in (
        (neutral, PIPERIDINES),
        (PIPERIDINES, [*neutral[:2], f"{neutral[2]}.Cl"]),
    ):
        measured = MeasuredSet(measured_forms, [1.0, 2.0, 3.0, 4.0])
        why = measured.explain(candidates)
        assert [e.nearest_similarity for e in why] == [1.0] * len(candidates)
        assert [e.nearest_smiles for e in why] == measured_forms[: len(candidates)]  # as stored
        strict = TrustRule(1.1, scaffold=True, core_share=0.5)  # inside by scaffold and core alone
        assert measured.in_trust_region(candidates, why, strict) == [True] * len(candidates)


# Diverse molecules, as an open campaign's seeds are: no shared core, nearest neighbours ~0.1-0.3.
DIVERSE = [
    "CC(=O)Nc1ccc(O)cc1",
    "O=C(O)c1ccccc1O",
    "CN1CCC[C@H]1c1cccnc1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
]


def test_without_a_series_core_the_region_needs_no_more_similarity_than_the_data_has():
    diverse = MeasuredSet(DIVERSE, list(range(len(DIVERSE))))
    rule = TrustRule(0.5, scaffold=False, core_share=0.5)
    anchor = diverse.anchor(rule)
    assert anchor.core is None and anchor.similarity == diverse.domain_similarity < 0.5
    # A candidate as near the data as its own molecules are to each other is inside; a far one is not.
    near, far = "O=C(O)c1ccccc1OC(C)=O", "CCCCCCCCCCCCCCO"  # aspirin, near salicylic acid
    why = diverse.explain([near, far])
    assert anchor.similarity <= why[0].nearest_similarity < 0.5
    assert diverse.in_trust_region([near, far], why, rule) == [True, False]
    # A series keeps the similarity asked for, though its members are spaced wider.
    series = MeasuredSet(PIPERIDINES, [1.0, 2.0, 3.0, 4.0])
    assert series.domain_similarity < 0.5 and series.anchor(rule).similarity == 0.5


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
    guarded = _objective(FakeModel(), None, VALUES, kappa=1.0, measured=measured, trust=TrustRule(0.35))
    open_region = _objective(FakeModel(), None, VALUES, kappa=1.0, measured=measured, trust=TrustRule(None))
    near, same, far = guarded([NEAR, SAME_SCAFFOLD, FAR])
    assert near == pytest.approx(plain([NEAR])[0])  # in domain: mean + κ·std as before
    assert 0 < same < near  # on the scaffold but out of domain: mean − κ·std
    assert far == 0.0  # outside the trust region
    assert 0 < open_region([FAR])[0] < near  # no trust region: scored, without the bonus


def test_a_pessimistic_objective_scores_in_domain_molecules_below_their_mean():
    measured = MeasuredSet(MEASURED, VALUES)
    mean_only = _objective(FakeModel(), None, VALUES, kappa=0.0, measured=measured, trust=TrustRule(None))
    pessimistic = _objective(FakeModel(), None, VALUES, kappa=-1.0, measured=measured, trust=TrustRule(None))
    optimistic = _objective(FakeModel(), None, VALUES, kappa=1.0, measured=measured, trust=TrustRule(None))
    near = [f([NEAR])[0] for f in (pessimistic, mean_only, optimistic)]
    assert near[0] < near[1] < near[2]
    # Out of domain, optimism and pessimism alike score mean - |κ|·std.
    assert pessimistic([FAR]) == pytest.approx(optimistic([FAR]))


def test_objective_zeroes_a_candidate_that_lacks_the_series_core():
    values = [1.0, 2.0, 3.0, 4.0]
    measured = MeasuredSet(PIPERIDINES, values)
    objective = _objective(
        FakeModel(), None, values, kappa=1.0, measured=measured, trust=TrustRule(0.35, core_share=0.5)
    )
    open_chain, piperidine = objective([OPEN_CHAIN, ANOTHER_PIPERIDINE])
    assert open_chain == 0.0 and piperidine > 0


def test_rank_weights_favour_the_better_molecules():
    assert rank_weights([7.0, 5.0, 9.0, 6.0]) == [0.75, 0.25, 1.0, 0.5]
    assert rank_weights([1e6, 1.0]) == [1.0, 0.5]  # ranks: an outlier does not take over
