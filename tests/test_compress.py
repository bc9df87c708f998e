"""Compression: every method writes a checkpoint that loads by path and samples; int8 and bf16
keep the log-likelihoods of fp32; pruning reaches its sparsity (structured pruning shrinks the
matrices); bad requests are refused naming what was wrong. Tiny random models, built here."""

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from sampling_checks import assert_cached_sampling_agrees
from typer.testing import CliRunner

from chemloop.bench.compress import parse_variants
from chemloop.chem.mol import canonical
from chemloop.chem.tokenizer import SmilesTokenizer
from chemloop.cli import app
from chemloop.compression import CompressError, compress
from chemloop.compression.calibration import calibration_smiles
from chemloop.compression.prune import pruned_sparsity
from chemloop.errors import ChemloopError
from chemloop.model import GPT, GPTConfig, checkpoint, log_likelihood, sample_ids
from chemloop.model.checkpoint import CheckpointError
from chemloop.model.quantized import Int8Linear, quantize_model

MOLECULES = [
    "CCO",
    "c1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "O=C(O)c1ccccc1O",
    "CCN(CC)CC",
    "C1CCNCC1",
    "Clc1ccc(Br)cc1",
    "CC[C@H](N)C(=O)O",
    "C[N+](C)(C)C",
    "O=S(=O)(N)c1ccccc1",
    "FC(F)(F)c1ccncc1",
    "COc1ccc2[nH]ccc2c1",
    "CC1=CC(=O)C=CC1=O",
    "N#Cc1ccccc1",
]
# Likelihoods of int8 and bf16 models agree with fp32 within these fractions of each molecule's
# log-likelihood (the tiny model below; on the 4.8M-parameter ZINC prior int8 moves the mean
# held-out NLL by about 0.1%).
BF16_TOLERANCE, INT8_TOLERANCE = 0.005, 0.02


@pytest.fixture()
def tiny_checkpoint(tmp_path):
    """A random 2-layer GPT whose weights are scaled up so that its next-token distributions are
    peaked (as a trained model's are) and rounding shows in the likelihoods."""
    torch.manual_seed(0)
    tokenizer = SmilesTokenizer.from_corpus(MOLECULES)
    model = GPT(GPTConfig(vocab_size=len(tokenizer), block_size=48, n_layer=2, n_head=2, n_embd=32)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    folder = checkpoint.save(tmp_path / "tiny", model, tokenizer, {"randomized_smiles": False})
    calibration = tmp_path / "calibration.smi"
    calibration.write_text("\n".join(MOLECULES * 2) + "\n")
    return folder, calibration


def _compress(folder, calibration, out, **options):
    defaults = {"calibration": calibration, "calibration_molecules": 16, "device": "cpu"}
    return compress(folder, out=out, **{**defaults, **options})


METHODS = {
    "bf16": {"method": "bf16"},
    "int8-dynamic": {"method": "int8"},
    "int8-weight": {"method": "int8", "scheme": "weight_only"},
    "magnitude": {"method": "prune", "algorithm": "magnitude", "sparsity": 0.5},
    "sparsegpt": {"method": "prune", "sparsity": 0.5},
    "structured": {"method": "prune", "structured": "heads,mlp", "sparsity": 0.5},
    "distill": {"method": "distill", "size": "1x32", "max_steps": 2, "batch_size": 8},
}


@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_round_trips_and_samples(tiny_checkpoint, tmp_path, name):
    folder, calibration = tiny_checkpoint
    result = _compress(folder, calibration, tmp_path / name, **METHODS[name])
    lm = checkpoint.load(result.out)
    assert lm.compression[-1]["method"] == METHODS[name]["method"]
    assert lm.compression[-1]["source"] == str(folder)
    assert (result.out / "model.safetensors").stat().st_size == result.weights_bytes
    ids, nll = sample_ids(lm.model, lm.tokenizer, 8, generator=torch.Generator().manual_seed(0))
    strings = [lm.tokenizer.decode(row) for row in ids.tolist()]
    assert len(strings) == 8 and all(isinstance(s, str) for s in strings)
    assert torch.isfinite(nll).all()
    # The loaded model scores molecules like the one compress wrote (no drift through the file).
    again = checkpoint.load(result.out)
    torch.testing.assert_close(
        log_likelihood(lm.model, lm.tokenizer, MOLECULES),
        log_likelihood(again.model, again.tokenizer, MOLECULES),
    )


def test_int8_checkpoint_stores_int8_weights_and_scales(tiny_checkpoint, tmp_path):
    from safetensors.torch import load_file

    folder, calibration = tiny_checkpoint
    result = _compress(folder, calibration, tmp_path / "int8", method="int8")
    state = load_file(result.out / "model.safetensors")
    assert state["blocks.0.attn.qkv.weight_int8"].dtype == torch.int8
    assert state["blocks.0.attn.qkv.weight_scale"].dtype == torch.float32
    assert "blocks.0.attn.qkv.weight" not in state
    assert result.weights_bytes < 0.6 * (folder / "model.safetensors").stat().st_size
    lm = checkpoint.load(result.out)
    assert isinstance(lm.model.blocks[0].mlp.up, Int8Linear)


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [("bf16", BF16_TOLERANCE), ("int8-dynamic", INT8_TOLERANCE), ("int8-weight", INT8_TOLERANCE)],
)
def test_int8_and_bf16_likelihoods_match_fp32(tiny_checkpoint, tmp_path, name, tolerance):
    folder, calibration = tiny_checkpoint
    reference = checkpoint.load(folder)
    expected = log_likelihood(reference.model, reference.tokenizer, MOLECULES)
    lm = checkpoint.load(_compress(folder, calibration, tmp_path / name, **METHODS[name]).out)
    found = log_likelihood(lm.model, lm.tokenizer, MOLECULES)
    assert ((found - expected).abs() / expected.abs()).max() <= tolerance
    assert not torch.equal(found, expected)  # the weights did change


def test_int8_layers_run_under_bf16_autocast_and_refuse_training(tiny_checkpoint):
    folder, _ = tiny_checkpoint
    lm = checkpoint.load(folder)
    model = quantize_model(copy.deepcopy(lm.model))
    ids = torch.tensor([lm.tokenizer.encode("CCO")])
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.isfinite(model(ids).float()).all()
    model.train()
    with pytest.raises(ChemloopError, match="int8 model is for sampling"):
        model(ids)


@pytest.mark.parametrize("algorithm", ["magnitude", "sparsegpt"])
@pytest.mark.parametrize("sparsity", [0.3, 0.6])
def test_unstructured_pruning_reaches_the_requested_sparsity(tiny_checkpoint, tmp_path, algorithm, sparsity):
    folder, calibration = tiny_checkpoint
    out = tmp_path / f"{algorithm}-{sparsity}"
    result = _compress(folder, calibration, out, method="prune", algorithm=algorithm, sparsity=sparsity)
    lm = checkpoint.load(result.out)
    assert pruned_sparsity(lm.model) == pytest.approx(sparsity, abs=0.01)
    assert result.record["achieved_sparsity"] == pytest.approx(sparsity, abs=0.01)


def test_sparsegpt_keeps_a_layer_closer_to_its_output_than_magnitude():
    from chemloop.compression.sparsegpt import magnitude_prune, sparsegpt_prune

    torch.manual_seed(0)
    # Activations: channels of very different scales, and a shared component across channels.
    inputs = torch.randn(2000, 64) * torch.rand(64) * 3 + 0.3 * torch.randn(2000, 1)
    weight = torch.randn(32, 64)
    gram = inputs.T @ inputs / len(inputs)

    def error(pruned):
        return ((inputs @ (weight - pruned).T) ** 2).mean()

    second_order = sparsegpt_prune(weight, gram, 0.5)
    assert (second_order == 0).float().mean() == pytest.approx(0.5, abs=0.01)
    assert error(second_order) < 0.6 * error(magnitude_prune(weight, 0.5))


@pytest.mark.parametrize("sequential", [False, True])
def test_sparsegpt_prunes_each_sublayer_to_its_own_share(tiny_checkpoint, sequential):
    from chemloop.compression.calibration import batches
    from chemloop.compression.prune import prune_sparsegpt

    folder, _ = tiny_checkpoint
    lm = checkpoint.load(folder)
    shares = {"attn.qkv": 0.3, "attn.proj": 0.3, "mlp.up": 0.6, "mlp.down": 0.6}
    prune_sparsegpt(lm.model, shares, batches(lm, MOLECULES), sequential=sequential)
    for block in lm.model.blocks:
        for name, share in shares.items():
            weight = block.get_submodule(name).weight
            assert (weight == 0).float().mean().item() == pytest.approx(share, abs=0.01), name
    # d² + 3d² of attention at 0.3, 8d² of MLP at 0.6: 0.5 overall.
    assert pruned_sparsity(lm.model) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="mlp.gate"):
        prune_sparsegpt(lm.model, {"mlp.gate": 0.5}, batches(lm, MOLECULES))


def test_structured_pruning_shrinks_the_matrices(tiny_checkpoint, tmp_path):
    folder, calibration = tiny_checkpoint
    result = _compress(
        folder, calibration, tmp_path / "s", method="prune", structured="heads,mlp", sparsity=0.5
    )
    lm = checkpoint.load(result.out)
    config = lm.model.config
    assert (config.n_head, config.head_dim, config.mlp_width) == (1, 16, 64)
    block = lm.model.blocks[0]
    assert block.attn.qkv.weight.shape == (3 * 16, 32)
    assert block.attn.proj.weight.shape == (32, 16)
    assert block.mlp.up.weight.shape == (64, 32)
    assert block.mlp.down.weight.shape == (32, 64)
    assert result.parameters < checkpoint.load(folder).model.num_parameters()
    # A pruned model's cached sampling (rows dropped from the cache as they end) matches uncached.
    assert_cached_sampling_agrees(lm.model, lm.tokenizer, 16, seed=1)


def test_an_int8_model_of_a_structurally_pruned_one_loads(tiny_checkpoint, tmp_path):
    folder, calibration = tiny_checkpoint
    pruned = _compress(folder, calibration, tmp_path / "mlp", method="prune", structured="mlp", sparsity=0.5)
    result = _compress(pruned.out, calibration, tmp_path / "mlp-int8", method="int8")
    lm = checkpoint.load(result.out)
    assert [step["method"] for step in lm.compression] == ["prune", "int8"]
    assert lm.model.blocks[1].mlp.up.weight_int8.shape == (64, 32)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "zip"}, "unknown compression method 'zip'"),
        ({"method": "prune", "sparsity": 0.0}, "sparsity must lie strictly between 0 and 1, not 0.0"),
        ({"method": "prune", "sparsity": 1.0}, "sparsity must lie strictly between 0 and 1, not 1.0"),
        ({"method": "prune", "sparsity": 1.5}, "sparsity must lie strictly between 0 and 1, not 1.5"),
        ({"method": "prune", "algorithm": "random"}, "unknown pruning algorithm 'random'"),
        ({"method": "prune", "structured": "layers"}, "structured part 'layers' is unknown"),
        ({"method": "int8", "scheme": "int4"}, "unknown int8 scheme 'int4'"),
        ({"method": "distill"}, "distill needs the student's size"),
        ({"method": "distill", "size": "4xwide"}, "size '4xwide'"),
    ],
)
def test_bad_requests_are_refused_naming_the_input(tiny_checkpoint, tmp_path, options, message):
    folder, calibration = tiny_checkpoint
    with pytest.raises(CompressError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _compress(folder, calibration, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_a_missing_model_or_an_occupied_folder_is_refused(tiny_checkpoint, tmp_path):
    folder, calibration = tiny_checkpoint
    with pytest.raises(CheckpointError, match="no checkpoint folder at 'nowhere/model'"):
        compress("nowhere/model", "int8", tmp_path / "out")
    with pytest.raises(CompressError, match="is the model's own folder"):
        compress(folder, "int8", folder)
    int8 = _compress(folder, calibration, tmp_path / "int8", method="int8")
    with pytest.raises(CompressError, match="already holds a checkpoint"):
        compress(folder, "bf16", int8.out)
    with pytest.raises(CompressError, match="already int8"):
        compress(int8.out, "prune", tmp_path / "again")


def test_the_command_line_names_the_bad_option(tiny_checkpoint, tmp_path):
    folder, _ = tiny_checkpoint
    runner = CliRunner()
    bad = runner.invoke(
        app, ["compress", "--model", str(folder), "--method", "int4", "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and "unknown compression method 'int4'" in bad.output
    good = runner.invoke(
        app, ["compress", "--model", str(folder), "--method", "bf16", "--out", str(tmp_path / "b")]
    )
    assert good.exit_code == 0, good.output
    assert checkpoint.load(tmp_path / "b").compression[0]["method"] == "bf16"


def test_benchmark_variants_parse_and_bad_ones_are_named():
    variants = parse_variants("fp32,int8,sparsegpt:0.5,mlp:0.25+int8,distill:3x256")
    assert [v.label for v in variants] == ["fp32", "int8", "sparsegpt:0.5", "mlp:0.25+int8", "distill:3x256"]
    assert [s["method"] for s in variants[3].steps] == ["prune", "int8"]
    for bad, message in [
        ("sparsegpt:2", "strictly between"),
        ("turbo", "'turbo' is not one of"),
        ("int8+int8", r"\+int8 goes after"),
    ]:
        with pytest.raises(ChemloopError, match=message):
            parse_variants(bad)


@pytest.mark.slow
def test_the_benchmark_measures_every_variant_side_by_side(tiny_checkpoint, tmp_path):
    from chemloop.bench.compress import bench_compress, format_table

    folder, calibration = tiny_checkpoint
    heldout = tmp_path / "heldout.smi"
    heldout.write_text("\n".join(MOLECULES) + "\n")
    result = bench_compress(
        folder,
        variants="fp32,int8,mlp:0.5+int8",
        num=16,
        nll_molecules=8,
        speed_num=16,
        repeats=2,
        batch_size=16,
        calibration_molecules=16,
        calibration_source=str(calibration),
        heldout_source=str(heldout),
        work_dir=tmp_path / "variants",
        cache_dir=tmp_path / "cache",
    )
    rows = result["variants"]
    assert list(rows) == ["fp32", "int8", "mlp:0.5+int8"]
    assert rows["fp32"]["speedup"] == 1.0
    assert rows["mlp:0.5+int8"]["parameters"] < rows["fp32"]["parameters"]
    assert [s["method"] for s in rows["mlp:0.5+int8"]["compression"]] == ["prune", "int8"]
    assert all(len(row["valid_per_s_runs"]) == 2 and row["heldout_nll"] > 0 for row in rows.values())
    assert rows["int8"]["weights_mb"] < rows["fp32"]["weights_mb"]
    assert format_table(result).row_count == 3


@pytest.mark.slow
def test_rl_runs_start_from_each_float_variant_and_not_from_int8(tiny_checkpoint, tmp_path):
    from chemloop.bench.compress import INT8_DOES_NOT_TRAIN, bench_compress, format_table

    folder, calibration = tiny_checkpoint
    heldout = tmp_path / "heldout.smi"
    heldout.write_text("\n".join(MOLECULES) + "\n")
    options = {
        "variants": "fp32,mlp:0.5,int8",
        "num": 16,
        "nll_molecules": 8,
        "speed_num": 16,
        "repeats": 1,
        "batch_size": 16,
        "calibration_molecules": 16,
        "calibration_source": str(calibration),
        "heldout_source": str(heldout),
        "work_dir": tmp_path / "variants",
        "cache_dir": tmp_path / "cache",
        "rl_tasks": ["qed"],
        "rl_seeds": 2,
        "rl_budget": 40,
    }
    result = bench_compress(folder, **options)
    rows = result["variants"]
    for label in ("fp32", "mlp:0.5"):
        qed = rows[label]["rl"]["tasks"]["qed"]
        assert len(qed["runs"]) == 2 and all(0 <= auc <= 1 for auc in qed["runs"])
    assert rows["int8"]["rl"] == {"skipped": INT8_DOES_NOT_TRAIN}
    pruned_runs = tmp_path / "variants" / "rl" / "mlp_0.5"
    started_from = json.loads((pruned_runs / "qed-seed0" / "config.json").read_text())["run"]["model"]
    assert started_from == rows["mlp:0.5"]["folder"]
    assert format_table(result).columns[-1].header == "AUC qed"
    # Run again on the same work folder: the finished RL runs are read back, not rerun.
    rerun = bench_compress(folder, **options)
    assert rerun["variants"]["mlp:0.5"]["rl"]["tasks"] == rows["mlp:0.5"]["rl"]["tasks"]


def test_an_unknown_rl_task_is_named_before_any_work(tiny_checkpoint, tmp_path):
    from chemloop.bench.compress import bench_compress

    folder, _ = tiny_checkpoint
    with pytest.raises(ChemloopError, match="no_such_task"):
        bench_compress(folder, variants="fp32", rl_tasks=["no_such_task"], work_dir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_variants_that_begin_alike_share_their_first_steps(tiny_checkpoint, tmp_path, monkeypatch):
    import chemloop.bench.compress as bench

    folder, _ = tiny_checkpoint
    made = []  # (method, source folder, output folder) of each compression step run

    def fake_compress(source, out, **options):
        made.append((options["method"], Path(source), out))
        out.mkdir(parents=True)
        (out / checkpoint.WEIGHTS).write_bytes(b"")

    monkeypatch.setattr(bench, "compress", fake_compress)
    for variant in parse_variants("distill:3x256,distill:3x256+int8,mlp:0.5+int8,mlp:0.5"):
        bench.build(folder, variant, tmp_path, calibration=None, distill_minutes=1, progress=lambda _: None)
    # one student and one pruned model, each quantized after it from its own folder
    assert [method for method, _, _ in made] == ["distill", "int8", "prune", "int8"]
    assert made[1][1] == made[0][2] and made[3][1] == made[2][2]
    # a student of another training time is another student
    bench.build(
        folder,
        parse_variants("distill:3x256")[0],
        tmp_path,
        calibration=None,
        distill_minutes=2,
        progress=lambda _: None,
    )
    assert [method for method, _, _ in made] == ["distill", "int8", "prune", "int8", "distill"]


@pytest.mark.parametrize("random_spellings", [False, True])
def test_calibration_molecules_are_spelled_as_the_model_writes(tiny_checkpoint, random_spellings):
    folder, calibration = tiny_checkpoint
    lm = checkpoint.load(folder)
    lm = dataclasses.replace(lm, metadata={**lm.metadata, "randomized_smiles": random_spellings})
    chosen = calibration_smiles(folder, lm, str(calibration), size=16, seed=0)
    as_canonical = [canonical(s) for s in chosen]
    assert set(as_canonical) == {canonical(s) for s in MOLECULES}  # the same molecules either way
    assert (chosen != as_canonical) is random_spellings
