"""Writing a scaffold in one pass: its tokens given, a fragment sampled at each attachment point.

A template is a spelling of the scaffold in which every attachment point is written either as a
branch, ``c(*)c``, or as the last atom, ``...c*``: RDKit's random spellings give such strings for
most scaffolds. The model writes the template token by token; the scaffold's tokens are forced,
and at a point the model writes a fragment of its own until it closes the branch with the
template's ``)`` (a ``)`` at the fragment's own depth 0) or, at the last atom, ends the molecule.
Every point is decorated in one pass over the molecule, where decorating point by point re-reads
the molecule so far for each point.

The constraint is a sampler's state per row: the template position, the depth of branches opened
inside the fragment, and whether the fragment has a token yet. Inside a fragment the model may not
write a ring label the scaffold has open there (it would bond to the scaffold), start a new
molecule, or end early; the first token of a fragment obeys the rules of a prompt's first token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from chemloop.chem.tokenizer import SmilesTokenizer, TokenizerError, split_smiles

FILL = -1  # in an encoded template: the model writes a fragment here
_RING_LABEL = re.compile(r"^(\d|%\d\d)$")


class TemplateError(ValueError):
    """A template the model cannot write (a token its vocabulary lacks) or that is not well-formed."""


def encode_template(tokenizer: SmilesTokenizer, text: str) -> list[int]:
    """Token ids of ``text`` with :data:`FILL` for each ``*``; each ``*`` must be followed by
    ``)`` or end the string."""
    try:
        tokens = split_smiles(text)
    except TokenizerError as err:
        raise TemplateError(str(err)) from None
    if not _points_well_placed(tokens):
        raise TemplateError(f"{text!r}: a point must end a branch or the string")
    ids = []
    for token in tokens:
        if token == "*":
            ids.append(FILL)
        elif token in tokenizer.index:
            ids.append(tokenizer.index[token])
        else:
            raise TemplateError(f"{text!r} needs the token {token!r}, which the vocabulary lacks")
    return ids


def is_natural_template(text: str) -> bool:
    """Whether ``text`` is a template (each ``*`` ends a branch or the string, none starts it)
    with no ring of the scaffold left open at any point: the model, trained on whole molecules,
    writes a fragment inside a half-written ring badly (valid 6-35% of the time on the
    anilinoquinazoline with the prior, against 84-96% with the rings closed)."""
    try:
        tokens = split_smiles(text)
    except TokenizerError:
        return False
    points = [i for i, t in enumerate(tokens) if t == "*"]
    return (
        bool(points)
        and _points_well_placed(tokens)
        and not any(_open_ring_labels(tokens[:i]) for i in points)
    )


def _points_well_placed(tokens: Sequence[str]) -> bool:
    """Whether every ``*`` ends a branch or the string, and none starts it."""
    points = [i for i, t in enumerate(tokens) if t == "*"]
    return all(i > 0 and (i + 1 == len(tokens) or tokens[i + 1] == ")") for i in points)


def _open_ring_labels(tokens: Sequence[str]) -> set[str]:
    open_labels: set[str] = set()
    for token in tokens:
        if _RING_LABEL.match(token):
            open_labels ^= {token}
    return open_labels


class TemplateRows:
    """The constraint of rows each writing a template (:func:`encode_template`; one per row) from
    its first token. ``banned()`` gives the tokens each row may not write next; ``advance`` takes
    the tokens written; ``keep`` follows the sampler's rows."""

    def __init__(
        self,
        tokenizer: SmilesTokenizer,
        templates: Sequence[Sequence[int]],
        *,
        banned_first: Sequence[int] = (),
        vocab_size: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        vocab = vocab_size or len(tokenizer.tokens)
        self.eos = tokenizer.eos_id
        self.open_paren = tokenizer.index.get("(", -2)
        self.close_paren = tokenizer.index.get(")", -2)
        distinct = list(dict.fromkeys(tuple(t) for t in templates))  # rows share the tables of one
        self.which = torch.tensor(
            [distinct.index(tuple(t)) for t in templates], dtype=torch.long, device=device
        )
        # Each template with <eos> after it (and after that), and at each position its fragment.
        width = max(len(t) for t in distinct) + 1
        fills = [[i for i, t in enumerate(template) if t == FILL] for template in distinct]
        self.template = torch.full((len(distinct), width), self.eos, dtype=torch.long, device=device)
        self.fill_of = torch.zeros((len(distinct), width), dtype=torch.long, device=device)
        # Per fragment, three ban rows: its first token, later at depth 0, deeper in a branch.
        self.bans = torch.zeros(
            len(distinct), max(map(len, fills)), 3, vocab, dtype=torch.bool, device=device
        )
        for u, template in enumerate(distinct):
            self.template[u, : len(template)] = torch.tensor(template, dtype=torch.long)
            self.fill_of[u, fills[u]] = torch.arange(len(fills[u]), device=device)
            for j, bans in enumerate(_fragment_bans(tokenizer, template, banned_first)):
                for kind, tokens in enumerate(bans):
                    self.bans[u, j, kind, [t for t in tokens if 0 <= t < vocab]] = True
        self.ring_label = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.ring_label[[i for t, i in tokenizer.index.items() if _RING_LABEL.match(t) and i < vocab]] = True
        self.ends_fragment = torch.tensor([self.close_paren, self.eos], device=device)
        rows = len(templates)
        self.position = torch.zeros(rows, dtype=torch.long, device=device)
        self.depth = torch.zeros(rows, dtype=torch.long, device=device)
        self.fresh = torch.ones(rows, dtype=torch.bool, device=device)  # no token of this fragment yet
        self.labels = torch.zeros(rows, vocab, dtype=torch.bool, device=device)  # ring labels it has open

    def _current(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each row's template position (past the end: the ``<eos>`` after it) and token there."""
        position = self.position.clamp(max=self.template.shape[1] - 1)
        return position, self.template[self.which, position]

    def banned(self) -> torch.Tensor:
        """``rows × vocab``, True where a row may not write the token next."""
        position, current = self._current()
        forced = torch.ones_like(self.labels)
        forced[torch.arange(len(current)), current.clamp(min=0)] = False
        kind = torch.where(self.fresh, 0, torch.where(self.depth > 0, 2, 1))
        fragment = self.bans[self.which, self.fill_of[self.which, position], kind]
        unclosed = self.labels.any(dim=1)  # a fragment closes the rings it opens before it ends
        fragment[:, self.ends_fragment] |= unclosed.unsqueeze(-1)
        return torch.where((current == FILL).unsqueeze(-1), fragment, forced)

    def advance(self, tokens: torch.Tensor) -> None:
        """Each row wrote ``tokens`` (what ``banned`` allowed; a finished row's token is ignored)."""
        filling = self._current()[1] == FILL
        closes = filling & (tokens == self.close_paren) & (self.depth == 0)  # the template's ")"
        ends = filling & (tokens == self.eos)
        toggled = filling & self.ring_label[tokens.clamp(min=0)]
        self.labels[toggled, tokens[toggled]] ^= True
        self.depth += (filling & (tokens == self.open_paren)).long()
        self.depth -= (filling & (tokens == self.close_paren) & (self.depth > 0)).long()
        step = torch.where(filling, torch.where(closes | ends, 2, 0), 1)
        self.position += step
        self.fresh = step > 0  # a row that moved on has written nothing of the next fragment
        self.labels[step > 0] = False

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the rows in ``rows`` (repeats allowed), as the sampler's cache does."""
        self.which, self.position, self.depth = self.which[rows], self.position[rows], self.depth[rows]
        self.fresh, self.labels = self.fresh[rows], self.labels[rows]


def _fragment_bans(
    tokenizer: SmilesTokenizer, template: Sequence[int], banned_first: Sequence[int]
) -> list[tuple[list[int], list[int], list[int]]]:
    """For each fragment of ``template``: the tokens banned as its first token, later at depth 0,
    and deeper inside a branch it opened. Never a ring label the scaffold has open there, a new
    molecule or a special token; not ``<eos>`` before the template's ``)``, nor ``)`` at depth 0
    where the fragment ends the molecule."""
    names = [tokenizer.tokens[t] if t != FILL else "*" for t in template]
    always = [
        tokenizer.pad_id,
        tokenizer.bos_id,
        *[tokenizer.index[t] for t in (".",) if t in tokenizer.index],
    ]
    eos, close = tokenizer.eos_id, tokenizer.index.get(")", -2)
    bans = []
    for at in (i for i, t in enumerate(template) if t == FILL):
        inside = [
            *always,
            *(tokenizer.index[t] for t in _open_ring_labels(names[:at]) if t in tokenizer.index),
        ]
        depth0 = [*inside, close if at == len(template) - 1 else eos]
        bans.append(([*depth0, eos, close, *banned_first], depth0, [*inside, eos]))
    return bans
