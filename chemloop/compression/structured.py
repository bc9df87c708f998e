"""Structured pruning: whole attention heads and MLP units go, and the matrices shrink.

Every block keeps the same number of heads and of MLP units (one cache shape and one config
for the model). In each block, in forward order on calibration activations:

- a head's importance is the energy of its contribution to the residual stream,
  ``E‖W_h y_h‖² = tr(W_h G_hh W_hᵀ)``, with ``G`` the Gram matrix of the attention output
  ``y`` and ``W_h`` the head's columns of the output projection; an MLP unit's is
  ``G_jj ‖W_down[:, j]‖²`` on the post-GELU activations;
- the least important go (their rows of ``qkv`` / ``up`` and columns of ``proj`` / ``down``);
- the output projection of what is left is refitted by least squares to reproduce the dense
  block's output on the calibration set: ``W' = W G[:, k] (G[k, k] + λI)⁻¹`` — the
  reconstruction step of layer-wise pruning (SparseGPT's objective with whole columns removed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import nn

from chemloop.compression.calibration import Batch, embed, input_grams, run_block
from chemloop.compression.options import CompressError
from chemloop.model.gpt import GPT


def kept_count(total: int, sparsity: float) -> int:
    """Units kept when ``sparsity`` of ``total`` go: at least one."""
    return max(1, round(total * (1 - sparsity)))


def _refit(weight: torch.Tensor, gram: torch.Tensor, keep: torch.Tensor, damp: float = 0.01) -> torch.Tensor:
    """Columns ``keep`` of a new ``weight`` that best reproduce ``weight @ x`` (least squares)."""
    g = gram.double()
    kk = g[keep][:, keep]
    kk = kk + damp * torch.diag(kk).mean().clamp(min=1e-12) * torch.eye(len(keep), dtype=g.dtype)
    # W' = W G[:, k] (G[k, k])⁻¹, solved rather than inverted
    rhs = (weight.double() @ g[:, keep]).T
    return torch.linalg.solve(kk, rhs).T.to(weight.dtype)


def _linear(weight: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    layer.weight.data = weight.contiguous()
    return layer


def _head_energy(proj: torch.Tensor, gram: torch.Tensor, head: slice) -> torch.Tensor:
    """``tr(W_h G_hh W_hᵀ)``: the mean squared norm of a head's share of the block's output."""
    w = proj[:, head]
    return ((w @ gram[head, head]) * w).sum()


@torch.no_grad()
def _prune_heads(model: GPT, layer: int, keep_heads: int, gram: torch.Tensor) -> list[int]:
    attn = model.blocks[layer].attn
    hd, heads = attn.head_dim, attn.n_head
    w = attn.proj.weight
    importance = torch.stack([_head_energy(w, gram, slice(h * hd, (h + 1) * hd)) for h in range(heads)])
    kept = sorted(importance.argsort(descending=True)[:keep_heads].tolist())
    columns = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in kept])
    inner = heads * hd
    rows = torch.cat([columns + part * inner for part in range(3)])  # q, k and v of each kept head
    attn.qkv = _linear(attn.qkv.weight[rows])
    attn.proj = _linear(_refit(w, gram, columns))
    attn.n_head = keep_heads
    return kept


@torch.no_grad()
def _prune_mlp(model: GPT, layer: int, keep_units: int, gram: torch.Tensor) -> None:
    mlp = model.blocks[layer].mlp
    w = mlp.down.weight
    importance = torch.diag(gram) * (w**2).sum(dim=0)
    kept = importance.argsort(descending=True)[:keep_units].sort().values
    mlp.up = _linear(mlp.up.weight[kept])
    mlp.down = _linear(_refit(w, gram, kept))


@torch.no_grad()
def prune_structured(
    model: GPT,
    parts: Sequence[str],
    sparsity: float,
    data: Sequence[Batch],
    progress: Callable[[str], None] | None = None,
) -> tuple[GPT, dict]:
    """A new, smaller GPT with ``sparsity`` of the heads and/or MLP units of every block removed."""
    say = progress or (lambda _: None)
    config = model.config
    heads = kept_count(config.n_head, sparsity) if "heads" in parts else config.n_head
    units = kept_count(config.mlp_hidden, sparsity) if "mlp" in parts else config.mlp_hidden
    if heads == config.n_head and units == config.mlp_hidden:
        raise CompressError(
            f"sparsity {sparsity} removes no {' or '.join(parts)}: the model has {config.n_head} heads "
            f"and {config.mlp_hidden} MLP units per block"
        )
    before = model.num_parameters()
    hidden = embed(model, data)
    kept_heads = []
    for layer in range(config.n_layer):
        if heads < config.n_head:
            gram = input_grams(model, layer, ["attn.proj"], data, hidden)["attn.proj"]
            kept_heads.append(_prune_heads(model, layer, heads, gram))
        if units < config.mlp_hidden:
            gram = input_grams(model, layer, ["mlp.down"], data, hidden)["mlp.down"]
            _prune_mlp(model, layer, units, gram)
        say(f"block {layer + 1}/{config.n_layer}: {heads} heads, {units} MLP units kept")
        hidden = run_block(model, layer, hidden)
    smaller = GPT(replace(config, n_head=heads, head_dim=config.attn_head_dim, mlp_width=units))
    smaller.load_state_dict(model.state_dict())
    report = {
        "heads_per_block": heads,
        "mlp_units_per_block": units,
        "kept_heads": kept_heads,
        "parameters_before": before,
        "parameters_after": smaller.num_parameters(),
    }
    return smaller.eval(), report
