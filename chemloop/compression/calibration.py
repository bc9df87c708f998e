"""Calibration molecules and the activations they produce, block by block.

Pruning with second-order information needs, for each linear layer, the Gram matrix
``H = XᵀX / n`` of the inputs ``X`` the layer sees on real molecules. The molecules come from
the model's own training split (never its held-out split, which the benchmark measures on):
a seeded sample of the corpus its ``pretrain_config.json`` names, standardized as pretraining
standardizes, with held-out molecules dropped by the same hash, spelled as the model writes.
Another corpus can be given.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from chemloop.chem.mol import randomize
from chemloop.chem.tokenizer import TokenizerError
from chemloop.compression.options import CompressError
from chemloop.data.corpus import is_held_out, load_corpus
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.gpt import GPT
from chemloop.model.likelihood import pad_batch

PRETRAIN_CONFIG = "pretrain_config.json"


def training_corpus(model: str | Path) -> tuple[str, float, int]:
    """The corpus a checkpoint was pretrained on and its held-out fraction and seed."""
    folder = checkpoint.resolve(model)
    path = folder / PRETRAIN_CONFIG
    if not path.is_file():
        raise CompressError(
            f"{model} records no training corpus ({PRETRAIN_CONFIG}): give calibration molecules "
            "with --calibration FILE"
        )
    config = json.loads(path.read_text())
    data = str(config.get("data", ""))
    if not (data == "moses" or data.startswith("moses:") or Path(data).is_file()):
        beside = folder / data
        if not beside.is_file():
            raise CompressError(
                f"{path} names the corpus {data!r}, not found from here nor beside the model; "
                "give calibration molecules with --calibration FILE"
            )
        data = str(beside)
    return data, float(config.get("holdout_fraction", 0.0)), int(config.get("seed", 0))


def calibration_smiles(
    model: str | Path, lm: LanguageModel, file: str | None = None, size: int = 2048, seed: int = 0
) -> list[str]:
    """``size`` molecules the model can read, from ``file``, else its training split, spelled as the
    model writes: one seeded random spelling each for a model trained on random spellings. With the
    default prior, SparseGPT at 50% lost 0.0103 validity calibrated on random spellings against
    0.0123 on canonical ones (``bench/sparsegpt_calibration.py``, docs/compression.md)."""
    fraction, split_seed = 0.0, 0
    if file is None:
        file, fraction, split_seed = training_corpus(model)
    # Read a few more rows than needed: held-out, invalid and too long ones are dropped.
    extra = 1.0 + 2 * fraction
    corpus = load_corpus(
        file, skip_invalid=True, standardize=True, rows_sample=int(size * extra) + 64, sample_seed=seed
    )
    chosen = [s for s in corpus.smiles if not (fraction and is_held_out(s, fraction, split_seed))]
    chosen = [s for s in chosen if _readable(lm, s)][:size]
    if lm.writes_random_spellings:  # only the molecules kept are respelled
        rng = random.Random(seed)
        chosen = [_random_if_readable(lm, s, rng) for s in chosen]
    if len(chosen) < 16:
        raise CompressError(f"{file}: only {len(chosen)} molecules the model can read; calibration needs 16")
    return chosen


def _random_if_readable(lm: LanguageModel, smiles: str, rng: random.Random) -> str:
    """A random spelling, or ``smiles`` itself where that spelling holds a token the model lacks."""
    spelled = randomize(smiles, rng)
    return spelled if _readable(lm, spelled) else smiles


def _readable(lm: LanguageModel, smiles: str) -> bool:
    try:
        return len(lm.tokenizer.encode(smiles)) <= lm.model.config.block_size
    except TokenizerError:
        return False


@dataclass
class Batch:
    """Token ids (``<bos> … <eos>``, right-padded) and where the real tokens are."""

    ids: torch.Tensor
    mask: torch.Tensor


def batches(lm: LanguageModel, smiles: Sequence[str], batch_size: int = 256) -> list[Batch]:
    encoded = [lm.tokenizer.encode(s) for s in smiles]
    out = []
    for start in range(0, len(encoded), batch_size):
        ids = pad_batch(encoded[start : start + batch_size], lm.tokenizer.pad_id)
        out.append(Batch(ids, ids != lm.tokenizer.pad_id))
    return out


@torch.no_grad()
def embed(model: GPT, data: Sequence[Batch]) -> list[torch.Tensor]:
    """The residual stream entering block 0 for each batch."""
    out = []
    for batch in data:
        positions = torch.arange(batch.ids.shape[1])
        out.append(model.token_embedding(batch.ids) + model.position_embedding(positions))
    return out


@torch.no_grad()
def run_block(model: GPT, layer: int, hidden: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Each batch's residual stream after block ``layer`` (no cache: plain causal attention)."""
    return [model.blocks[layer](x, None, layer) for x in hidden]


class Gram:
    """Running ``XᵀX / n`` of a layer's inputs over the real (unpadded) token positions."""

    def __init__(self, features: int) -> None:
        self.matrix = torch.zeros(features, features, dtype=torch.float64)
        self.count = 0

    def add(self, x: torch.Tensor) -> None:
        # One batch's product in float32 (fast), the running sum over batches in float64.
        x = x.reshape(-1, x.shape[-1]).float()
        self.matrix += (x.T @ x).double()
        self.count += x.shape[0]

    def mean(self) -> torch.Tensor:
        return (self.matrix / max(1, self.count)).float()


@contextmanager
def _recording(layers: dict[str, nn.Linear], grams: dict[str, Gram], mask_of: Callable[[], torch.Tensor]):
    def hook(name: str):
        def record(_module, inputs, _output) -> None:
            grams[name].add(inputs[0][mask_of()])

        return record

    handles = [layer.register_forward_hook(hook(name)) for name, layer in layers.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def input_grams(
    model: GPT, layer: int, names: Sequence[str], data: Sequence[Batch], hidden: Sequence[torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``XᵀX / n`` of the inputs of block ``layer``'s sublayers ``names`` (e.g. ``"mlp.down"``)."""
    block = model.blocks[layer]
    layers = {name: block.get_submodule(name) for name in names}
    grams = {name: Gram(layers[name].in_features) for name in names}
    current: list[torch.Tensor] = []
    with _recording(layers, grams, lambda: current[-1]):
        for batch, x in zip(data, hidden, strict=True):
            current.append(batch.mask)
            block(x, None, layer)
    return {name: gram.mean() for name, gram in grams.items()}


# The linear layers of a block that pruning touches, in forward order.
SUBLAYERS = ("attn.qkv", "attn.proj", "mlp.up", "mlp.down")


def block_linears(model: GPT) -> Iterator[tuple[int, str, nn.Linear]]:
    """Every (block index, sublayer name, layer) that pruning touches, in forward order."""
    for layer, block in enumerate(model.blocks):
        for name in SUBLAYERS:
            yield layer, name, block.get_submodule(name)
