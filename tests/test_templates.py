"""Templates: a scaffold's tokens given, a fragment sampled at each point (chemloop.model.templates)."""

import pytest
import torch

from chemloop.chem.tokenizer import SmilesTokenizer, split_smiles
from chemloop.model import GPT, GPTConfig, sample_ids
from chemloop.model.templates import FILL, TemplateError, TemplateRows, encode_template, is_natural_template

TOKENS = ["C", "c", "N", "O", "1", "2", "(", ")", "=", ".", "[H]"]


@pytest.fixture()
def tokenizer():
    return SmilesTokenizer(TOKENS)


def test_encoding_marks_each_point_and_names_what_cannot_be_written(tokenizer):
    assert encode_template(tokenizer, "C(*)C*") == [
        tokenizer.index["C"],
        tokenizer.index["("],
        FILL,
        tokenizer.index[")"],
        tokenizer.index["C"],
        FILL,
    ]
    with pytest.raises(TemplateError, match="end a branch"):
        encode_template(tokenizer, "C*C")
    with pytest.raises(TemplateError, match="end a branch"):
        encode_template(tokenizer, "*CC")
    with pytest.raises(TemplateError, match="'Br'"):
        encode_template(tokenizer, "C(*)Br")


@pytest.mark.parametrize(
    ("text", "natural"),
    [
        ("N(c1ccccc1*)C*", True),  # the ring is closed at both points
        ("c1ccc(*)cc1*", False),  # ring 1 is open at the first point
        ("C(*)C", True),
        ("*CC", False),  # a point may not start the string
        ("C*C", False),
        ("CC", False),  # no point
    ],
)
def test_natural_templates_leave_no_ring_open_at_a_point(text, natural):
    assert is_natural_template(text) is natural


def _fragments(tokens: list[str], template: list[str]) -> list[list[str]] | None:
    """The fragments a string wrote at the template's points, or None if it broke the template."""
    fragments, i = [], 0
    for position, expected in enumerate(template):
        if expected != "*":
            if i >= len(tokens) or tokens[i] != expected:
                return None
            i += 1
            continue
        ends_string = position == len(template) - 1
        fragment, depth = [], 0
        while i < len(tokens) and not (tokens[i] == ")" and depth == 0 and not ends_string):
            depth += {"(": 1, ")": -1}.get(tokens[i], 0)
            fragment.append(tokens[i])
            i += 1
        fragments.append(fragment)
    return fragments if i == len(tokens) else None


def test_a_random_model_writes_the_template_with_well_formed_fragments(tokenizer):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(tokenizer), block_size=48, n_layer=1, n_head=2, n_embd=16)).eval()
    texts = ["N(c1ccccc1*)C*", "C(*)CC(*)O", "C(*)C"]
    rows = [texts[i % 3] for i in range(300)]
    first_banned = ["=", "[H]", "1", "2", "("]  # as a prompt's first token
    constraint = TemplateRows(
        tokenizer,
        [encode_template(tokenizer, t) for t in rows],
        banned_first=[tokenizer.index[t] for t in first_banned],
    )
    ids, _ = sample_ids(
        model, tokenizer, len(rows), generator=torch.Generator().manual_seed(1), template=constraint
    )
    complete = 0
    for text, row in zip(rows, ids.tolist(), strict=True):
        written = tokenizer.decode(row)
        if tokenizer.pad_id not in row:
            continue  # ran out of context: <eos> forced at the last position
        fragments = _fragments(split_smiles(written), split_smiles(text))
        assert fragments is not None, f"{written!r} breaks the template {text!r}"
        for fragment in fragments:
            assert fragment and fragment[0] not in (*first_banned, ")", ".")
            assert "." not in fragment and fragment.count("(") == fragment.count(")")
            assert all(fragment.count(label) % 2 == 0 for label in ("1", "2")), "a fragment closes its rings"
        complete += 1
    assert complete >= 30, "a random model ends some strings within the context"
