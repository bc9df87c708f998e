"""The shipped prior: present, loadable, and generating valid molecules."""

import pytest
import torch

from chemloop.model import checkpoint
from chemloop.model.generate import sample


@pytest.mark.slow
def test_shipped_prior_samples_mostly_valid_molecules():
    # Regression guard for the shipped artifact. The CPU-trained prior measures 0.93 validity
    # on 30,000 samples (MODEL_CARD.md); the 0.95 aimed for (and 0.99 on the benchmark)
    # awaits a GPU-trained prior, at which point this bound goes up to 0.95.
    lm = checkpoint.load("prior")
    report = sample(lm, 500, seed=0)
    assert report.validity >= 0.90
    assert report.uniqueness >= 0.95


def test_shipped_prior_is_small_and_float_only():
    folder = checkpoint.resolve("prior")
    assert (folder / "model.safetensors").stat().st_size < 25 * 2**20
    lm = checkpoint.load("prior")
    assert all(p.dtype == torch.float32 for p in lm.model.parameters())
    assert (folder / "MODEL_CARD.md").exists()
