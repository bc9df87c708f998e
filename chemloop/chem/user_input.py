"""Molecules and numbers that come from people: typed, uploaded or sent to the API.

A SMILES cell holds one molecule and nothing else. RDKit reads text after whitespace as the
molecule's name (``CC(=O)O c1ccccc1`` parses as acetic acid), crashes on some strings of tens of
thousands of characters, and spends minutes on descriptors of molecules with thousands of atoms;
so user text is checked here, before RDKit sees it, and each refusal says why.
"""

from __future__ import annotations

import math

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import try_parse_canonical

MAX_SMILES_LENGTH = 500  # characters; the longest ZINC-250k SMILES has 109
MAX_HEAVY_ATOMS = 150  # a generous bound for small molecules and short peptides
MAX_ABS_VALUE = 1e6  # assay values (pIC50, % inhibition, nM) are far inside this
WITHHELD_PROBLEM = "is withheld by the dual-use guard (a chemical-warfare agent class; docs/guard.md)"


def smiles_text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a SMILES cell (empty, too long, whitespace, non-ASCII), or ``None``."""
    if not text:
        return "is empty"
    if len(text) > MAX_SMILES_LENGTH:
        return f"is {len(text):,} characters long; the limit is {MAX_SMILES_LENGTH}"
    if not text.isascii():
        return f"holds the non-ASCII character {next(c for c in text if not c.isascii())!r}"
    if any(c.isspace() for c in text):
        return "holds whitespace; a SMILES cell holds one molecule and nothing else (no names)"
    return None


def user_smiles_problem(text: str) -> tuple[str | None, str | None]:
    """``(canonical, None)`` for an acceptable SMILES, else ``(None, why)``."""
    problem = smiles_text_problem(text)
    if problem is not None:
        return None, problem
    parsed = try_parse_canonical(text)
    if parsed is None:
        return None, "is not a valid SMILES"
    mol, canonical = parsed
    if is_withheld(mol):
        return None, WITHHELD_PROBLEM
    if mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        return None, f"has {mol.GetNumHeavyAtoms()} heavy atoms; the limit is {MAX_HEAVY_ATOMS}"
    return canonical, None


def value_problem(value: float) -> str | None:
    """Why a measured value cannot be stored (not finite, absurd magnitude), or ``None``."""
    if not math.isfinite(value):
        return "is not a finite number"
    if abs(value) > MAX_ABS_VALUE:
        return f"is outside ±{MAX_ABS_VALUE:g}; use the assay's usual unit (e.g. pIC50 or nM)"
    return None
