"""The sampler's SMILES syntax masks: never in the way of a valid string, always in the way of
the local errors they name."""

from __future__ import annotations

import gzip
import itertools

import pytest
import torch
from rdkit import Chem

from chemloop.chem.tokenizer import SmilesTokenizer, split_smiles
from chemloop.model import GPT, GPTConfig, checkpoint, sample_ids
from chemloop.model.sampling import _within_syntax
from chemloop.model.syntax import SyntaxMask

TRICKY_VALID = [
    "C(=O)O",
    "C=1CC=1",
    "C(C)1CC1",
    "C(C)(C)(C)C",
    "C%10CC%10",
    "C/C=C/C",
    "C(/C)=C/C",
    "C#N",
    "c1ccc2c(c1)[nH]c1ccccc12",
    "[NH3+]CC([O-])=O",
    "C1.C1",
    "[Na+].[Cl-]",
    "C-1CC1",
    "C(-C)C",
    "N1CC[C@@H](C1)c1ccncc1",
    "O=C1N(C)C(=O)c2ccccc21",
]
BONDS = "-=#/\\"


@pytest.fixture(scope="module")
def tokenizer() -> SmilesTokenizer:
    return SmilesTokenizer.load(checkpoint.resolve("prior") / "vocab.json")


def spellings(smiles: list[str], per_molecule: int = 3) -> list[str]:
    """Each molecule's canonical spelling and ``per_molecule`` random ones."""
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        out.append(Chem.MolToSmiles(mol))
        out += [Chem.MolToSmiles(mol, doRandom=True) for _ in range(per_molecule)]
    return out


def assert_never_banned(tokenizer: SmilesTokenizer, strings: list[str]) -> None:
    """Feed each string token by token: the true next token (``<eos>`` at the end) is never banned."""
    rows = [tokenizer.encode(s)[1:] for s in strings]
    mask = SyntaxMask(tokenizer, len(rows))
    for position in range(max(map(len, rows))):
        token = torch.tensor([r[position] if position < len(r) else tokenizer.pad_id for r in rows])
        banned = mask.banned().gather(1, token.unsqueeze(1)).squeeze(1)
        for i in banned.nonzero().flatten().tolist():
            raise AssertionError(f"{strings[i]!r}: token {position} ({tokenizer.tokens[token[i]]}) banned")
        mask.advance(token)


def local_errors(smiles: str, ended: bool = True) -> list[str]:
    """The local syntax errors the masks exist to prevent, found by reading the string; the
    ``<eos>`` is judged only where the string ``ended`` by choice."""
    tokens, depth, errors = split_smiles(smiles), 0, []
    ends = ["<eos>"] if ended else []
    for before, token in zip(["<bos>", *tokens], [*tokens, *ends], strict=False):
        if token == ")" and depth == 0:
            errors.append("')' closes nothing")
        ring_label = token[0].isdigit() or token[0] == "%"
        if before in ("<bos>", "(", ".") and (token in ("(", ")", ".", "<eos>") or ring_label):
            errors.append(f"{token!r} after {before!r}")
        if before in BONDS and token in (*BONDS, ".", "(", ")", "<eos>"):
            errors.append(f"{token!r} after a bond")
        depth = max(0, depth + (token == "(") - (token == ")"))
    return errors


def test_the_rules_catch_what_rdkit_rejects():
    for invalid in ("C)C", "C()C", "C((C))C", "C==C", "C(C=)C", "C=", "(C)C", "1CC1", "C(1)CC1", ".C"):
        assert Chem.MolFromSmiles(invalid) is None
        assert local_errors(invalid), invalid


def test_no_rule_bans_a_token_of_valid_spellings(tokenizer, moses_sample):
    assert_never_banned(tokenizer, TRICKY_VALID + spellings(moses_sample[:200]))


@pytest.mark.slow
def test_no_rule_bans_a_token_of_zinc_spellings(tokenizer, zinc_file):
    with gzip.open(zinc_file, "rt") as handle:
        lines = [line.split()[0] for line in itertools.islice(handle, 1, 40_000, 20) if line.strip()]
    molecules = [s for s in lines if Chem.MolFromSmiles(s) is not None]
    assert len(molecules) > 1500
    assert_never_banned(tokenizer, spellings(molecules))


def test_masked_sampling_makes_none_of_the_local_errors(tokenizer):
    torch.manual_seed(0)  # an untrained model writes every kind of error
    model = GPT(GPTConfig(vocab_size=len(tokenizer), block_size=24, n_layer=1, n_head=2, n_embd=16)).eval()

    def errors(syntax_mask: bool) -> int:
        generator = torch.Generator().manual_seed(1)
        ids, _ = sample_ids(model, tokenizer, 200, generator=generator, syntax_mask=syntax_mask)
        # at the context's end <eos> is forced, whatever came before: only a chosen end is judged
        rows = ids.tolist()
        return sum(len(local_errors(tokenizer.decode(r), tokenizer.eos_id in r[:-1])) for r in rows)

    assert errors(syntax_mask=False) > 50
    assert errors(syntax_mask=True) == 0


def test_a_row_that_only_banned_tokens_could_continue_keeps_them():
    logits = torch.tensor([[0.0, float("-inf"), 1.0], [0.0, 2.0, 1.0]])
    banned = torch.tensor([[True, True, True], [True, False, False]])
    out = _within_syntax(logits, banned)
    assert torch.equal(out[0], logits[0])  # nothing left after the mask: the row keeps its choices
    assert torch.isinf(out[1, 0]) and out[1, 1:].tolist() == [2.0, 1.0]
