"""Log-likelihoods of SMILES strings under a GPT, in batches."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from chemloop.chem.tokenizer import SmilesTokenizer
from chemloop.model.gpt import GPT


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, multiple: int = 1, limit: int | None = None
) -> torch.Tensor:
    """Right-pad token id lists into one ``len × longest`` tensor, the width rounded up to a
    ``multiple`` (at most ``limit``, never below the longest)."""
    longest = max(len(s) for s in sequences)
    width = -(-longest // multiple) * multiple
    if limit is not None:
        width = max(longest, min(width, limit))
    batch = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        batch[i, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return batch


def sequence_log_likelihood(model: GPT, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Sum of log p(token | prefix) over each sequence of ``ids`` (``<bos>`` first, pads ignored).

    Differentiable: the RL and fine-tuning stages call it with gradients on.
    """
    logits = model(ids[:, :-1])
    targets = ids[:, 1:]
    token_logp = -F.cross_entropy(
        logits.float().transpose(1, 2), targets, ignore_index=pad_id, reduction="none"
    )
    return token_logp.sum(dim=1)


@torch.no_grad()
def log_likelihood(
    model: GPT, tokenizer: SmilesTokenizer, smiles: Sequence[str], batch_size: int = 512
) -> torch.Tensor:
    """Log-likelihood of each SMILES string (natural log, ``<eos>`` included), on the CPU.

    Raises :class:`~chemloop.chem.tokenizer.TokenizerError` for a string the vocabulary
    cannot encode, or one longer than the model's context.
    """
    device = next(model.parameters()).device
    encoded = [tokenizer.encode(s) for s in smiles]
    for s, ids in zip(smiles, encoded, strict=True):
        if len(ids) > model.config.block_size:
            raise ValueError(
                f"SMILES {s!r} has {len(ids)} tokens, more than the model's context of "
                f"{model.config.block_size}"
            )
    result = []
    for start in range(0, len(encoded), batch_size):
        batch = pad_batch(encoded[start : start + batch_size], tokenizer.pad_id).to(device)
        result.append(sequence_log_likelihood(model, batch, tokenizer.pad_id).cpu())
    return torch.cat(result) if result else torch.zeros(0)
