"""Transfer learning of a language model on a small set of molecules (a chemist's series): the
supervised fine-tuning step between pretraining and RL (REINVENT's transfer learning).

In memory and quick: :func:`fit` trains a copy of the model for a few epochs on random spellings of
the molecules, each epoch optionally weighted towards the better ones; :func:`extend_vocabulary`
gives the model rows for tokens it has never seen. ``chemloop finetune`` (:mod:`chemloop.train.finetune`)
adds files, a held-out split, early stopping and a report; a campaign's ``propose`` calls :func:`fit`.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from chemloop.chem.tokenizer import SmilesTokenizer, split_smiles
from chemloop.data.batching import TokenizedCorpus
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import autocast, resolve_precision
from chemloop.model.gpt import GPT, GPTConfig

MAX_VOCABULARY = 256  # token ids are stored as uint8 in TokenizedCorpus


def unknown_tokens(tokenizer: SmilesTokenizer, smiles: Sequence[str]) -> list[str]:
    """Tokens of ``smiles`` that the vocabulary lacks, in order of first appearance."""
    seen: dict[str, None] = {}
    for s in smiles:
        for token in split_smiles(s):
            if token not in tokenizer.index:
                seen.setdefault(token, None)
    return list(seen)


def extend_vocabulary(lm: LanguageModel, tokens: Sequence[str]) -> LanguageModel:
    """A copy of ``lm`` whose vocabulary ends with ``tokens``: every old token keeps its id and its
    weights (so old log-likelihoods are unchanged up to the new rows' small share of the softmax),
    and each new row starts at the mean embedding, to be learned by fine-tuning."""
    if not tokens:
        return lm
    tokenizer = SmilesTokenizer([*lm.tokenizer.tokens, *tokens])
    if len(tokenizer) > MAX_VOCABULARY:
        raise ValueError(f"a vocabulary of {len(tokenizer)} tokens is above the limit of {MAX_VOCABULARY}")
    old = lm.model
    config = GPTConfig(**{**old.config.to_dict(), "vocab_size": len(tokenizer)})
    model = GPT(config).to(lm.device)
    state = {k: v for k, v in old.state_dict().items() if k not in ("token_embedding.weight", "head.weight")}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        table = old.token_embedding.weight
        model.token_embedding.weight[: len(table)] = table
        model.token_embedding.weight[len(table) :] = table.mean(dim=0)
    model.eval()
    warnings.warn(
        f"tokens new to the model: {', '.join(tokens)}; their embeddings are learned from this data",
        stacklevel=2,
    )
    return LanguageModel(model, tokenizer, {**lm.metadata, "added_tokens": list(tokens)})


@torch.no_grad()
def corpus_nll(model: GPT, corpus: TokenizedCorpus, amp, spellings: int = 0) -> float:
    """Mean negative log-likelihood (nats per molecule) of a corpus's canonical spellings, or, with
    ``spellings`` > 0, averaged over that many random spellings of each molecule (the same ones at
    every call: they are drawn from a fixed seed)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(0)
    passes = max(1, spellings)
    total = 0.0
    for _ in range(passes):
        for rows in np.array_split(np.arange(len(corpus)), max(1, len(corpus) // 256)):
            batch = corpus.randomized_batch(rows, rng) if spellings else corpus.canonical_batch(rows)
            batch = batch.to(device)
            with amp:
                logits = model(batch[:, :-1])
            total += F.cross_entropy(
                logits.float().transpose(1, 2),
                batch[:, 1:],
                ignore_index=corpus.tokenizer.pad_id,
                reduction="sum",
            ).item()
    model.train(was_training)
    return total / (passes * len(corpus))


def mean_nll(lm: LanguageModel, smiles: Sequence[str], precision: str = "auto", spellings: int = 0) -> float:
    """Mean negative log-likelihood (nats per molecule) of ``smiles`` under ``lm``: of their canonical
    spellings, or averaged over ``spellings`` random spellings of each."""
    if not smiles:
        return float("nan")
    corpus = TokenizedCorpus(smiles, lm.tokenizer, lm.model.config.block_size)
    amp = autocast(lm.device, resolve_precision(precision, lm.device))
    return corpus_nll(lm.model, corpus, amp, spellings)


FIT_BATCH = 32


def epochs_for(molecules: int, epochs: int, min_steps: int, batch_size: int = FIT_BATCH) -> int:
    """At least ``epochs``, and enough of them for ``min_steps`` updates on ``molecules`` molecules."""
    per_epoch = max(1, math.ceil(molecules / batch_size))
    return max(epochs, math.ceil(min_steps / per_epoch))


def fit(
    lm: LanguageModel,
    smiles: Sequence[str],
    *,
    epochs: int,
    weights: Sequence[float] | None = None,
    lr: float = 5e-5,
    batch_size: int = FIT_BATCH,
    randomize: bool = True,
    seed: int = 0,
    precision: str = "auto",
    after_epoch: Callable[[int, LanguageModel], bool] | None = None,
) -> LanguageModel:
    """A copy of ``lm`` trained on ``smiles`` for at most ``epochs`` epochs.

    ``weights`` (≥ 0, one per molecule): each epoch draws its molecules in proportion to them, with
    replacement, as many as there are molecules; None: each molecule once per epoch. ``randomize``:
    a fresh random spelling of each molecule per draw. ``after_epoch(epoch, model)`` returns True to
    stop early (the caller keeps the best copy it saw).
    """
    tuned = LanguageModel(copy.deepcopy(lm.model), lm.tokenizer, dict(lm.metadata))
    model, device = tuned.model, tuned.device
    corpus = TokenizedCorpus(smiles, tuned.tokenizer, model.config.block_size)
    probabilities = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if len(w) != len(corpus) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be finite, ≥ 0, one per molecule, and not all 0")
        probabilities = w / w.sum()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    amp = autocast(device, resolve_precision(precision, device))
    rng = np.random.default_rng(seed)
    model.train()
    for epoch in range(1, epochs + 1):
        if probabilities is None:
            order = rng.permutation(len(corpus))
        else:
            order = rng.choice(len(corpus), size=len(corpus), p=probabilities)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = corpus.randomized_batch(rows, rng) if randomize else corpus.canonical_batch(rows)
            batch = batch.to(device)
            with amp:
                logits = model(batch[:, :-1])
            loss = F.cross_entropy(
                logits.float().transpose(1, 2), batch[:, 1:], ignore_index=tuned.tokenizer.pad_id
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        if after_epoch is not None:
            model.eval()
            stop = after_epoch(epoch, tuned)
            model.train()
            if stop:
                break
    model.eval()
    return tuned
