"""Sampling without replacement by stochastic beam search, checked against exact probabilities on
a model small enough to enumerate every sequence it can write."""

import itertools
import math
from collections import Counter

import pytest
import torch

from chemloop.chem.tokenizer import SmilesTokenizer
from chemloop.model.distinct_sampling import distinct_continuations, truncated_gumbel
from chemloop.model.gpt import GPT, GPTConfig

TOKENIZER = SmilesTokenizer(["C", "N", "O"])  # ids 3, 4, 5 after <pad>, <bos>, <eos>
PROMPT = [3]
BANNED = [5]  # "O" may not follow the prompt


@pytest.fixture(scope="module")
def small_gpt():
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=6, block_size=6, n_layer=1, n_head=1, n_embd=8)).eval()
    with torch.no_grad():  # a peaked distribution, like a prior's at an attachment point
        model.head.weight.mul_(20)
    return model


def draw(model, k: int, seed: int, **options):
    generator = torch.Generator().manual_seed(seed)
    return distinct_continuations(
        model, TOKENIZER, PROMPT, k, generator=generator, banned_after_prompt=BANNED, **options
    )


def in_two_draws(probabilities: dict, outcome) -> float:
    """The probability that ``outcome`` is among two draws without replacement from
    ``probabilities`` (outcome: probability)."""
    p = probabilities[outcome]
    return p + sum(q * p / (1 - q) for other, q in probabilities.items() if other != outcome)


def exact_distribution(model) -> dict[tuple[int, ...], float]:
    """Every sequence the sampler can write after PROMPT, with its probability under the sampler's
    rules: no <eos> or banned token first, <eos> forced when the context is full."""
    bos, eos = TOKENIZER.bos_id, TOKENIZER.eos_id
    out = {}
    room = model.config.block_size - 2 - len(PROMPT)  # tokens before the forced <eos>
    for length in range(1, room + 1):
        for tail in itertools.product((3, 4, 5), repeat=length):
            if tail[0] in BANNED:
                continue
            ids = [bos, *PROMPT, *tail, eos]
            with torch.no_grad():
                logits = model(torch.tensor([ids[:-1]]))[0]
            p = 1.0
            for position in range(len(PROMPT), len(ids) - 1):
                allowed = logits[position].clone()
                allowed[[TOKENIZER.pad_id, bos]] = -math.inf
                if position == len(PROMPT):
                    allowed[[eos, *BANNED]] = -math.inf
                if position + 1 == model.config.block_size - 1:
                    continue  # the context is full: <eos> is forced, probability 1
                p *= torch.softmax(allowed, dim=-1)[ids[position + 1]].item()
            out[tuple(ids)] = p
    return out


def test_the_children_of_a_node_peak_at_its_value_in_their_order():
    parent = torch.tensor([0.3, -2.0], dtype=torch.float64)
    perturbed = torch.tensor([[1.0, 2.5, -0.5, -math.inf], [0.0, -1.0, -3.0, -2.0]], dtype=torch.float64)
    children = truncated_gumbel(parent, perturbed)
    torch.testing.assert_close(children.max(dim=-1).values, parent)
    assert children[0, 3] == -math.inf  # a token that cannot be written stays unwritable
    finite = children[:, :3]
    assert torch.equal(finite.argsort(dim=-1), perturbed[:, :3].argsort(dim=-1))


def test_k_draws_are_distinct_whole_sequences_with_their_own_nll(small_gpt):
    exact = exact_distribution(small_gpt)
    assert len(exact) == 2 + 2 * 3 + 2 * 9  # C or N first, then up to two more tokens
    drawn = draw(small_gpt, 10, seed=0)
    assert len(drawn) == 10 and len({tuple(ids) for ids, _ in drawn}) == 10
    for ids, nll in drawn:
        assert tuple(ids) in exact  # starts with <bos> and the prompt, no banned first token
        with torch.no_grad():
            logp = torch.log_softmax(small_gpt(torch.tensor([ids[:-1]]))[0], dim=-1)
        own = -sum(logp[i, ids[i + 1]].item() for i in range(len(ids) - 1))
        assert nll == pytest.approx(own, abs=1e-4)


def test_asking_for_more_than_the_model_can_write_returns_each_sequence_once(small_gpt):
    exact = exact_distribution(small_gpt)
    drawn = draw(small_gpt, 1000, seed=0)
    assert sorted(tuple(ids) for ids, _ in drawn) == sorted(exact)


@pytest.mark.slow
def test_draws_follow_the_probabilities_of_sampling_without_replacement(small_gpt):
    """Over many seeds, a sequence's share of first places matches its probability, and its share
    of two-draw samples matches the exact inclusion probability without replacement."""
    exact = exact_distribution(small_gpt)
    runs = 800
    first, included = Counter(), Counter()
    for seed in range(runs):
        drawn = draw(small_gpt, 2, seed)
        first[tuple(drawn[0][0])] += 1
        included.update(tuple(ids) for ids, _ in drawn)
    for sequence, p in exact.items():
        pair = in_two_draws(exact, sequence)
        for observed, expected in ((first[sequence] / runs, p), (included[sequence] / runs, pair)):
            spread = 4 * math.sqrt(expected * (1 - expected) / runs) + 1e-3
            assert abs(observed - expected) <= spread, (sequence, observed, expected)


def last_token(ids: list[int]) -> int:
    return ids[-2]  # the token before <eos>: a "molecule" that several sequences spell


def test_keyed_draws_are_distinct_molecules_none_excluded(small_gpt):
    for seed in range(20):
        for exclude in (frozenset(), frozenset({4})):
            drawn = draw(small_gpt, 3, seed, key=last_token, exclude=exclude)
            keys = [last_token(ids) for ids, _ in drawn]
            assert keys and len(set(keys)) == len(keys) and not set(keys) & exclude


@pytest.mark.slow
def test_keyed_draws_weigh_each_molecule_by_all_its_spellings(small_gpt):
    """Over many seeds, a key's share of two-draw samples matches its inclusion probability
    without replacement, its probability being that of all the sequences with that key (with a
    beam wide enough to hold every sequence, so that none is lost to the beam's truncation)."""
    exact = exact_distribution(small_gpt)
    by_key = Counter()
    for sequence, p in exact.items():
        by_key[last_token(list(sequence))] += p
    runs = 800
    included = Counter()
    for seed in range(runs):
        drawn = draw(small_gpt, 2, seed, key=last_token, beam=len(exact))
        assert len(drawn) == 2
        included.update(last_token(ids) for ids, _ in drawn)
    for name in by_key:
        pair = in_two_draws(by_key, name)
        spread = 4 * math.sqrt(pair * (1 - pair) / runs) + 1e-3
        assert abs(included[name] / runs - pair) <= spread, (name, included[name] / runs, pair)
