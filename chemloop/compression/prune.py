"""Unstructured one-shot pruning of every block's linear layers to a target sparsity.

Layers are pruned block by block, as SparseGPT does: each block's layers see the calibration
molecules' activations as the already pruned blocks before it produce them, so later layers
correct for earlier ones. Magnitude pruning needs no calibration. The embedding and the tied
output head are left dense; the sparsity reported is over the pruned layers.

Unstructured zeros keep the matrices' shapes, so a CPU multiplies them as fast as dense ones:
this shrinks a compressed file, not the time to sample. Structured pruning
(:mod:`chemloop.compression.structured`) is the variant that is faster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from chemloop.compression.calibration import SUBLAYERS, Batch, block_linears, embed, input_grams, run_block
from chemloop.compression.sparsegpt import magnitude_prune, sparsegpt_prune, sparsity_of
from chemloop.model.gpt import GPT


@torch.no_grad()
def prune_magnitude(model: GPT, sparsity: float) -> dict:
    for _, _, linear in block_linears(model):
        linear.weight.copy_(magnitude_prune(linear.weight, sparsity))
    return {"achieved_sparsity": round(pruned_sparsity(model), 4)}


@torch.no_grad()
def prune_sparsegpt(
    model: GPT,
    sparsity: float | Mapping[str, float],
    data: Sequence[Batch],
    progress: Callable[[str], None] | None = None,
    sequential: bool = False,
) -> dict:
    """SparseGPT on every block's linear layers, calibrated on ``data`` (layer-wise, in order).

    Each block's four sublayers are pruned on the inputs the unpruned block gives them, or, with
    ``sequential``, one after the other, each on the inputs of the block as pruned so far (the
    reference implementation's "true sequential" order). ``sparsity`` is one share for all, or a
    share per sublayer name (``"attn.qkv"``, ``"attn.proj"``, ``"mlp.up"``, ``"mlp.down"``; 0 where
    a name is missing)."""
    say = progress or (lambda _: None)
    hidden = embed(model, data)
    share = dict(sparsity) if isinstance(sparsity, Mapping) else dict.fromkeys(SUBLAYERS, sparsity)
    unknown = set(share) - set(SUBLAYERS)
    if unknown:
        raise ValueError(f"no sublayer named {sorted(unknown)}: one of {SUBLAYERS}")
    names = tuple(name for name in SUBLAYERS if share.get(name, 0.0) > 0)
    groups = [(name,) for name in names] if sequential else [names] if names else []
    tokens = int(sum(int(b.mask.sum()) for b in data))
    for layer in range(model.config.n_layer):
        for group in groups:
            grams = input_grams(model, layer, group, data, hidden)
            for name in group:
                linear = model.blocks[layer].get_submodule(name)
                linear.weight.copy_(sparsegpt_prune(linear.weight, grams[name], share[name]))
        say(f"block {layer + 1}/{model.config.n_layer} pruned ({tokens} calibration tokens)")
        hidden = run_block(model, layer, hidden)
    return {"achieved_sparsity": round(pruned_sparsity(model), 4), "calibration_tokens": tokens}


def pruned_sparsity(model: GPT) -> float:
    """The share of zeros over the weights that pruning touches (every block's linear layers)."""
    return sparsity_of([linear.weight for _, _, linear in block_linears(model)])
