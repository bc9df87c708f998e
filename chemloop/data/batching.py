"""Token batches for training: length-bucketed, optionally with randomized SMILES.

Batches group molecules of similar length so that little compute goes to padding, and
are split across DDP ranks by index so every rank sees different molecules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from chemloop.chem.mol import randomize
from chemloop.chem.tokenizer import SmilesTokenizer, TokenizerError
from chemloop.errors import ChemloopError


class TokenizedCorpus:
    """A corpus encoded once into a ``N × block_size`` array of token ids."""

    def __init__(self, smiles: Sequence[str], tokenizer: SmilesTokenizer, block_size: int) -> None:
        self.smiles = list(smiles)
        self.tokenizer = tokenizer
        self.block_size = block_size
        ids = np.full((len(smiles), block_size), tokenizer.pad_id, dtype=np.uint8)
        lengths = np.zeros(len(smiles), dtype=np.int64)
        for i, s in enumerate(self.smiles):
            encoded = tokenizer.encode(s)
            if len(encoded) > block_size:
                raise ChemloopError(
                    f"SMILES {s!r} has {len(encoded)} tokens; the model's context is {block_size}. "
                    "Raise block_size or filter long molecules."
                )
            ids[i, : len(encoded)] = encoded
            lengths[i] = len(encoded)
        self.ids, self.lengths = ids, lengths

    def __len__(self) -> int:
        return len(self.smiles)

    def batches(
        self,
        batch_size: int,
        rng: np.random.Generator,
        *,
        rank: int = 0,
        world: int = 1,
        randomize_smiles: bool = False,
    ) -> Iterator[torch.Tensor]:
        """One epoch of ``B × T`` batches, trimmed to the longest molecule in each."""
        order = rng.permutation(len(self))
        bucket = batch_size * 64  # sort by length within buckets: shuffled, yet little padding
        batches = []
        for start in range(0, len(order), bucket):
            chunk = order[start : start + bucket]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        usable = len(batches) - len(batches) % world  # every rank takes the same number of steps
        for rows in batches[rank:usable:world]:
            yield self.randomized_batch(rows, rng) if randomize_smiles else self.canonical_batch(rows)

    def canonical_batch(self, rows: np.ndarray) -> torch.Tensor:
        longest = int(self.lengths[rows].max())
        return torch.from_numpy(self.ids[rows, :longest].astype(np.int64))

    def randomized_batch(self, rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """A batch of fresh random spellings drawn with ``rng`` (the same state, the same batch)."""
        encoded = []
        for i in rows:
            ids = self._encode_random_spelling(self.smiles[i], rng)
            # A random SMILES may be longer than the context (or need a token the vocabulary
            # lacks, such as a stereo mark written the other way); keep the canonical then.
            usable = ids is not None and len(ids) <= self.block_size
            encoded.append(ids if usable else self.ids[i, : self.lengths[i]].tolist())
        longest = max(map(len, encoded))
        batch = torch.full((len(rows), longest), self.tokenizer.pad_id, dtype=torch.long)
        for j, ids in enumerate(encoded):
            batch[j, : len(ids)] = torch.as_tensor(ids)
        return batch

    def _encode_random_spelling(self, smiles: str, rng: np.random.Generator) -> list[int] | None:
        try:
            return self.tokenizer.encode(randomize(smiles, rng))
        except TokenizerError:
            return None
