"""One-shot unstructured pruning of one linear layer: by magnitude, or by SparseGPT.

SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned
in One-Shot", ICML 2023) treats each layer alone: find a sparse ``Ŵ`` minimising
``‖W X − Ŵ X‖²`` over calibration inputs ``X``. Removing weight ``q`` of a row and updating the
remaining ones optimally is the Optimal Brain Surgeon step with the Hessian ``H = 2XXᵀ``;
SparseGPT sweeps the columns left to right, so that the inverse Hessians of the shrinking
column sets all come from one Cholesky factor of ``H⁻¹``, and picks the mask block by block
(``w² / [H⁻¹]²_qq``, smallest first) just before those columns are fixed. This is our own
implementation of the paper's Algorithm 1 (mask blocks of 128 columns, 1% dampening).
"""

from __future__ import annotations

import torch


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """``True`` where a weight is kept: all but the ``sparsity`` share smallest in magnitude."""
    drop = int(weight.numel() * sparsity)
    if drop == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    order = weight.abs().flatten().argsort()
    keep = torch.ones(weight.numel(), dtype=torch.bool)
    keep[order[:drop]] = False
    return keep.view_as(weight)


def magnitude_prune(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    return weight * magnitude_mask(weight, sparsity)


def _inverse_hessian_factor(gram: torch.Tensor, damp: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The upper Cholesky factor of ``(H + λI)⁻¹`` and which input columns never fired."""
    h = gram.double().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0  # an input that is always 0: its weights are free to go
    h += damp * torch.diag(h).mean() * torch.eye(len(h), dtype=h.dtype)
    for attempt in range(5):  # near-singular H: dampen more until the factorisation succeeds
        factor, info = torch.linalg.cholesky_ex(h)
        if info == 0:
            break
        h += (10**attempt) * damp * torch.diag(h).mean() * torch.eye(len(h), dtype=h.dtype)
    inverse = torch.cholesky_inverse(factor)
    return torch.linalg.cholesky(inverse, upper=True), dead


@torch.no_grad()
def sparsegpt_prune(
    weight: torch.Tensor, gram: torch.Tensor, sparsity: float, block: int = 128, damp: float = 0.01
) -> torch.Tensor:
    """``weight`` (``out × in``) pruned to ``sparsity`` with the remaining weights updated to keep
    the layer's output on inputs whose Gram matrix is ``gram`` (``in × in``)."""
    w = weight.detach().double().clone()
    hinv, dead = _inverse_hessian_factor(gram, damp)
    w[:, dead] = 0.0
    columns = w.shape[1]
    for start in range(0, columns, block):
        end = min(start + block, columns)
        w_block = w[:, start:end].clone()
        h_block = hinv[start:end, start:end]
        errors = torch.zeros_like(w_block)
        # The mask of this block of columns: the smallest OBS saliencies w² / [H⁻¹]²_qq.
        saliency = w_block**2 / torch.diag(h_block).unsqueeze(0) ** 2
        drop = int(saliency.numel() * sparsity)
        pruned = torch.zeros_like(w_block, dtype=torch.bool)
        if drop:
            pruned.view(-1)[saliency.flatten().argsort()[:drop]] = True
        for i in range(end - start):
            column = w_block[:, i]
            kept = torch.where(pruned[:, i], 0.0, column)
            error = (column - kept) / h_block[i, i]
            # OBS update: spread the error of the removed weights over the columns to its right.
            w_block[:, i:] -= error.unsqueeze(1) * h_block[i, i:].unsqueeze(0)
            w_block[:, i] = kept
            errors[:, i] = error
        w[:, start:end] = w_block
        w[:, end:] -= errors @ hinv[start:end, end:]
    return w.to(weight.dtype)


def sparsity_of(tensors: list[torch.Tensor]) -> float:
    """The share of exact zeros over all ``tensors``."""
    total = sum(t.numel() for t in tensors)
    return sum(int((t == 0).sum()) for t in tensors) / max(1, total)
