"""Molecules as data: parsing, canonical SMILES, tokenization."""

from chemloop.chem.mol import (
    InvalidSmilesError,
    canonical,
    randomize,
    to_mol,
    to_smiles,
    try_canonical,
    try_mol,
)
from chemloop.chem.tokenizer import SmilesTokenizer, TokenizerError, split_smiles

__all__ = [
    "InvalidSmilesError",
    "SmilesTokenizer",
    "TokenizerError",
    "canonical",
    "randomize",
    "split_smiles",
    "to_mol",
    "to_smiles",
    "try_canonical",
    "try_mol",
]
