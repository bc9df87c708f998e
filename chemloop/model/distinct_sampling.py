"""Distinct continuations of one prompt: sampling without replacement by stochastic beam search.

A prior continues a scaffold's attachment point with a methyl or a chlorine far more often than
with anything else, so plain draws repeat themselves and a caller who wants distinct products
draws again and again. Stochastic beam search (Kool, van Hoof and Welling, ICML 2019, "Stochastic
Beams and Where to Find Them") draws k sequences *without replacement* from the model's
distribution in one pass: every node's Gumbel-perturbed log-probability is passed down to its
children conditioned on their maximum being the parent's value, and a beam of the k highest
perturbed values is kept; the k sequences that end in the beam are an exact sample without
replacement. A beam costs about as many forward passes as k plain draws, plus reordering the
KV cache after each step.

Distinct strings can still be one molecule (a random-spelling model writes an acetyl as
``C(C)=O`` and as ``C(=O)C``). Given a ``key`` (e.g. the canonical SMILES), only the ended sequence
with the highest perturbed value of each key stays in the beam. The highest Gumbel-perturbed value
among a molecule's spellings is itself a Gumbel perturbation of the log of their summed
probability, so the top k keys are a sample of k molecules without replacement, each weighted by
all its spellings; up to the beam's truncation: partial strings that end as a repeat hold beam
places meanwhile, so a beam may return fewer than k.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch

from chemloop.chem.tokenizer import SmilesTokenizer
from chemloop.model.gpt import GPT, KVCache
from chemloop.model.sampling import filter_logits


def _gumbel(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    uniform = torch.rand(shape, generator=generator, dtype=torch.float64).clamp(1e-12, 1.0 - 1e-12)
    return -torch.log(-torch.log(uniform))


def truncated_gumbel(parent: torch.Tensor, perturbed: torch.Tensor) -> torch.Tensor:
    """The children's perturbed values conditioned on their maximum being ``parent`` (one per row):
    ``perturbed`` is each child's log-probability plus a free Gumbel (rows × children). The
    numerically stable form of Kool et al.'s appendix B."""
    top = perturbed.max(dim=-1, keepdim=True).values
    gap = (perturbed - top).clamp(max=0.0)
    v = parent.unsqueeze(-1) - perturbed + torch.log(-torch.expm1(gap))
    shifted = parent.unsqueeze(-1) - v.clamp(min=0.0) - torch.log1p(torch.exp(-v.abs()))
    return torch.where(torch.isfinite(perturbed), shifted, float("-inf"))


@torch.no_grad()
def distinct_continuations(
    model: GPT,
    tokenizer: SmilesTokenizer,
    prompt: Sequence[int],
    k: int,
    *,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned_after_prompt: Sequence[int] = (),
    key: Callable[[list[int]], Hashable | None] | None = None,
    exclude: frozenset = frozenset(),
    beam: int | None = None,
) -> list[tuple[list[int], float]]:
    """Up to ``k`` distinct continuations of ``prompt`` (token ids, no specials), drawn without
    replacement from the model's distribution at ``temperature`` (after top-k/top-p); fewer only
    if the model can write fewer. Each is the whole sequence (``<bos>``, prompt, continuation,
    ``<eos>``) with its NLL under the model itself at temperature 1, prompt included. The first
    new token is neither ``<eos>`` nor one of ``banned_after_prompt``.

    With ``key`` (a whole sequence to a hashable, ``None`` for one never to merge) the sequences
    returned have distinct keys, none in ``exclude``. A ``beam`` wider than ``k`` (the default)
    costs more and loses less to partial strings that end as repeats."""
    if k < 1:
        return []
    if key is not None:  # an ended sequence stays in the beam for many steps: key it once
        key = _memoized(key)
    width = max(k, beam or k)
    device = next(model.parameters()).device
    max_length = model.config.block_size
    if len(prompt) + 2 > max_length:
        raise ValueError(f"a prompt of {len(prompt)} tokens leaves no room in a context of {max_length}")
    cache = KVCache.for_model(model, 1)
    start = torch.tensor([[tokenizer.bos_id, *prompt]], dtype=torch.long, device=device)
    logits = model(start, cache)
    prefix_logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    prefix_nll = -prefix_logp.gather(2, start[:, 1:].unsqueeze(-1)).sum().item()

    seqs = start  # the beam's unfinished sequences (rows × length so far)
    nll = torch.full((1,), prefix_nll, dtype=torch.float64)  # each row's NLL at temperature 1
    phi = torch.zeros(1, dtype=torch.float64)  # each row's log-probability under the sampler
    gumbel = torch.zeros(1, dtype=torch.float64)  # each row's perturbed value
    finished: list[tuple[float, list[int], float]] = []  # (perturbed value, ids, NLL)
    never = [tokenizer.pad_id, tokenizer.bos_id]
    first_new = True
    while seqs.shape[0] > 0:
        step_logits = logits[:, -1].float()
        own = torch.log_softmax(step_logits, dim=-1).double()
        step_logits[:, never] = float("-inf")
        if first_new:
            step_logits[:, [tokenizer.eos_id, *banned_after_prompt]] = float("-inf")
        if seqs.shape[1] + 1 >= max_length:  # no room left: the sequence ends here
            keep_eos = step_logits[:, tokenizer.eos_id].clone()
            step_logits.fill_(float("-inf"))
            step_logits[:, tokenizer.eos_id] = keep_eos
        sampler = torch.log_softmax(filter_logits(step_logits / temperature, top_k, top_p), dim=-1).double()
        child_phi = phi.unsqueeze(-1) + sampler
        child_g = truncated_gumbel(gumbel, child_phi + _gumbel(tuple(child_phi.shape), generator))
        # The beam: the `width` highest perturbed values among the new children and ended sequences.
        ended_g = torch.tensor([g for g, _, _ in finished], dtype=torch.float64)
        pool = torch.cat([child_g.flatten(), ended_g])
        chosen = torch.topk(pool, min(width, int(torch.isfinite(pool).sum()))).indices
        vocab = child_g.shape[1]
        kept_ended = [finished[i - child_g.numel()] for i in chosen.tolist() if i >= child_g.numel()]
        children = chosen[chosen < child_g.numel()]
        parent, token = children // vocab, children % vocab
        ends = token == tokenizer.eos_id
        child_nll = nll[parent] - own[parent, token]
        for row in ends.nonzero().flatten().tolist():
            ids = [*seqs[parent[row]].tolist(), tokenizer.eos_id]
            kept_ended.append((child_g[parent[row], token[row]].item(), ids, child_nll[row].item()))
        finished = kept_ended if key is None else _one_per_key(kept_ended, key, exclude)
        going = ~ends
        parent, token = parent[going], token[going]
        if parent.numel() == 0:
            break
        seqs = torch.cat([seqs[parent], token.unsqueeze(-1).to(device)], dim=1)
        nll, phi = child_nll[going], child_phi[parent, token]
        gumbel = child_g[parent, token]
        cache.keep(parent.to(device))
        logits = model(token.unsqueeze(-1).to(device), cache)
        first_new = False
    finished.sort(key=lambda item: -item[0])
    return [(ids, value) for _, ids, value in finished[:k]]


def _one_per_key(
    ended: list[tuple[float, list[int], float]],
    key: Callable[[list[int]], Hashable | None],
    exclude: frozenset,
) -> list[tuple[float, list[int], float]]:
    """The ended sequences with the highest perturbed value of each key, none keyed in ``exclude``
    (a ``None`` key is never merged)."""
    best: dict[Hashable, tuple[float, list[int], float]] = {}
    kept = []
    for item in ended:
        name = key(item[1])
        if name is None:
            kept.append(item)
        elif name not in exclude and (name not in best or item[0] > best[name][0]):
            best[name] = item
    return kept + list(best.values())


def _memoized(key: Callable[[list[int]], Hashable | None]) -> Callable[[list[int]], Hashable | None]:
    known: dict[tuple[int, ...], Hashable | None] = {}

    def memo(ids: list[int]) -> Hashable | None:
        name = tuple(ids)
        if name not in known:
            known[name] = key(ids)
        return known[name]

    return memo
