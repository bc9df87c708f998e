"""DPO alignment: preferred molecules gain likelihood over the others, pair files are checked row by
row, the run folder is an ordinary checkpoint, `chemloop align` runs from a file, a campaign or a
constitution, and `chemloop bench align` returns every field."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import chemloop
from chemloop.chem.mol import to_mol, try_mol
from chemloop.cli import app
from chemloop.constitution.judges import RuleJudge
from chemloop.constitution.principles import load_constitution
from chemloop.errors import ChemloopError
from chemloop.loop.campaign import init_campaign, record_preference
from chemloop.loop.config import CampaignConfig
from chemloop.loop.judging import judge_campaign
from chemloop.loop.results import read_results
from chemloop.loop.store import connect
from chemloop.model import checkpoint
from chemloop.model.likelihood import log_likelihood
from chemloop.reward.model import RewardConfig
from chemloop.rl.dpo import DPOSettings, dpo_loss, train_dpo
from chemloop.rl.pairs import (
    NOT_A_MOLECULE,
    JudgedPairs,
    PairFileError,
    invalid_string_pairs,
    judged_sample_pairs,
    read_pair_file,
)

HALOGENS = ("F", "Cl", "Br", "I")


def _halogen_pairs(molecules: list[str], n: int) -> list[tuple[str, str]]:
    """Pairs that prefer a molecule without a halogen to one with: a feature a tiny model can learn."""
    halogenated = [s for s in molecules if any(a.GetSymbol() in HALOGENS for a in to_mol(s).GetAtoms())]
    plain = [s for s in molecules if s not in set(halogenated)]
    return list(zip(plain, halogenated, strict=False))[:n]


def _margins(lm, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """log π(preferred) − log π(other) of each pair."""
    preferred = log_likelihood(lm.model, lm.tokenizer, [w for w, _ in pairs])
    other = log_likelihood(lm.model, lm.tokenizer, [o for _, o in pairs])
    return preferred - other


def test_dpo_loss_is_log_two_at_the_reference_and_falls_with_the_margin():
    zero = torch.zeros(3)
    assert dpo_loss(zero, zero, zero, zero, beta=0.1).item() == pytest.approx(0.6931, abs=1e-4)
    up = torch.full((3,), 5.0)
    assert dpo_loss(up, zero, zero, zero, beta=0.1) < dpo_loss(zero, up, zero, zero, beta=0.1)
    weights = torch.tensor([1.0, 0.0, 0.0])  # only the first pair counts
    mixed = dpo_loss(torch.tensor([5.0, -5.0, -5.0]), zero, zero, zero, beta=1.0, weights=weights)
    assert mixed.item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(-5.0)).item(), abs=1e-5)


def test_dpo_raises_the_preferred_molecules_likelihood_over_the_others(tiny_lm, moses_sample):
    pairs = _halogen_pairs(moses_sample, 60)
    assert len(pairs) >= 40
    settings = DPOSettings(beta=0.1, lr=3e-3, epochs=8, patience=8, batch_size=16, val_fraction=0.25)
    before = _margins(tiny_lm, pairs)
    result = train_dpo(tiny_lm, pairs, settings)
    after = _margins(result.model, pairs)
    # The preferred molecules gain likelihood relative to the others, on most pairs and on average.
    assert (after - before).mean() > 2.0, (before.mean(), after.mean())
    assert ((after - before) > 0).float().mean() > 0.8
    # Held-out pairs (never trained on) are ranked better too: the feature generalizes.
    assert result.after["loss"] < result.before["loss"] - 0.05, (result.before, result.after)
    assert result.after["reward_accuracy"] >= 0.7
    assert result.heldout_pairs == round(0.25 * len(pairs)) and result.best_epoch >= 1
    # The reference is left as it was.
    assert torch.allclose(_margins(tiny_lm, pairs), before)


def test_the_nll_term_keeps_the_preferred_molecules_likely(tiny_lm, moses_sample):
    """Plain DPO lowers both molecules of a pair (only the difference counts); DPO+NLL keeps the
    preferred one at least as likely as the reference had it, with the pairs still learned."""
    pairs = _halogen_pairs(moses_sample, 60)
    preferred = [w for w, _ in pairs]
    settings = {"beta": 0.1, "lr": 3e-3, "epochs": 8, "patience": 8, "batch_size": 16, "val_fraction": 0.25}
    reference = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, preferred).mean()
    plain = train_dpo(tiny_lm, pairs, DPOSettings(**settings, nll_weight=0.0))
    anchored = train_dpo(tiny_lm, pairs, DPOSettings(**settings, nll_weight=1.0))
    plain_ll = log_likelihood(plain.model.model, tiny_lm.tokenizer, preferred).mean()
    anchored_ll = log_likelihood(anchored.model.model, tiny_lm.tokenizer, preferred).mean()
    assert anchored_ll > plain_ll and anchored_ll > reference - 1.0, (reference, plain_ll, anchored_ll)
    assert (_margins(anchored.model, pairs) - _margins(tiny_lm, pairs)).mean() > 1.0
    assert "preferred_nll" in anchored.after and anchored.after["loss"] > 0


def test_bad_pair_files_are_named_errors(tmp_path):
    def write(text: str):
        path = tmp_path / "pairs.csv"
        path.write_text(text)
        return path

    with pytest.raises(PairFileError, match="lacks the column other"):
        read_pair_file(write("preferred,worse\nCCO,CCN\nCCC,CCCl\n"))
    with pytest.raises(PairFileError, match=r"row 3: other 'C1CC' is not a valid SMILES"):
        read_pair_file(write("preferred,other\nCCO,CCN\nCCC,C1CC\n"))
    with pytest.raises(PairFileError, match="row 2: preferred and other are the same molecule"):
        read_pair_file(write("preferred,other\nOCC,CCO\nCCC,CCN\n"))
    with pytest.raises(PairFileError, match="holds 1 pair.*at least 2"):
        read_pair_file(write("Preferred, Other\nCCO,CCN\n\n"))
    with pytest.raises(PairFileError, match="pair file not found"):
        read_pair_file(tmp_path / "missing.csv")
    pairs = read_pair_file(write("other,preferred,note\nCCN,OCC,x\nCCCl,CCC,y\n"))
    assert pairs == [("CCO", "CCN"), ("CCC", "CCCl")]  # canonical, preferred first


@pytest.mark.slow
def test_align_command_writes_a_checkpoint_and_a_report(tiny_run, moses_sample, tmp_path):
    pairs = _halogen_pairs(moses_sample, 30)
    path = tmp_path / "pairs.csv"
    path.write_text("preferred,other\n" + "".join(f"{w},{o}\n" for w, o in pairs))
    out = tmp_path / "aligned"
    args = ["align", "--model", str(tiny_run), "--pairs", str(path), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--epochs", "2", "--lr", "1e-3", "--samples", "30"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "align_report.json").read_text())
    assert report["pairs_used"] == 30 and report["source"]["kind"] == "file"
    assert report["train_pairs"] + report["heldout_pairs"] == 30 and report["samples"] == 30
    for key in ("validity_before", "validity_after", "kl_to_prior", "heldout_before", "heldout_after"):
        assert report[key] is not None, key
    assert report["heldout_before"]["dpo_loss"] == pytest.approx(0.6931, abs=1e-3)
    assert 1 <= report["epochs_run"] <= 2 and "held-out accuracy" in result.output
    aligned = checkpoint.load(out)
    assert aligned.metadata["aligned"]["pairs_used"] == 30
    tuned_ll = log_likelihood(aligned.model, aligned.tokenizer, ["CCO"])
    assert torch.isfinite(tuned_ll).all()
    assert json.loads((out / "align_config.json").read_text())["pairs"] == str(path)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already holds a model" in again.output
    both = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "x"), "--campaign", "demo"])
    assert both.exit_code == 2 and "exactly one source of pairs" in both.output


@pytest.mark.slow
def test_align_from_a_constitution_and_from_a_campaign(tiny_run, tmp_path):
    report = chemloop.align(
        model=str(tiny_run),
        constitution="default",
        num_pairs=8,
        out=tmp_path / "judged",
        epochs=1,
        samples=0,
    )
    source = report["source"]
    assert source["kind"] == "constitution" and source["judge"] == "rules"
    assert source["decided"] == report["pairs_used"] + report["unwritable_pairs"] <= 8
    assert source["decided"] + source["ties"] == source["judged"]
    assert "kl_to_prior" not in report  # no samples asked for

    # On-policy: two rounds of 4 pairs judged on the model as it then is, strings that are no
    # molecule among them (from 1,500 strings a round); the report sums the rounds and keeps each.
    report = chemloop.align(
        model=str(tiny_run),
        constitution="default",
        num_pairs=8,
        rounds=2,
        invalid_pairs=True,
        invalid_samples=1500,
        invalid_share=0.5,
        out=tmp_path / "online",
        epochs=1,
        samples=0,
    )
    source = report["source"]
    assert [r["decided"] - r["invalid"] <= 4 for r in source["rounds"]] == [True, True]
    assert source["decided"] == sum(r["decided"] for r in source["rounds"])
    assert [r["samples"] for r in source["rounds"]] == [1500, 1500]
    assert (tmp_path / "online" / "model.safetensors").exists()
    with pytest.raises(ChemloopError, match="give a constitution"):
        chemloop.align(model=str(tiny_run), pairs="p.csv", rounds=2, out=tmp_path / "bad")
    with pytest.raises(ChemloopError, match="set invalid_pairs too"):
        chemloop.align(model=str(tiny_run), constitution="default", invalid_samples=40, out=tmp_path / "bad")
    with pytest.raises(ChemloopError, match="set invalid_pairs too"):
        chemloop.align(model=str(tiny_run), constitution="default", invalid_share=0.5, out=tmp_path / "bad")

    db = f"sqlite:///{tmp_path / 'c.db'}"
    factory = connect(db)
    seed = tmp_path / "seed.csv"
    seed.write_text("smiles,value\nCOC(=O)c1ccccc1,1.0\nOC(=O)c1ccccc1,2.0\nCCOc1ccccc1,1.5\nCCNC(C)=O,2.5\n")
    init_campaign(factory, "demo", CampaignConfig(), read_results(seed), fit_reward=False)
    record_preference(factory, "demo", "OC(=O)c1ccccc1", "CCNC(C)=O", "a")
    judge_campaign(factory, "demo", RuleJudge(load_constitution()), "medchem", pairs=6, fresh=0, seed=1)
    with pytest.raises(ChemloopError, match="no campaign named 'nope'"):
        chemloop.align(model=str(tiny_run), campaign="nope", db=db, out=tmp_path / "x")
    report = chemloop.align(
        model=str(tiny_run), campaign="demo", db=db, out=tmp_path / "c", epochs=1, samples=0
    )
    source = report["source"]
    assert source["chemist_pairs"] == 1 and source["ai_judged_pairs"] >= 1
    assert source["ai_pair_weight"] == 0.5 and report["pairs_used"] == source["pairs"]


@pytest.mark.slow
def test_bench_align_returns_every_field_with_tiny_settings(tiny_run, tmp_path):
    from chemloop.bench.align import ARMS, bench_align

    lines: list[str] = []
    result = bench_align(
        str(tiny_run),
        pairs=12,
        samples=60,
        rl_steps=2,
        dpo=DPOSettings(epochs=1),
        dpo_rounds=2,  # on-policy: 6 pairs a round
        reward=RewardConfig(kind="preferences", ensemble=2, hidden=16, epochs=3),
        cache_dir=tmp_path,
        progress=lines.append,
    )
    assert any(line.startswith("FCD against ") for line in lines)  # the tiny run's own held-out split
    assert [line.split(",")[0] for line in lines if line.startswith("dpo: round")] == [
        "dpo: round 1",
        "dpo: round 2",
    ]
    assert [r["pairs"]["decided"] <= 6 for r in result["arms"]["dpo"]["dpo"]] == [True, True]
    computable = {p.id for p in load_constitution().principles if p.computable}
    assert result["pairs"]["decided"] >= 2 and result["samples"] == 60
    for name in ARMS:
        arm = result["arms"][name]
        assert 0 <= arm["validity"] <= 1 and 0 <= arm["violating"] <= 1 and 0 <= arm["uniqueness"] <= 1
        assert set(arm["per_principle"]) == computable
        assert arm["violating"] >= max(arm["per_principle"].values())  # any ≥ each one
        assert arm["kl_to_prior"] is not None and arm["train_seconds"] >= 0
        assert (arm["fcd_to_heldout"] is None) == (round(arm["validity"] * 60) < 2)  # FCD needs 2 molecules
    assert result["arms"]["prior"]["kl_to_prior"] == 0.0
    assert set(result["targets"]) == {"dpo", "rm_rl"} and "violation_reduction" in result["arms"]["dpo"]
    assert result["arms"]["rm_rl"]["reward_model"]["last_step_score"] is not None


def test_bench_align_says_why_it_measures_no_fcd(tmp_path):
    from chemloop.bench.align import heldout_stats

    folder = tmp_path / "model"
    folder.mkdir()  # a checkpoint folder without pretrain_config.json: no held-out split recorded
    said: list[str] = []
    assert heldout_stats(folder, "cpu", tmp_path, said.append) is None
    assert len(said) == 1 and said[0].startswith("FCD not measured:")
    assert "records no held-out split" in said[0]


def test_bench_align_measures_fcd_of_the_valid_samples(tiny_run, moses_sample, tmp_path, monkeypatch):
    import chemloop.bench.align as bench
    from chemloop.bench.prior_metrics import fcd_to
    from chemloop.model.generate import Sampled, SampleReport

    drawn = [Sampled(s, True, s, 20.0) for s in moses_sample[:30]] + [Sampled("C1CC", False, "", 9.0)]
    monkeypatch.setattr(bench, "sample", lambda *args, **kwargs: SampleReport(drawn, 0.1, 0.1))
    lm = checkpoint.load(str(tiny_run))
    heldout = bench.heldout_stats(tiny_run, "cpu", tmp_path, lambda _: None)
    arm = bench.measure(lm, lm, load_constitution(), 31, 0, 0.0, heldout)
    assert arm["fcd_to_heldout"] == round(fcd_to(moses_sample[:30], heldout), 3) > 0
    assert bench.measure(lm, lm, load_constitution(), 31, 0, 0.0, None)["fcd_to_heldout"] is None


def test_online_dpo_judges_each_round_on_the_model_as_it_then_is(tiny_run, monkeypatch):
    import chemloop.rl.online_dpo as online

    lm = checkpoint.load(str(tiny_run))
    start = {k: v.clone() for k, v in lm.model.state_dict().items()}
    sampled_from = []

    def judged_pairs(model, *args, **kwargs):
        sampled_from.append(model)
        return judged_sample_pairs(model, *args, **kwargs)

    monkeypatch.setattr(online, "judged_sample_pairs", judged_pairs)
    rounds = online.online_dpo(lm, RuleJudge(load_constitution()), 12, 2, DPOSettings(epochs=1))
    assert len(rounds) == 2 and all(len(r.judged.pairs) <= 6 for r in rounds)
    assert sampled_from == [lm, rounds[0].result.model]  # round 2 judged the round-1 model's samples
    assert rounds[1].result.model is not rounds[0].result.model
    assert all(torch.equal(v, start[k]) for k, v in lm.model.state_dict().items())  # left as it was
    with pytest.raises(ChemloopError, match="3 pairs over 2 rounds leave 1 a round"):
        online.online_dpo(lm, RuleJudge(load_constitution()), 3, 2)


def test_sampled_strings_that_are_no_molecule_lose_their_pairs_without_the_judge(tiny_run):

    lm = checkpoint.load(str(tiny_run))
    asked = []

    class Recording(RuleJudge):
        def judge(self, pairs):
            asked.extend(pairs)
            return super().judge(pairs)

    judged = judged_sample_pairs(lm, Recording(load_constitution()), 40, seed=0, with_invalid=True)
    against_strings = [(w, o) for w, o in judged.pairs if try_mol(o) is None]
    assert against_strings and judged.by_principle[NOT_A_MOLECULE] == len(against_strings) == judged.invalid
    assert len(judged.pairs) - judged.invalid <= 40  # the judge's budget is the molecules' pairs
    assert all(try_mol(w) is not None for w, _ in judged.pairs)  # a string never wins
    assert all(try_mol(a) and try_mol(b) for a, b in asked)  # the judge sees molecules
    # DPO trains on them: a string that is no molecule keeps its spelling among random ones.
    result = train_dpo(lm, judged.pairs, DPOSettings(epochs=1, randomize=True))
    assert result.train_pairs + result.heldout_pairs + result.unwritable == len(judged.pairs)


def test_more_samples_bring_more_invalid_strings_and_the_same_judged_pairs(tiny_run):
    lm = checkpoint.load(str(tiny_run))
    judge = RuleJudge(load_constitution())
    few = judged_sample_pairs(lm, judge, 20, seed=0, with_invalid=True)
    many = judged_sample_pairs(lm, judge, 20, seed=0, with_invalid=True, invalid_samples=few.samples + 400)
    assert many.samples == few.samples + 400 and many.invalid > few.invalid
    assert many.pairs[: len(many.pairs) - many.invalid] == few.pairs[: len(few.pairs) - few.invalid]
    losers = [other for _, other in many.pairs[len(many.pairs) - many.invalid :]]
    assert len(losers) == len(set(losers)) and all(try_mol(s) is None for s in losers)


def test_invalid_string_pairs_give_each_string_a_different_winner_of_the_same_draw(tiny_run):
    lm = checkpoint.load(str(tiny_run))
    judged = invalid_string_pairs(lm, 600, seed=0)
    winners = [w for w, _ in judged.pairs]
    losers = [other for _, other in judged.pairs]
    assert judged.invalid == len(judged.pairs) > 0 and judged.judged == 0 and judged.ties == 0
    assert len(set(winners)) == len(winners) and len(set(losers)) == len(losers)
    assert all(try_mol(w) is not None for w in winners) and all(try_mol(s) is None for s in losers)
    assert judged.by_principle == {NOT_A_MOLECULE: len(judged.pairs)} and judged.samples == 600


def test_validity_alignment_needs_no_judge_and_names_its_source(tiny_run, tmp_path):
    report = chemloop.align(
        model=str(tiny_run),
        validity=True,
        invalid_samples=600,
        rounds=2,
        out=tmp_path / "v",
        epochs=1,
        samples=0,
    )
    source = report["source"]
    assert source["kind"] == "validity" and len(source["rounds"]) == 2
    assert source["decided"] == source["invalid"] > 0 and source["judged"] == 0
    assert (tmp_path / "v" / "model.safetensors").exists()
    # The corpus and held-out split travel with the model, for `chemloop bench prior`.
    assert (tmp_path / "v" / "pretrain_config.json").read_text() == (
        tiny_run / "pretrain_config.json"
    ).read_text()
    with pytest.raises(ChemloopError, match="validity needs invalid_samples"):
        chemloop.align(model=str(tiny_run), validity=True, out=tmp_path / "bad")
    with pytest.raises(ChemloopError, match="exactly one source"):
        chemloop.align(model=str(tiny_run), validity=True, constitution="default", out=tmp_path / "bad")


def test_invalid_share_weighs_the_invalid_strings_pairs_together():
    pairs = [("CCO", "CCN")] * 2 + [("CCO", "C1CC")] * 6
    judged = JudgedPairs(pairs, judged=3, samples=50, pool=10, invalid=6)
    weights = judged.weights(0.25)
    assert weights is not None and weights[:2] == [1.0, 1.0]
    assert sum(weights[2:]) / sum(weights) == pytest.approx(0.25)
    assert judged.weights(None) is None  # unset: every pair weighs 1
    only_judged = JudgedPairs([("CCO", "CCN")] * 2, judged=2, samples=50, pool=10)
    assert only_judged.weights(0.5) is None
