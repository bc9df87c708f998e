"""The number format a fixed model samples in: bf16 by default on a chip with bf16 units, else int8
on a CPU with a quantized engine, made as a copy (the float model is untouched), kept while the
weights stay the same and remade after they change."""

import pytest
import torch

from chemloop.bench.sampling import sampling_throughput
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint, device
from chemloop.model.device import resolve_precision
from chemloop.model.generate import sample
from chemloop.model.inference import int8_copy, resolve_sampling_precision, sampling_model
from chemloop.model.likelihood import log_likelihood
from chemloop.model.quantized import Int8Linear, dynamic_engine_available

CPU = torch.device("cpu")
MOLECULES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccccc1", "CCN(CC)CC", "O=C(O)c1ccccc1"]


def _int8_layers(model: torch.nn.Module) -> int:
    return sum(isinstance(m, Int8Linear) for m in model.modules())


@pytest.mark.skipif(not dynamic_engine_available(), reason="this PyTorch build has no quantized engine")
def test_auto_samples_in_int8_on_a_cpu_without_bf16_units(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bf16_units", lambda: False)
    assert resolve_sampling_precision("auto", CPU) == "int8"
    assert resolve_sampling_precision("float", CPU) == "fp32"


def test_auto_samples_in_bf16_where_the_chip_has_bf16_units(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bf16_units", lambda: True)
    assert resolve_sampling_precision("auto", CPU) == "bf16"
    assert resolve_sampling_precision("auto", torch.device("cuda")) == "bf16"


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_an_explicit_precision_is_kept(precision):
    assert resolve_sampling_precision(precision, CPU) == precision


def test_float_is_what_the_weights_run_in_without_int8():
    assert resolve_sampling_precision("float", CPU) == resolve_precision("auto", CPU)


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ChemloopError, match="unknown sampling precision 'int4'"):
        resolve_sampling_precision("int4", CPU)


def test_the_int8_copy_leaves_the_float_model_alone_and_is_reused(tiny_lm):
    copy = int8_copy(tiny_lm)
    assert _int8_layers(copy.model) > 0
    assert _int8_layers(tiny_lm.model) == 0
    assert int8_copy(tiny_lm) is copy
    assert int8_copy(copy) is copy  # a model that is int8 already is its own int8 copy


def test_the_int8_copy_is_remade_after_the_weights_change(tiny_lm):
    before = int8_copy(tiny_lm)
    with torch.no_grad():
        tiny_lm.model.blocks[0].mlp.up.weight.mul_(2.0)
    after = int8_copy(tiny_lm)
    assert after is not before
    # Doubling a row doubles its scale (the int8 values stay): the copy follows the new weights.
    torch.testing.assert_close(
        after.model.blocks[0].mlp.up.weight_scale, 2 * before.model.blocks[0].mlp.up.weight_scale
    )


def test_int8_likelihoods_follow_fp32_within_two_percent(tiny_lm):
    fp32 = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, MOLECULES)
    with sampling_model(tiny_lm, "int8") as runner:
        int8 = log_likelihood(runner.model, runner.tokenizer, MOLECULES)
    assert torch.allclose(int8, fp32, rtol=0.02)


def test_the_default_prior_samples_valid_molecules_in_int8_with_a_seed():
    prior = checkpoint.load("prior")
    first = sample(prior, 128, seed=3, precision="int8")
    again = sample(prior, 128, seed=3, precision="int8")
    assert [m.smiles for m in first.molecules] == [m.smiles for m in again.molecules]
    assert first.validity >= 0.85  # 0.922 over 10,000 samples (fp32: 0.923)


def test_a_loaded_checkpoint_samples_in_the_format_asked(tiny_run):
    lm = checkpoint.load(tiny_run)
    with sampling_model(lm, "fp32") as runner:
        assert runner is lm
    with sampling_model(lm, "int8") as runner:
        assert _int8_layers(runner.model) > 0


def test_bench_sampling_times_formats_side_by_side(tiny_lm):
    result = sampling_throughput(tiny_lm, num=16, batch_size=8, repeats=2, precision="fp32,int8")
    assert list(result["precisions"]) == ["fp32", "int8"]
    assert result["precision"] == "fp32"
    assert all(len(row["runs"]) == 2 for row in result["precisions"].values())


def test_bench_sampling_refuses_one_format_named_twice(tiny_lm):
    with pytest.raises(ChemloopError, match="name one format twice"):
        sampling_throughput(tiny_lm, num=8, repeats=1, precision="int8,int8")
