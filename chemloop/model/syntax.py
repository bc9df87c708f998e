"""SMILES syntax masks for sampling: tokens that cannot come next in any valid SMILES.

A share of the prior's invalid strings break the SMILES grammar locally: a ``)`` that closes
nothing, an empty branch ``()``, two bonds in a row, a string that ends on a bond. The grammar
says exactly which next tokens can never lead to a valid string, so the sampler bans them and
the model chooses among the rest by its own probabilities. Chemistry (aromaticity, valence) is
left to the model: no rule here guesses.

Tracked per row: the branch depth and the class of the last token. Banned:

* after ``<bos>``, ``(`` or ``.``: ``)``, ``(``, a ring label, ``.`` and ``<eos>``, and a bond
  except after ``(`` (``C(=O)``);
* after a bond: another bond, ``.``, ``(``, ``)`` and ``<eos>`` (a ring label may follow:
  ``C=1CC=1``);
* ``)`` at depth 0.

Not banned: ``<eos>`` while a branch or a ring bond is open. A model that wants to stop there has
lost its way, and forced to go on it wrote long runaway strings instead (10,000 samples of the
default prior: 0.9235 valid with that ban, 0.9243 without it, 0.9126 with no mask).

Each rule was checked against RDKit's parser, and ``tests/test_syntax_mask.py`` checks that no
rule ever bans the next token of a canonical or random spelling of ZINC molecules.
"""

from __future__ import annotations

import torch

from chemloop.chem.tokenizer import SmilesTokenizer

BONDS = ("-", "=", "#", "/", "\\", ":")
# Token classes: the class of the last token decides which tokens may follow it.
ATOM, BOS, OPEN, CLOSE, BOND, DOT, RING = range(7)


def token_class(token: str, tokenizer: SmilesTokenizer) -> int:
    if token == tokenizer.tokens[tokenizer.bos_id]:
        return BOS
    if token == "(":
        return OPEN
    if token == ")":
        return CLOSE
    if token in BONDS:
        return BOND
    if token == ".":
        return DOT
    if token.isdigit() or token.startswith("%"):
        return RING
    return ATOM


def banned_after(classes: torch.Tensor, eos_id: int) -> torch.Tensor:
    """``7 × vocab``: the tokens banned right after a token of each class."""

    def of(*kinds: int) -> torch.Tensor:
        return torch.isin(classes, torch.tensor(kinds, device=classes.device))

    table = torch.zeros((7, len(classes)), dtype=torch.bool, device=classes.device)
    table[BOS] = table[DOT] = of(CLOSE, OPEN, RING, BOND, DOT)
    table[OPEN] = of(CLOSE, OPEN, RING, DOT)
    table[BOND] = of(BOND, DOT, OPEN, CLOSE)
    table[[BOS, DOT, OPEN, BOND], eos_id] = True
    return table


class SyntaxMask:
    """The grammar state of a batch of rows being sampled: :meth:`banned` gives the tokens that
    cannot come next in each row, :meth:`advance` feeds each row its next token."""

    def __init__(self, tokenizer: SmilesTokenizer, num: int, device: torch.device | str = "cpu") -> None:
        self.classes = torch.tensor([token_class(t, tokenizer) for t in tokenizer.tokens], device=device)
        self.after = banned_after(self.classes, tokenizer.eos_id)
        self.close_id = tokenizer.index.get(")")
        self.last = torch.full((num,), BOS, dtype=torch.long, device=device)
        self.depth = torch.zeros(num, dtype=torch.long, device=device)

    def banned(self) -> torch.Tensor:
        """``rows × vocab``: True where a token cannot continue the row into a valid SMILES."""
        banned = self.after[self.last]
        if self.close_id is not None:
            banned[:, self.close_id] |= self.depth == 0
        return banned

    def advance(self, token: torch.Tensor) -> None:
        """Feed each row its next token (any token: forced prompt tokens and ``<pad>`` too)."""
        cls = self.classes[token]
        self.depth += (cls == OPEN).long() - (cls == CLOSE).long()
        self.depth.clamp_(min=0)
        self.last = cls

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (the sampler dropped finished sequences)."""
        self.last, self.depth = self.last[rows], self.depth[rows]
