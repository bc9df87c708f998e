"""Fine-tuning (transfer learning) on a small set: samples move towards it, new tokens extend the
vocabulary without changing old ones, weights steer what is learned, and `chemloop finetune`
writes a checkpoint with its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
import torch
from typer.testing import CliRunner

from chemloop.chem.mol import to_mol
from chemloop.chem.series import SeriesCore, morgan_fingerprints, nearest_neighbours, ring_systems
from chemloop.cli import app
from chemloop.model import checkpoint
from chemloop.model.generate import sample
from chemloop.model.likelihood import log_likelihood
from chemloop.train.transfer import extend_vocabulary, fit, mean_nll, unknown_tokens

SERIES = [  # ten 2-arylindoles: one scaffold, different substituents
    "c1ccc(-c2cc3ccccc3[nH]2)cc1",
    "Cc1ccc(-c2cc3ccccc3[nH]2)cc1",
    "COc1ccc(-c2cc3ccccc3[nH]2)cc1",
    "Clc1ccc(-c2cc3ccccc3[nH]2)cc1",
    "Fc1ccc(-c2cc3ccccc3[nH]2)cc1",
    "c1ccc(-c2cc3cc(C)ccc3[nH]2)cc1",
    "c1ccc(-c2cc3cc(OC)ccc3[nH]2)cc1",
    "c1ccc(-c2cc3cc(F)ccc3[nH]2)cc1",
    "Oc1ccc(-c2cc3ccccc3[nH]2)cc1",
    "Nc1ccc(-c2cc3ccccc3[nH]2)cc1",
]


@pytest.mark.slow
def test_fine_tuning_moves_samples_towards_the_set(tiny_lm):
    core = SeriesCore(SERIES)
    assert core.scaffold == "c1ccc(-c2cc3ccccc3[nH]2)cc1"
    before = sample(tiny_lm, 200, seed=0, precision="fp32")
    tuned = fit(tiny_lm, SERIES, epochs=150, lr=1e-2, batch_size=10, randomize=False, precision="fp32")
    after = sample(tuned, 200, seed=0, precision="fp32")
    assert mean_nll(tuned, SERIES, "fp32") < 0.5 * mean_nll(tiny_lm, SERIES, "fp32")
    share_before = core.fractions([m.canonical for m in before.molecules])["scaffold"]
    share_after = core.fractions([m.canonical for m in after.molecules])["scaffold"]
    assert share_before < 0.05 and share_after > 0.5, (share_before, share_after)


def test_fit_leaves_the_given_model_as_it_was(tiny_lm, tiny_run):
    fit(tiny_lm, SERIES, epochs=2, lr=3e-3, randomize=False)
    saved = checkpoint.load(tiny_run)
    assert all(
        torch.equal(a, b) for a, b in zip(tiny_lm.model.parameters(), saved.model.parameters(), strict=True)
    )


def test_fine_tuning_on_random_spellings_is_reproducible_from_its_seed(tiny_lm):
    """The spellings come from the seeded generator (RDKit's own random writer takes no seed)."""

    def tuned(seed: int) -> list[torch.Tensor]:
        lm = fit(
            tiny_lm, SERIES, epochs=2, lr=3e-3, batch_size=5, randomize=True, seed=seed, precision="fp32"
        )
        return list(lm.model.parameters())

    first, again, other = tuned(1), tuned(1), tuned(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_held_out_nll_over_random_spellings_is_fixed_from_call_to_call(tiny_lm):
    """Early stopping compares epochs on the same random spellings; a model that learned canonical
    spellings only rates random ones as less likely."""
    canonical = mean_nll(tiny_lm, SERIES, "fp32")
    random_once, random_again = (mean_nll(tiny_lm, SERIES, "fp32", spellings=4) for _ in range(2))
    assert random_once == random_again
    assert random_once > canonical


@pytest.mark.slow
def test_weights_steer_what_is_learned(tiny_lm):
    favoured, ignored = SERIES[:5], SERIES[5:]
    tuned = fit(
        tiny_lm, SERIES, epochs=30, weights=[1.0] * 5 + [0.0] * 5, lr=3e-3, batch_size=10, randomize=False
    )
    gain_favoured = mean_nll(tiny_lm, favoured, "fp32") - mean_nll(tuned, favoured, "fp32")
    gain_ignored = mean_nll(tiny_lm, ignored, "fp32") - mean_nll(tuned, ignored, "fp32")
    assert gain_favoured > gain_ignored + 1.0, (gain_favoured, gain_ignored)
    with pytest.raises(ValueError, match="weights"):
        fit(tiny_lm, SERIES, epochs=1, weights=[0.0] * 10)


def test_new_tokens_extend_the_vocabulary_and_keep_old_ids(tiny_lm):
    stereo = ["[13CH3]Oc1ccccc1", "C[SiH3]", "[13CH3]N(C)c1ccccc1"]  # isotope and silane labels
    new = unknown_tokens(tiny_lm.tokenizer, stereo)
    assert new == ["[13CH3]", "[SiH3]"]
    with pytest.warns(UserWarning, match="tokens new to the model"):
        extended = extend_vocabulary(tiny_lm, new)
    old = len(tiny_lm.tokenizer)
    assert extended.tokenizer.tokens[:old] == tiny_lm.tokenizer.tokens
    assert extended.tokenizer.tokens[old:] == new
    assert torch.equal(extended.model.token_embedding.weight[:old], tiny_lm.model.token_embedding.weight)
    known = ["CCO", "c1ccccc1N", "CC(=O)Nc1ccccc1"]
    ll_old = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, known)
    ll_new = log_likelihood(extended.model, extended.tokenizer, known)
    # Only the new rows' share of each softmax changes the old strings' likelihoods.
    assert torch.allclose(ll_old, ll_new, rtol=0.05), (ll_old, ll_new)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tuned = fit(extended, stereo, epochs=2, randomize=False)
    assert torch.isfinite(log_likelihood(tuned.model, tuned.tokenizer, stereo)).all()


def test_a_tie_between_ring_systems_is_broken_the_same_way_in_every_process():
    # Every phenylpyrazole carries one benzene and one pyrazole: a tie that string hashing, which
    # differs per process, must not decide.
    code = (
        "from chemloop.chem.series import SeriesCore; print(SeriesCore(["
        "'c1ccc(-n2cccn2)cc1', 'Cc1ccc(-n2cccn2)cc1', 'Cc1cc(C)n(-c2ccccc2)n1']).ring_system)"
    )
    chosen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in range(6)
    }
    assert chosen == {"c1ccccc1"}, chosen


def test_series_helpers_on_a_hand_made_set():
    assert ring_systems(to_mol("c1ccc2[nH]ccc2c1CC1CC1")) == ["C1CC1", "c1ccc2[nH]ccc2c1"]
    queries = morgan_fingerprints(["Cc1ccc(-c2cc3ccccc3[nH]2)cc1", "CCCCCCCC", "not a smiles"])
    index, similarity = nearest_neighbours(queries, morgan_fingerprints(SERIES))
    assert index[0] == 1 and similarity[0] == pytest.approx(1.0)
    assert 0 <= similarity[1] < 0.2 and index[2] == -1 and similarity[2] == 0


@pytest.mark.slow
def test_finetune_command_writes_a_checkpoint_and_a_report(tiny_run, tmp_path):
    data = tmp_path / "series.smi"
    data.write_text("\n".join([*SERIES, "[13CH3]Oc1ccc(-c2cc3ccccc3[nH]2)cc1"]) + "\n")
    out = tmp_path / "tuned"
    args = ["finetune", "--data", str(data), "--out", str(out), "--model", str(tiny_run)]
    result = CliRunner().invoke(app, [*args, "--epochs", "3", "--samples", "20", "--val-fraction", "0.2"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "finetune_report.json").read_text())
    assert report["molecules"] == 11 and report["heldout_molecules"] == 2 and report["train_molecules"] == 9
    assert report["added_tokens"] == ["[13CH3]"] and "[13CH3]" in result.output
    assert report["randomized_spellings"] is False  # the tiny prior learned canonical spellings only
    assert report["heldout_nll_spellings"] == "canonical"
    assert 1 <= report["epochs_run"] <= 3 and report["after"]["samples"] == 20
    assert report["heldout_nll_after"] <= report["heldout_nll_before"]
    tuned = checkpoint.load(out)
    assert "[13CH3]" in tuned.tokenizer.index and tuned.metadata["finetune"]["molecules"] == 11
    again = CliRunner().invoke(app, [*args])
    assert again.exit_code != 0 and "already holds a model" in again.output
    too_few = tmp_path / "few.smi"
    too_few.write_text("CCO\nCCN\n")
    short = CliRunner().invoke(app, ["finetune", "--data", str(too_few), "--out", str(tmp_path / "x")])
    assert short.exit_code != 0 and "at least 10" in short.output


def test_few_molecules_get_more_epochs_so_fine_tuning_takes_its_minimum_of_updates():
    from chemloop.train.transfer import epochs_for

    assert epochs_for(12, epochs=5, min_steps=50) == 50  # one batch an epoch
    assert epochs_for(100, epochs=5, min_steps=50) == 13  # four batches an epoch
    assert epochs_for(5000, epochs=5, min_steps=50) == 5  # the epochs already give more updates
    assert epochs_for(12, epochs=5, min_steps=0) == 5


def test_the_command_line_defaults_are_the_config_defaults():
    import inspect

    from chemloop.cli import finetune as finetune_command
    from chemloop.train.finetune import FinetuneConfig

    options = inspect.signature(finetune_command).parameters
    shared = [name for name in options if name in FinetuneConfig.model_fields and name not in ("data", "out")]
    assert {"lr", "patience", "epochs"} <= set(shared)
    for name in shared:
        assert options[name].default == FinetuneConfig.model_fields[name].default, name
