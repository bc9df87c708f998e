"""AI feedback in a campaign: judged pairs are stored as preferences sourced to the judge, ties are
not, withheld molecules never reach a judge, and a chemist can overrule a judged pair."""

import pytest
from sqlalchemy import select

from chemloop.constitution.judges import Judgement, RuleJudge
from chemloop.constitution.principles import load_constitution
from chemloop.errors import ChemloopError
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.judging import draw_pairs, judge_campaign, judged_preferences, overrule
from chemloop.loop.results import read_results
from chemloop.loop.review import compared_pairs
from chemloop.loop.store import Preference, connect, session_scope

SEED = ["CC(C)(C)OC(=O)N1CCC(c2ccccc2)CC1", "C1CC(c2ccccc2)CCN1", "COC(=O)c1ccccc1", "OC(=O)c1ccccc1"]


@pytest.fixture
def campaign(tmp_path):
    factory = connect(f"sqlite:///{tmp_path / 'c.db'}")
    config = CampaignConfig.model_validate({"reward": {"ensemble": 2, "epochs": 2, "cv_folds": 0}})
    seed = tmp_path / "seed.csv"
    seed.write_text(
        "smiles,value\n" + "".join(f"{s},{v}\n" for s, v in zip(SEED, [1.0, 2.0, 1.5, 2.5], strict=True))
    )
    init_campaign(factory, "demo", config, read_results(seed))
    return factory


def test_rule_judge_pairs_are_stored_with_their_source(campaign):
    judge = RuleJudge(load_constitution())
    summary = judge_campaign(campaign, "demo", judge, "medchem", pairs=6, fresh=0, seed=1)
    assert summary["pairs"] == 6 and summary["stored"] + summary["ties"] == 6
    judged = judged_preferences(campaign, "demo")
    assert len(judged) == summary["stored"] > 0
    for row in judged:
        assert row["judge"] == "rules" and row["constitution"] == "medchem" and row["principle"]
        loser = row["smiles_b"] if row["preferred"] == "a" else row["smiles_a"]
        assert loser in (SEED[0], SEED[2])  # the Boc carbamate or the methyl ester loses
    # every pair of 4 molecules is now compared or a tie; a second call finds what is left, if anything
    assert len(compared_pairs(campaign, "demo")) == summary["stored"]


def test_ties_are_not_stored_and_no_new_pair_is_an_error(campaign):
    class Undecided:
        name = "undecided"

        def judge(self, pairs):
            return [Judgement(None, None, "cannot tell") for _ in pairs]

    summary = judge_campaign(campaign, "demo", Undecided(), "medchem", pairs=6, fresh=0)
    assert summary["stored"] == 0 and summary["ties"] == 6
    rules = RuleJudge(load_constitution())
    judge_campaign(campaign, "demo", rules, "medchem", pairs=6, fresh=0, seed=2)
    done = compared_pairs(campaign, "demo")
    if len(done) == 6:  # all 6 pairs of 4 molecules stored: nothing left to judge
        with pytest.raises(ChemloopError, match="no new pair"):
            judge_campaign(campaign, "demo", rules, "medchem", pairs=1, fresh=0)
    with pytest.raises(ChemloopError, match="pairs must be between"):
        judge_campaign(campaign, "demo", rules, "medchem", pairs=0, fresh=0)


def test_a_chemist_overrules_a_judged_pair(campaign):
    judge_campaign(campaign, "demo", RuleJudge(load_constitution()), "medchem", pairs=6, fresh=0, seed=1)
    first = judged_preferences(campaign, "demo")[0]
    result = overrule(campaign, "demo", first["id"])
    assert result["overruled"] == "rules" and result["preferred"] != first["preferred"]
    assert first["id"] not in {row["id"] for row in judged_preferences(campaign, "demo")}
    with session_scope(campaign) as session:
        assert (
            session.scalar(select(Preference.preferred).where(Preference.id == first["id"]))
            == result["preferred"]
        )
    with pytest.raises(ChemloopError, match="no judged preference"):
        overrule(campaign, "demo", first["id"])  # now the chemist's, not a judge's


def test_draw_pairs_is_seeded_and_skips_done_pairs():
    pool = ["C", "CC", "CCC", "CCCC"]
    done = {frozenset(("C", "CC"))}
    pairs = draw_pairs(pool, 10, done, seed=3)
    assert len(pairs) == 5 and frozenset(("C", "CC")) not in {frozenset(p) for p in pairs}
    assert pairs == draw_pairs(pool, 10, done, seed=3)
    assert draw_pairs(["C"], 3, set(), 0) == []


def test_campaign_judge_command_line(campaign, tmp_path):
    import sys

    from typer.testing import CliRunner

    from chemloop.cli import app

    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    runner = CliRunner()
    result = runner.invoke(app, ["campaign", "judge", "demo", "--pairs", "2", "--fresh", "0", *db])
    assert result.exit_code == 0, result.output
    assert "rules judged 2 pairs under medchem.toml" in result.output
    fake = f"{sys.executable} {__import__('pathlib').Path(__file__).parent / 'data' / 'fake_judge.py'}"
    result = runner.invoke(
        app,
        [
            "campaign",
            "judge",
            "demo",
            "--pairs",
            "2",
            "--fresh",
            "0",
            "--judge-command",
            fake,
            "--seed",
            "5",
            *db,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "command:" in result.output
    missing = runner.invoke(
        app, ["campaign", "judge", "demo", "--constitution", str(tmp_path / "none.toml"), "--fresh", "0", *db]
    )
    assert missing.exit_code != 0 and "constitution file not found" in missing.output
    unknown = runner.invoke(app, ["campaign", "judge", "nope", "--fresh", "0", *db])
    assert unknown.exit_code != 0 and "nope" in unknown.output


def test_the_reward_model_weighs_ai_pairs_below_a_chemists(campaign):
    from chemloop.loop.campaign import record_preference
    from chemloop.loop.reward_store import _feedback
    from chemloop.loop.store import get_campaign

    judge_campaign(campaign, "demo", RuleJudge(load_constitution()), "medchem", pairs=2, fresh=0, seed=1)
    record_preference(campaign, "demo", "CCO", "CCN", "a")
    with session_scope(campaign) as session:
        campaign_id = get_campaign(session, "demo").id
        _, pairs = _feedback(session, campaign_id, seed=0, ai_pair_weight=0.25)
        _, unweighted = _feedback(session, campaign_id, seed=0, ai_pair_weight=1.0)
    judged = len(judged_preferences(campaign, "demo"))
    assert sorted(pairs.weights) == [0.25] * judged + [1.0]
    assert unweighted.weights is None


def test_pair_weights_change_the_fit():
    from chemloop.reward.data import PreferenceData
    from chemloop.reward.model import RewardConfig, RewardModel

    a, b = ["CCO", "CCCO", "c1ccccc1", "CCN"], ["CCCCCCCC", "CCCCCC", "CCCCC", "CCCCCCC"]
    config = RewardConfig(kind="preferences", ensemble=2, hidden=8, epochs=20)
    plain = RewardModel.fit(PreferenceData(a, b, ["a"] * 4), config)
    weighted = RewardModel.fit(PreferenceData(a, b, ["a"] * 4, weights=[1.0, 1.0, 0.0, 0.0]), config)
    assert plain.predict(["c1ccccc1"])[0] != weighted.predict(["c1ccccc1"])[0]
