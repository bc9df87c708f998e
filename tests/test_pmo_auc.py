import pytest

from chemloop.bench.pmo_auc import top_k_auc


def test_auc_on_a_hand_computed_log():
    # checkpoint at 2 calls: top-2 mean 0.3 → area 2·(0.3+0)/2 = 0.3
    # end at 4 calls: top-2 mean 0.7 → area += 2·(0.7+0.3)/2 = 1.0; 1.3 / 4 = 0.325
    assert top_k_auc([0.1, 0.5, 0.3, 0.9], budget=4, k=2, freq=2) == pytest.approx(0.325)


def test_a_run_stopping_early_keeps_its_last_value_to_the_budget():
    # 0.3 (first 2 calls) + 1·(0.4+0.3)/2 + 3·0.4 (calls 4–6) = 1.85; / 6
    assert top_k_auc([0.1, 0.5, 0.3], budget=6, k=2, freq=2, finished=True) == pytest.approx(1.85 / 6)
    # without the rule, the missing calls count as nothing
    assert top_k_auc([0.1, 0.5, 0.3], budget=6, k=2, freq=2) == pytest.approx(0.65 / 6)


def test_a_constant_perfect_run_scores_one_and_calls_past_the_budget_are_ignored():
    assert top_k_auc([1.0] * 1000, budget=1000) == pytest.approx(1 - 100 * 0.5 / 1000)
    assert top_k_auc([0.5] * 50 + [1.0] * 50, budget=50, k=1, freq=10) == top_k_auc([0.5] * 50, 50, 1, 10)
