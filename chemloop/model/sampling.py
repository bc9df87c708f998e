"""Sampling SMILES from a GPT, with or without a KV cache.

Randomness is drawn as one uniform number per sequence per step from a seeded
``torch.Generator`` and turned into a token by inverse-CDF lookup. The draw does not
depend on which sequences are still running, so the cached sampler (which drops finished
sequences to save work) and the uncached reference sampler give the same tokens for the
same seed.

With ``prompts`` each sequence starts with given tokens (a prefix the model continues): the
common part of the prompts is fed in one prefill pass, and past it a row's prompt tokens are
forced step by step while the other rows already sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from chemloop.chem.tokenizer import SmilesTokenizer
from chemloop.model.gpt import GPT, KVCache
from chemloop.model.heap import keep_buffers_while_sampling
from chemloop.model.templates import TemplateRows

COMPACT_AT_ALIVE = 0.75  # the share of a batch still running at which finished rows are dropped


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set logits outside the top-k tokens, or outside the top-p probability mass, to -inf."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = F.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # Drop a token when the mass before it already reaches top_p; always keep the first.
        drop_sorted = (cumulative - F.softmax(sorted_logits, dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _pick(logits: torch.Tensor, uniform: torch.Tensor, temperature: float, top_k: int, top_p: float):
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = F.softmax(filter_logits(logits / temperature, top_k, top_p), dim=-1)
    cdf = probs.cumsum(dim=-1)
    cdf[:, -1] = float("inf")  # guard against rounding leaving u above the last bucket
    return torch.searchsorted(cdf, uniform.unsqueeze(-1)).squeeze(-1)


def _prompt_table(prompts: Sequence[Sequence[int]], num: int, max_length: int) -> torch.Tensor:
    """The number of fixed leading positions of each row (``<bos>`` and its prompt)."""
    if len(prompts) != num:
        raise ValueError(f"{len(prompts)} prompts for {num} sequences")
    longest = max((len(p) for p in prompts), default=0)
    if longest + 2 > max_length:  # <bos>, the prompt, at least one new token or <eos>
        raise ValueError(f"a prompt of {longest} tokens leaves no room in a context of {max_length}")
    return torch.tensor([len(p) + 1 for p in prompts], dtype=torch.long)


@torch.no_grad()
@keep_buffers_while_sampling(give_back=False)  # the KV cache's blocks are reused, not faulted in afresh
def sample_ids(
    model: GPT,
    tokenizer: SmilesTokenizer,
    num: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    max_length: int | None = None,
    prompts: Sequence[Sequence[int]] | None = None,
    banned_after_prompt: Sequence[int] = (),
    template: TemplateRows | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``num`` token sequences, each continuing its prompt (token ids, no specials) if
    ``prompts`` is given; the first token after a prompt is neither ``<eos>`` nor one of
    ``banned_after_prompt``. With ``template`` instead of prompts, every token after ``<bos>`` is
    one the template allows (:mod:`chemloop.model.templates`).

    Returns the ids (``num × max_length``, ``<pad>`` after ``<eos>``) and each sequence's
    negative log-likelihood under the model itself (temperature 1, no top-k/top-p), prompt
    tokens included: the NLL of the whole string.
    """
    if template is not None and prompts is not None:
        raise ValueError("a template gives every row's tokens from <bos> on: no prompts beside it")
    device = next(model.parameters()).device
    max_length = min(max_length or model.config.block_size, model.config.block_size)
    out = torch.full((num, max_length), tokenizer.pad_id, dtype=torch.long, device=device)
    out[:, 0] = tokenizer.bos_id
    fixed = torch.ones(num, dtype=torch.long)  # leading positions of each row that are given
    if prompts is not None:
        fixed = _prompt_table(prompts, num, max_length)
        start = torch.full((num, max_length), tokenizer.pad_id, dtype=torch.long)
        start[:, 0] = tokenizer.bos_id
        for row, prompt in enumerate(prompts):  # filled on the CPU, copied to the device once
            start[row, 1 : 1 + len(prompt)] = torch.as_tensor(prompt, dtype=torch.long)
        out.copy_(start)
    fixed = fixed.to(device)
    first = int(fixed.min()) if num else 1  # positions every row has given: one prefill pass
    rows = torch.arange(num, device=device)  # the row of `out` that each cache row generates
    alive = torch.ones(num, dtype=torch.bool, device=device)  # per cache row: no <eos> yet
    nll = torch.zeros(num, device=device)
    cache = KVCache.for_model(model, num) if use_cache else None
    model_input = out[:, :first]
    never = [tokenizer.pad_id, tokenizer.bos_id]  # special tokens that cannot follow <bos>
    after_prompt = [tokenizer.eos_id, *banned_after_prompt]  # a prompt gets a continuation
    for step in range(first, max_length):
        uniform = torch.rand(num, generator=generator, device=generator.device if generator else "cpu")
        all_logits = model(model_input, cache)
        if step == first and first > 1:  # the prefilled prompt tokens count towards the NLL
            prefix_logp = torch.log_softmax(all_logits[:, : first - 1].float(), dim=-1)
            nll -= prefix_logp.gather(2, out[:, 1:first].unsqueeze(-1)).squeeze(-1).sum(dim=1)
        logits = all_logits[:, -1].float()
        log_probs = torch.log_softmax(logits, dim=-1)  # the model's own distribution, for the NLL
        logits[:, never] = float("-inf")
        given = step < fixed[rows]
        if template is not None:
            logits.masked_fill_(template.banned(), float("-inf"))
        elif prompts is not None:
            just_after = (step == fixed[rows]).unsqueeze(-1)
            logits[:, after_prompt] = logits[:, after_prompt].masked_fill(just_after, float("-inf"))
        token = _pick(logits, uniform.to(device)[rows], temperature, top_k, top_p)
        token = torch.where(given, out[rows, step], token)
        if step == max_length - 1:  # no room left: end every sequence here
            token.fill_(tokenizer.eos_id)
        token = torch.where(alive, token, tokenizer.pad_id)
        out[rows, step] = token
        token_logp = log_probs.gather(1, token.unsqueeze(-1)).squeeze(-1)
        nll[rows] -= torch.where(alive, token_logp, 0.0)
        alive &= token != tokenizer.eos_id
        if not alive.any():
            break
        if template is not None:
            template.advance(token)
        if cache is None:
            model_input = out[:, : step + 1]
            continue
        # Dropping finished rows from the cache costs a copy of it: only once enough have ended.
        if alive.sum() <= COMPACT_AT_ALIVE * len(rows):
            keep = alive.nonzero().squeeze(-1)
            cache.keep(keep)
            if template is not None:
                template.keep(keep)
            rows, token, alive = rows[keep], token[keep], alive[keep]
        model_input = token.unsqueeze(-1)
    return out, nll
