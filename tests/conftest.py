"""Shared fixtures: a few hundred MOSES molecules and a tiny model trained on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from chemloop.data.corpus import load_moses
from chemloop.model import checkpoint
from chemloop.train.pretrain import PretrainConfig, pretrain

torch.set_num_threads(2)

TINY_MODEL = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64}


@pytest.fixture(scope="session")
def tiny_model() -> dict:
    """Architecture options of the tiny test model."""
    return dict(TINY_MODEL)


@pytest.fixture(scope="session")
def moses_sample() -> list[str]:
    """400 molecules from the MOSES training set (every 4000th)."""
    return load_moses("train")[::4000][:400]


@pytest.fixture(scope="session")
def smi_file(tmp_path_factory, moses_sample) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.smi"
    path.write_text("\n".join(moses_sample) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, smi_file) -> Path:
    """A run folder holding a tiny GPT trained for 60 steps on ``smi_file``."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = PretrainConfig(
        data=str(smi_file),
        out=out,
        max_steps=60,
        batch_size=32,
        lr=3e-3,
        warmup_steps=5,
        eval_interval=20,
        val_size=40,
        randomize=False,  # canonical spellings: the tiny model learns them in 60 steps
        **TINY_MODEL,
    )
    return pretrain(config)


@pytest.fixture()
def tiny_lm(tiny_run):
    return checkpoint.load(tiny_run)


ZINC_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "zinc250k.smi.gz"


@pytest.fixture(scope="session")
def zinc_file() -> Path:
    """The ZINC-250k corpus beside the repository (``../shared/data``), or a skip saying why."""
    if not ZINC_FILE.is_file():
        pytest.skip(f"ZINC-250k not found at {ZINC_FILE} (see the data README there)")
    return ZINC_FILE
