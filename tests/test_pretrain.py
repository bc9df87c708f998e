import csv
import json
import subprocess
import sys

import pytest
import torch

from chemloop.data.corpus import CorpusError, load_corpus
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.train.pretrain import PretrainConfig, learning_rate, pretrain


def read_metrics(run):
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_training_loss_and_validation_nll_go_down(tiny_run):
    rows = read_metrics(tiny_run)
    evaluated = [float(r["val_nll"]) for r in rows if r["val_nll"]]
    assert len(evaluated) == 3  # steps 20, 40, 60
    assert evaluated[0] > evaluated[1] > evaluated[2]
    assert evaluated[-1] < 0.9 * evaluated[0]
    state = json.loads((tiny_run / "trainer_state.json").read_text())
    assert state["step"] == 60 and state["tokens"] > 0


@pytest.mark.slow
def test_resume_continues_from_the_saved_step(tmp_path, smi_file, tiny_model):
    config = PretrainConfig(
        data=str(smi_file),
        out=tmp_path / "run",
        max_steps=10,
        batch_size=32,
        eval_interval=5,
        val_size=20,
        **tiny_model,
    )
    pretrain(config)
    with pytest.raises(ChemloopError, match="already holds a run"):
        pretrain(config)
    # A stopped run may have logged steps after its last saved state; a resume runs them again.
    with (tmp_path / "run" / "metrics.csv").open("a") as handle:
        handle.write("11,0,1,1.0,,0.001,1,1.0\n")
    pretrain(config.model_copy(update={"max_steps": 20, "resume": True}))
    rows = read_metrics(tmp_path / "run")
    assert [int(r["step"]) for r in rows if r["val_nll"]] == [5, 10, 15, 20]
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(set(steps))  # each step logged once
    tokens = [int(r["tokens"]) for r in rows]
    assert tokens == sorted(tokens)  # the token count carried on


def test_a_resumed_run_reads_its_saved_split_until_the_file_changes(tmp_path, moses_sample, monkeypatch):
    from chemloop.train import corpus_split

    data = tmp_path / "train.smi"
    data.write_text("\n".join(moses_sample[:200]) + "\n")
    config = PretrainConfig(
        data=str(data),
        out=tmp_path / "run",
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=64,
        max_steps=2,
        batch_size=16,
        eval_interval=2,
        val_size=10,
    )
    pretrain(config)
    run = tmp_path / "run"
    train, heldout = (run / "train.smi").read_text().split(), (run / "heldout.smi").read_text().split()
    assert sorted(train + heldout) == sorted(set(load_corpus(data, standardize=True).smiles))
    reads = []
    monkeypatch.setattr(corpus_split, "load_corpus", lambda *a, **k: reads.append(a) or load_corpus(*a, **k))
    resumed = config.model_copy(update={"resume": True})
    pretrain(resumed.model_copy(update={"max_steps": 3}))
    assert reads == []  # the saved split, not the corpus, was read
    assert checkpoint.load(run).metadata["train_molecules"] == len(train)
    data.write_text("\n".join(moses_sample[:150]) + "\n")  # the file changed: split it again
    pretrain(resumed.model_copy(update={"max_steps": 4}))
    assert len(reads) == 1 and len((run / "train.smi").read_text().split()) < len(train)


def test_resume_without_a_run_is_an_error(tmp_path, smi_file, tiny_model):
    config = PretrainConfig(data=str(smi_file), out=tmp_path / "none", resume=True, **tiny_model)
    with pytest.raises(ChemloopError, match="no run to resume"):
        pretrain(config)


def test_time_budget_anneals_the_learning_rate():
    config = PretrainConfig(max_steps=10_000, warmup_steps=10, lr=1e-3, min_lr=1e-4, max_minutes=1)
    assert learning_rate(5, config) == pytest.approx(6e-4)
    assert learning_rate(100, config, elapsed_s=30) == pytest.approx(5.5e-4, rel=0.05)
    assert learning_rate(100, config, elapsed_s=60) == pytest.approx(1e-4)


def test_unknown_config_key_is_rejected():
    with pytest.raises(ValueError, match="n_layers"):
        PretrainConfig(n_layers=3)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path, smi_file):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "chemloop.cli",
        "pretrain",
        "--data",
        str(smi_file),
        "--out",
        str(out),
        "--max-steps",
        "12",
        "--batch-size",
        "16",
        "--eval-interval",
        "6",
        "--val-size",
        "20",
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--n-embd",
        "16",
        "--device",
        "cpu",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = json.loads((out / "config.json").read_text())["metadata"]
    assert metadata["world_size"] == 2
    evaluated = [float(r["val_nll"]) for r in read_metrics(out) if r["val_nll"]]
    assert len(evaluated) == 2 and evaluated[1] < evaluated[0]


# --- bad input files ---------------------------------------------------------------------


def test_invalid_rows_are_named(tmp_path):
    path = tmp_path / "bad.smi"
    path.write_text("CCO\nC1CC\nc1ccccc1\nnot_a_smiles\n")
    with pytest.raises(CorpusError, match=r"2 of 4 rows.*line 2: 'C1CC'.*line 4: 'not_a_smiles'"):
        load_corpus(path)
    corpus = load_corpus(path, skip_invalid=True)
    assert corpus.smiles == ["CCO", "c1ccccc1"] and len(corpus.skipped) == 2


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "empty.smi").write_text("\n\n")
    with pytest.raises(CorpusError, match="holds no SMILES"):
        load_corpus(tmp_path / "empty.smi")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(tmp_path / "empty.csv")


def test_wrong_column_is_an_error_listing_the_columns(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,structure\n1,CCO\n")
    with pytest.raises(CorpusError, match="no 'smiles' column; its columns are: id, structure"):
        load_corpus(path)
    with pytest.raises(CorpusError, match="no column 'smi'"):
        load_corpus(path, column="smi")
    assert load_corpus(path, column="structure").smiles == ["CCO"]


def test_csv_with_smiles_column_and_bad_row(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("SMILES,value\nCCO,1\nC(,2\n")
    with pytest.raises(CorpusError, match=r"line 3: 'C\('"):
        load_corpus(path)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope.smi")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(CorpusError, match="unknown corpus format '.xlsx'"):
        load_corpus(tmp_path / "data.xlsx")


def test_init_from_starts_from_the_model_its_shape_and_an_extended_vocabulary(
    tmp_path, tiny_run, moses_sample
):
    data = tmp_path / "more.smi"
    data.write_text("\n".join([*moses_sample[:200], "CC[17OH]", "c1ccccc1C[17OH]"]) + "\n")
    config = PretrainConfig(
        data=str(data),
        out=tmp_path / "more",
        init_from=str(tiny_run),
        max_steps=1,
        lr=1e-12,
        min_lr=0,
        warmup_steps=0,
        weight_decay=0,
        batch_size=8,
        val_size=10,
        n_layer=4,
        n_embd=128,  # flags ignored
    )
    with pytest.warns(UserWarning, match=r"\[17OH\]"):
        pretrain(config)
    base, continued = checkpoint.load(tiny_run), checkpoint.load(tmp_path / "more")
    assert continued.tokenizer.tokens == [*base.tokenizer.tokens, "[17OH]"]  # old ids kept
    assert continued.model.config.n_layer == base.model.config.n_layer
    assert continued.metadata["init_from"] == str(tiny_run)
    saved = json.loads((tmp_path / "more" / "pretrain_config.json").read_text())
    assert (saved["n_layer"], saved["n_embd"]) == (base.model.config.n_layer, base.model.config.n_embd)
    old, new = base.model.state_dict(), continued.model.state_dict()
    rows = len(base.tokenizer)
    for name, value in old.items():  # one step at lr 1e-12: the weights are the base's
        grown = name in ("token_embedding.weight", "head.weight")  # a row more for [17OH]
        torch.testing.assert_close(new[name][:rows] if grown else new[name], value)
    pretrain(config.model_copy(update={"init_from": None, "resume": True, "max_steps": 2}))
    assert checkpoint.load(tmp_path / "more").metadata["init_from"] == str(tiny_run)  # kept on resume


def test_init_from_an_int8_model_is_refused_by_name(tmp_path, tiny_run, smi_file):
    from chemloop.compression.run import compress

    int8 = compress(tiny_run, "int8", tmp_path / "int8", calibration=smi_file, calibration_molecules=16).out
    config = PretrainConfig(data=str(smi_file), out=tmp_path / "run", init_from=str(int8))
    with pytest.raises(ChemloopError, match="int8 model cannot be trained"):
        pretrain(config)


@pytest.mark.slow
def test_long_and_short_molecules_are_learned_as_often_as_the_corpus_has_them(tmp_path):
    """Batches group molecules of similar length; a loss averaged within each batch would weigh
    a 4-atom chain's tokens 4x a 20-atom chain's and teach the model to stop early (the corpus
    reweighted by 1/length: here ~20% long samples instead of half)."""
    import random

    from rdkit import Chem

    from chemloop.model.generate import sample

    rng = random.Random(0)
    chains = {size: set() for size in (4, 20)}
    for size, found in chains.items():
        while len(found) < 30:  # distinct molecules: the corpus drops duplicates
            found.add(Chem.CanonSmiles("C" + "".join(rng.choice("CNOS") for _ in range(size - 1))))
    data = tmp_path / "chains.smi"
    data.write_text("\n".join(sorted(chains[4] | chains[20])) + "\n")
    config = PretrainConfig(
        data=str(data),
        out=tmp_path / "run",
        max_steps=300,
        batch_size=8,  # every batch one length: the corpus fits one length-sorted bucket
        lr=3e-3,
        warmup_steps=5,
        eval_interval=300,
        val_size=4,
        randomize=False,
        n_layer=2,
        n_head=2,
        n_embd=32,
        block_size=32,
    )
    lm = checkpoint.load(pretrain(config))
    drawn = sample(lm, 400, seed=0, precision="fp32").molecules
    long = sum(sum(m.smiles.count(atom) for atom in "CNOS") > 10 for m in drawn)
    assert 0.35 < long / len(drawn) < 0.65


def test_init_from_on_the_same_corpus_split_another_way_is_refused(tmp_path, tiny_run, smi_file):
    config = PretrainConfig(data=str(smi_file), out=tmp_path / "run", init_from=str(tiny_run), seed=1)
    with pytest.raises(ChemloopError, match="seed 0; continue with the same"):
        pretrain(config)
    assert not (tmp_path / "run" / "trainer_state.json").exists()
