import numpy as np
import pytest

from chemloop.loop.acquisition import acquisition_values, expected_improvement, select_batch, select_in_parts

MEAN = [0.9, 0.5, 0.7, 0.1]
STD = [0.0, 0.4, 0.05, 0.0]


def test_greedy_and_ucb_on_hand_made_predictions():
    assert list(np.argsort(-acquisition_values(MEAN, STD, "greedy"))) == [0, 2, 1, 3]
    ucb = acquisition_values(MEAN, STD, "ucb", kappa=2.0)  # 0.9, 1.3, 0.8, 0.1
    assert np.allclose(ucb, [0.9, 1.3, 0.8, 0.1])
    assert int(np.argmax(ucb)) == 1  # the uncertain molecule wins once uncertainty is worth enough


def test_expected_improvement_matches_the_closed_form():
    # mean 1, std 1, best 1: EI = σ·φ(0) = 0.39894...
    assert expected_improvement(np.array([1.0]), np.array([1.0]), best=1.0)[0] == pytest.approx(0.3989423)
    # no uncertainty: the plain improvement, never negative
    assert list(expected_improvement(np.array([1.5, 0.5]), np.array([0.0, 0.0]), best=1.0)) == [0.5, 0.0]
    ei = acquisition_values(MEAN, STD, "ei", best=0.9)
    # over a best of 0.9, the sure 0.9 gains nothing; 0.5 ± 0.4 gains 0.4·(φ(1) − Φ(−1)) = 0.0333
    assert ei[0] == 0 and ei[1] == pytest.approx(0.4 * (0.2419707 - 0.1586553))
    assert int(np.argmax(ei)) == 1
    with pytest.raises(ValueError, match="best"):
        acquisition_values(MEAN, STD, "ei")


def test_thompson_is_seeded_and_equals_greedy_without_uncertainty():
    a = acquisition_values(MEAN, STD, "thompson", rng=np.random.default_rng(3))
    b = acquisition_values(MEAN, STD, "thompson", rng=np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert np.array_equal(acquisition_values(MEAN, [0.0] * 4, "thompson"), np.array(MEAN))
    with pytest.raises(ValueError, match="'bogus'"):
        acquisition_values(MEAN, STD, "bogus")


def test_select_batch_skips_close_analogues_and_tops_up():
    smiles = ["CCCCCCCCO", "CCCCCCCCCO", "c1ccccc1N", "C1CCNCC1"]
    priority = [0.9, 0.8, 0.7, 0.6]
    assert select_batch(smiles, priority, k=2, max_similarity=None) == [0, 1]
    assert select_batch(smiles, priority, k=2, max_similarity=0.5) == [0, 2]  # 1 is an analogue of 0
    # asking for all four: the analogue comes last, as a top-up
    assert select_batch(smiles, priority, k=4, max_similarity=0.5) == [0, 2, 3, 1]


def test_select_in_parts_takes_its_share_from_the_first_part_and_makes_up_a_short_one():
    smiles = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccncc1", "C1CCCCC1", "CN"]
    priority = [0.9, 0.8, 0.7, 0.3, 0.2, float("-inf"), 0.1]
    first = [False, False, False, True, True, True, False]
    # half of four from the first part, though the others rank higher
    assert select_in_parts(smiles, priority, first, k=4, share=0.5, max_similarity=None) == [3, 4, 0, 1]
    # no share: select_batch over every candidate
    assert select_in_parts(smiles, priority, first, k=4, share=0.0, max_similarity=0.5) == select_batch(
        smiles, priority, k=4, max_similarity=0.5
    )
    # the first part has two candidates inside the trust region: the rest come from the other part,
    # and one outside (-inf) only once every finite one is taken
    assert select_in_parts(smiles, priority, first, k=4, share=1.0, max_similarity=None) == [3, 4, 0, 1]
    assert select_in_parts(smiles, priority, first, k=7, share=0.5, max_similarity=None)[-1] == 5


def test_the_diversity_rule_of_select_in_parts_holds_across_its_parts():
    smiles = ["CCCCCCCCO", "CCCCCCCCCO", "c1ccccc1N", "C1CCNCC1"]
    priority = [0.9, 0.8, 0.7, 0.6]
    first = [True, False, False, False]
    # 1 is an analogue of 0, which the first part took: the second part passes over it
    assert select_in_parts(smiles, priority, first, k=3, share=0.34, max_similarity=0.5) == [0, 2, 3]
    assert select_batch(smiles[1:], priority[1:], k=1, max_similarity=0.5, taken=[smiles[0]]) == [1]
