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


# Tokens a prior carries in its vocabulary beyond those of its corpus: MOSES's tokens, the
# stereo marks, charges, isotopes and elements common in drug discovery, and ring-closure labels
# that random spellings can need. Fine-tuning on a user's series with any of them then needs no
# new embedding rows. Tokens the corpus never shows keep untrained embeddings.
COMMON_EXTRA_TOKENS = (
    # stereo and double-bond geometry
    "[C@H]", "[C@@H]", "[C@]", "[C@@]", "/", "\\", "[N@]", "[N@@]", "[N@+]", "[N@@+]",
    "[S@]", "[S@@]", "[S@+]", "[S@@+]", "[P@]", "[P@@]", "[P@H]", "[P@@H]", "[Si@]", "[Si@@]",
    # charged and hydrogen-bearing atoms
    "[H]", "[nH]", "[N+]", "[N-]", "[NH+]", "[NH2+]", "[NH3+]", "[NH-]", "[n+]", "[n-]", "[nH+]",
    "[O-]", "[O+]", "[OH+]", "[o+]", "[S+]", "[S-]", "[SH+]", "[s+]", "[P+]", "[PH]", "[PH+]",
    "[PH2]", "[C-]", "[CH-]", "[CH2-]", "[CH]", "[CH2]", "[c-]", "[B-]", "[BH-]", "[BH3-]",
    # other elements of medicinal chemistry
    "I", "P", "B", "p", "b", "[B]", "[Si]", "[SiH2]", "[Se]", "[se]", "[Te]", "[As]",
    # isotopes (labelled compounds, PET tracers)
    "[2H]", "[3H]", "[11C]", "[13C]", "[14C]", "[15N]", "[18O]", "[18F]", "[123I]", "[125I]",
    "[131I]",
    # ions of salts, kept for users who do not strip them
    ".", "[Na+]", "[K+]", "[Li+]", "[Mg+2]", "[Ca+2]", "[Zn+2]", "[Cl-]", "[Br-]", "[I-]", "[F-]",
    # ring closures
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "%10", "%11", "%12", "%13", "%14", "%15",
)  # fmt: skip


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
