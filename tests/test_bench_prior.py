"""The prior benchmark: its split is pretrain's, its metrics mean what they say, and the command
writes every target's verdict (or says clearly which options a model without a split needs)."""

import dataclasses
import json
import shutil

import pytest
from typer.testing import CliRunner

from chemloop.bench import prior_metrics
from chemloop.bench.moses_metrics import reference_stats
from chemloop.bench.prior_metrics import (
    TARGETS,
    chemistry,
    floor_fcd,
    has_charge,
    has_stereo,
    hashed_spelling,
    load_split,
    sample_metrics,
    spelling_gap,
    split_options,
)
from chemloop.chem.mol import canonical
from chemloop.cli import app
from chemloop.data.corpus import load_corpus
from chemloop.errors import ChemloopError

runner = CliRunner()


@pytest.fixture(scope="module")
def reference(moses_sample):
    return reference_stats(moses_sample[:200], n_jobs=1)


def test_the_split_is_the_one_pretrain_held_out(tiny_run, smi_file):
    options = split_options(tiny_run)
    assert options.data == str(smi_file)
    assert options.from_config == ("data", "holdout_fraction", "seed")
    assert options.heldout_file == tiny_run / "heldout.smi"
    split = load_split(options)  # checks the held-out molecules against heldout.smi
    recorded = set((tiny_run / "heldout.smi").read_text().split())
    assert set(split.heldout) == recorded
    assert not set(split.train) & recorded
    standardized = load_corpus(smi_file, standardize=True).smiles
    assert sorted(split.train + split.heldout) == sorted(standardized)


def test_a_corpus_that_differs_from_the_trained_one_is_an_error(tiny_run, tmp_path):
    wrong = tmp_path / "heldout.smi"
    wrong.write_text("CCO\n")
    options = dataclasses.replace(split_options(tiny_run), heldout_file=wrong)
    with pytest.raises(ChemloopError, match="differs from the one the model was trained on"):
        load_split(options)


def test_options_given_override_the_config_and_skip_the_heldout_check(tiny_run, smi_file):
    options = split_options(tiny_run, data=str(smi_file), holdout_fraction=0.2, seed=3)
    assert (options.holdout_fraction, options.seed, options.from_config) == (0.2, 3, ())
    assert options.heldout_file is None
    explicit = split_options("prior", data=str(smi_file), holdout_fraction=0.1)
    assert (explicit.seed, explicit.standardize) == (0, True)


def test_a_corpus_the_config_names_but_cannot_be_found_needs_data(tiny_run, smi_file, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(tiny_run, moved)
    config = json.loads((moved / "pretrain_config.json").read_text())
    (moved / "pretrain_config.json").write_text(json.dumps({**config, "data": "elsewhere/train.smi"}))
    with pytest.raises(ChemloopError, match="give its path with --data"):
        split_options(moved)
    options = split_options(moved, data=str(smi_file))
    assert options.from_config == ("holdout_fraction", "seed") and options.heldout_file is None


def test_a_model_without_a_recorded_split_needs_data_and_fraction():
    with pytest.raises(ChemloopError, match="--data FILE and --holdout-fraction"):
        split_options("moses")
    with pytest.raises(ChemloopError, match="between 0 and 1"):
        split_options("moses", data="x.smi", holdout_fraction=1.5)


def test_stereo_charge_and_weight_of_hand_written_molecules():
    assert has_stereo(_mol("C[C@H](N)O")) and has_stereo(_mol("C/C=C/C"))
    assert not has_stereo(_mol("C[C@H](C)C"))  # not a stereocentre: RDKit drops the mark
    assert not has_stereo(_mol("CC=CC"))
    assert has_charge(_mol("CC[NH3+]")) and has_charge(_mol("C[N+](C)(C)CC(=O)[O-]"))
    assert not has_charge(_mol("CCO"))

    found = chemistry(["C[C@H](N)O", "C/C=C/C", "CC[NH3+]", "CCO", "not a molecule", ""])
    assert found.molecules == 4
    assert found.stereo_fraction == 0.5
    assert found.charged_fraction == 0.25
    # linear interpolation between methane (16.043) and decane (142.286)
    assert chemistry(["C", "CCCCCCCCCC"]).mw_p90 == pytest.approx(16.043 + 0.9 * (142.286 - 16.043), abs=0.01)


@pytest.mark.slow
def test_training_molecules_are_valid_unique_and_not_novel(moses_sample, reference):
    train = frozenset(moses_sample)
    found = sample_metrics([*moses_sample[:48], "C1CC", "xyz"], train, reference)
    assert found.num == 50
    assert found.validity == pytest.approx(48 / 50)
    assert found.uniqueness == 1.0
    assert found.novelty == 0.0
    assert found.chemistry.molecules == 48
    assert found.fcd > 0


@pytest.mark.slow
def test_floor_of_a_set_against_itself_is_zero_and_far_sets_are_far(moses_sample, reference):
    itself = floor_fcd(moses_sample[:200], reference, size=200, seed=0)
    assert itself.molecules == 200
    assert itself.fcd == pytest.approx(0.0, abs=1e-3)
    alkanes = ["C" * n for n in range(2, 30)] + ["CC(C)" * n for n in range(1, 10)]
    assert floor_fcd(alkanes, reference, size=1000).fcd > 10


def test_spelling_gap_of_a_model_trained_on_canonical_spellings(tiny_lm, moses_sample):
    molecules = moses_sample[:40] + ["C" * 80]  # longer than the tiny model's context
    gap = spelling_gap(tiny_lm, molecules, seed=0)
    assert (gap.molecules, gap.left_out) == (40, 1)
    assert gap.mean_nll_random > gap.mean_nll_canonical
    assert gap.gap == pytest.approx((gap.mean_nll_random - gap.mean_nll_canonical) / gap.mean_nll_canonical)
    reversed_order = spelling_gap(tiny_lm, molecules[::-1], seed=0)  # the same spellings in any order
    assert reversed_order.mean_nll_random == pytest.approx(gap.mean_nll_random, rel=1e-5)


def test_random_spellings_are_fixed_by_the_seed_and_keep_stereo_and_charges():
    smiles = "C[C@H](N)/C=C/C[NH3+]"
    spellings = {hashed_spelling(smiles, seed) for seed in range(8)}
    assert len(spellings) > 1
    assert hashed_spelling(smiles, 3) == hashed_spelling(smiles, 3)
    assert {canonical(s) for s in spellings} == {canonical(smiles)}


@pytest.mark.slow
def test_cli_writes_every_target_with_its_verdict(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(prior_metrics, "DEFAULT_CACHE_DIR", tmp_path / "cache")
    output = tmp_path / "prior.json"
    args = ["--model", str(tiny_run), "--num", "40", "--compare", str(tiny_run), "--n-jobs", "1"]
    result = runner.invoke(app, ["bench", "prior", *args, "--output", str(output)])
    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text())
    assert report["machine"] and report["model"] == str(tiny_run)
    assert report["split"]["from_pretrain_config"] == ["data", "holdout_fraction", "seed"]
    assert report["split"]["checked_against_heldout_smi"]
    assert set(report["targets"]) == set(TARGETS)
    for name, verdict in report["targets"].items():
        assert verdict["value"] == report["metrics"][name]
        assert isinstance(verdict["passed"], bool)
        assert verdict["direction"] in (">=", "<=")
    assert report["passed"] == all(v["passed"] for v in report["targets"].values())
    assert report["floor"]["molecules"] == 40 and report["floor"]["fcd"] >= 0
    assert set(report["reference"]["heldout"]) == {
        "molecules",
        "stereo_fraction",
        "charged_fraction",
        "mw_p90",
    }
    assert [c["model"] for c in report["compare"]] == [str(tiny_run)]
    assert report["compare"][0]["metrics"] == report["metrics"]  # same model, same seeds
    assert "fcd" in result.output


def test_cli_asks_for_the_split_of_a_model_that_records_none(tiny_run, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_run, bare, ignore=shutil.ignore_patterns("pretrain_config.json"))
    result = runner.invoke(app, ["bench", "prior", "--model", str(bare), "--num", "10"])
    assert result.exit_code == 2
    assert "--data" in result.output and "--holdout-fraction" in result.output


def _mol(smiles):
    from rdkit import Chem

    return Chem.MolFromSmiles(smiles)
