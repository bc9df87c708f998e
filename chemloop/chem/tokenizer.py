"""A regex SMILES tokenizer: one token per atom, bond, branch or ring-closure label.

Bracket atoms (``[nH]``, ``[C@@H]``, ``[O-]``) are single tokens, as are two-letter
organic-subset elements (``Cl``, ``Br``) and two-digit ring closures (``%10``). The
vocabulary is learned from a corpus and saved beside model weights as JSON. A string
holding a token outside the vocabulary, or a character no token pattern covers, is an
error that names it: nothing is ever silently dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from chemloop.errors import ChemloopError

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, BOS, EOS)

# Order matters: bracket atoms first, then two-letter elements before their one-letter prefix.
_TOKEN_PATTERN = re.compile(
    r"\[[^\[\]]+\]"  # bracket atom: isotope, element, chirality, H count, charge, map number
    r"|Br|Cl"  # two-letter elements of the organic subset
    r"|%\d{2}"  # two-digit ring closure
    r"|[BCNOPSFIbcnops]"  # one-letter organic-subset elements, aromatic or not
    r"|[0-9]"  # one-digit ring closure
    r"|[=#$:/\\\-+().~@?>*]"  # bonds, branches, stereo marks, dot-less punctuation
    r"|\."  # disconnected fragments
)


# Tokens common in drug-like molecules but absent from MOSES (no stereo, few charges). A prior
# trained on MOSES carries them in its vocabulary so that fine-tuning on a user's set with
# stereocentres or charged atoms does not need a new embedding table.
COMMON_EXTRA_TOKENS = (
    "[C@H]",
    "[C@@H]",
    "[C@]",
    "[C@@]",
    "/",
    "\\",
    "[N+]",
    "[O-]",
    "[n+]",
    "[N-]",
    "[NH+]",
    "[NH2+]",
    "[NH3+]",
    "[S@]",
    "[S@@]",
    "[S+]",
    "[P+]",
    "[Si]",
    "[Se]",
    "[se]",
    "[B-]",
    "I",
    "P",
    "B",
    "p",
    "b",
    "[2H]",
    "[13C]",
    "%10",
    "%11",
    "7",
    "8",
    "9",
    "[Na+]",
    "[K+]",
    "[Cl-]",
    "[Br-]",
    ".",
    "[nH+]",
    "[o+]",
    "[s+]",
    "[CH]",
    "[CH2]",
    "[c-]",
    "[N@]",
    "[N@@]",
)


class TokenizerError(ChemloopError, ValueError):
    """A SMILES string that cannot be tokenized with this vocabulary."""


def split_smiles(smiles: str) -> list[str]:
    """Split a SMILES string into tokens; raise if a character is not covered by any token."""
    tokens = _TOKEN_PATTERN.findall(smiles)
    if sum(map(len, tokens)) != len(smiles):
        position = _first_uncovered(smiles)
        raise TokenizerError(
            f"cannot tokenize SMILES {smiles!r}: unexpected character "
            f"{smiles[position]!r} at position {position}"
        )
    return tokens


def _first_uncovered(smiles: str) -> int:
    position = 0
    for match in _TOKEN_PATTERN.finditer(smiles):
        if match.start() != position:
            return position
        position = match.end()
    return position


class SmilesTokenizer:
    """Maps SMILES strings to token ids and back, with ``<pad>``, ``<bos>`` and ``<eos>``."""

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            tokens = list(SPECIAL_TOKENS) + [t for t in tokens if t not in SPECIAL_TOKENS]
        if len(set(tokens)) != len(tokens):
            raise TokenizerError("vocabulary holds duplicate tokens")
        self.tokens: list[str] = tokens
        self.index: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.pad_id, self.bos_id, self.eos_id = (self.index[t] for t in SPECIAL_TOKENS)

    @classmethod
    def from_corpus(cls, smiles: Iterable[str], extra: Iterable[str] = ()) -> SmilesTokenizer:
        """Build a vocabulary from every token in ``smiles``, most frequent first, then ``extra``."""
        counts: Counter[str] = Counter()
        for s in smiles:
            counts.update(split_smiles(s))
        seen = [t for t, _ in counts.most_common()]
        return cls(seen + [t for t in extra if t not in counts])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, smiles: str, *, add_special: bool = True) -> list[int]:
        """Token ids of ``smiles``, wrapped in ``<bos>``/``<eos>`` unless ``add_special=False``."""
        try:
            ids = [self.index[t] for t in split_smiles(smiles)]
        except KeyError as err:
            raise TokenizerError(
                f"cannot encode SMILES {smiles!r}: token {err.args[0]!r} is not in the vocabulary"
            ) from None
        return [self.bos_id, *ids, self.eos_id] if add_special else ids

    def decode(self, ids: Iterable[int]) -> str:
        """The SMILES string of ``ids``: stops at ``<eos>``, skips ``<bos>`` and ``<pad>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.bos_id, self.pad_id):
                continue
            out.append(self.tokens[i])
        return "".join(out)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"tokens": self.tokens}, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> SmilesTokenizer:
        try:
            data = json.loads(Path(path).read_text())
            return cls(data["tokens"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise TokenizerError(f"cannot read vocabulary file {path}: {err}") from err
