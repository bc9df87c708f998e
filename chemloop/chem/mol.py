"""Molecules as data: parse and canonicalize SMILES with RDKit.

Every function that takes a molecule accepts either an RDKit ``Mol`` or a SMILES string.
Parsing failures raise :class:`InvalidSmilesError` naming the input, so a ``None`` from
RDKit never travels further than this module. Use :func:`try_mol` where failure is
an expected outcome (e.g. scoring generated strings).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

from chemloop.errors import ChemloopError

# RDKit prints parse errors to stderr for every bad string; we raise our own errors instead.
RDLogger.DisableLog("rdApp.*")

MolLike = Chem.Mol | str


class InvalidSmilesError(ChemloopError, ValueError):
    """A string that RDKit cannot turn into a valid molecule."""

    def __init__(self, smiles: str, where: str = "", reason: str = "") -> None:
        self.smiles = smiles
        location = f" ({where})" if where else ""
        because = f" {reason}" if reason else ""
        super().__init__(f"invalid SMILES{location}: {smiles!r}{because}")


def try_mol(smiles: str) -> Chem.Mol | None:
    """Parse a SMILES string; return ``None`` if it is empty or not a valid molecule."""
    if not smiles or not isinstance(smiles, str):
        return None
    return Chem.MolFromSmiles(smiles)


def to_mol(mol: MolLike, where: str = "") -> Chem.Mol:
    """Return an RDKit molecule; raise :class:`InvalidSmilesError` if ``mol`` does not parse.

    ``where`` is added to the error message (for example ``"line 12 of train.smi"``).
    """
    if isinstance(mol, Chem.Mol):
        return mol
    parsed = try_mol(mol)
    if parsed is None:
        raise InvalidSmilesError(str(mol), where)
    return parsed


def to_smiles(mol: MolLike, *, isomeric: bool = True) -> str:
    """Write a canonical SMILES string."""
    return Chem.MolToSmiles(to_mol(mol), isomericSmiles=isomeric)


def canonical(smiles: MolLike, where: str = "") -> str:
    """The RDKit canonical SMILES of a molecule; raise if it does not parse."""
    return Chem.MolToSmiles(to_mol(smiles, where))


def try_parse_canonical(smiles: str) -> tuple[Chem.Mol, str] | None:
    """The molecule and its canonical SMILES, or ``None`` for a string that is not a valid molecule.

    RDKit now and then writes a canonical SMILES it cannot read back (a kekulization edge case,
    e.g. ``O=S1NS(=O)(=O)Cc2sccc2=C1c1cccs1`` from a generated string); such a molecule counts
    as invalid, since every later step (the score cache, replay spellings, the campaign
    database) starts from the canonical string.
    """
    mol = try_mol(smiles)
    if mol is None:
        return None
    text = Chem.MolToSmiles(mol)
    return (mol, text) if try_mol(text) is not None else None


def try_canonical(smiles: str) -> str | None:
    """The canonical SMILES, or ``None`` for a string that is not a valid molecule
    (see :func:`try_parse_canonical`)."""
    parsed = try_parse_canonical(smiles)
    return None if parsed is None else parsed[1]


def neutral_form(mol: Chem.Mol) -> Chem.Mol:
    """A copy of ``mol`` with the charges that protonation makes undone (RDKit's ``Uncharger``):
    carboxylates, phenolates and ammoniums written neutral; a nitro group, a quaternary nitrogen and
    the counter-charge that balances it stay."""
    if not any(atom.GetFormalCharge() for atom in mol.GetAtoms()):
        return Chem.Mol(mol)  # nothing to undo: skip the Uncharger (~1 ms a molecule)
    return rdMolStandardize.Uncharger().uncharge(Chem.Mol(mol))


def parent_smiles(mol: MolLike) -> str:
    """The canonical SMILES of the parent compound: the largest fragment (a salt's counter-ion and
    solvents dropped), neutralized by :func:`neutral_form`. Registration systems file a compound
    under it whatever salt or protonation state it was written in."""
    if isinstance(mol, str):  # campaigns ask for the same candidates' parents several times
        return _parent_of_smiles(mol)
    return _parent(to_mol(mol))


@lru_cache(maxsize=65536)
def _parent_of_smiles(smiles: str) -> str:
    return _parent(to_mol(smiles))


def _parent(mol: Chem.Mol) -> str:
    if len(Chem.GetMolFrags(mol)) > 1:
        mol = rdMolStandardize.LargestFragmentChooser().choose(mol)
    return Chem.MolToSmiles(neutral_form(mol))


def new_compounds(smiles: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """``smiles`` (valid SMILES, in order) whose parent compound is not that of one of ``known``
    (invalid ones ignored), each parent once in its first form: a salt or another charge state of
    a compound already made, chosen or listed is not a new compound."""
    seen = {parent_smiles(s) for s in known if try_mol(s) is not None}
    new = []
    for s in smiles:
        parent = parent_smiles(s)
        if parent not in seen:
            seen.add(parent)
            new.append(s)
    return new


def random_spelling(smiles: MolLike, seed: int) -> str:
    """The random SMILES spelling (stereo and charges kept) that ``seed`` (≥ 1) picks.

    RDKit's ``MolToSmiles(doRandom=True)`` draws from a generator no seed fixes, and
    ``MolToRandomSmilesVect`` draws afresh for seed 0: the seed must be nonzero."""
    return Chem.MolToRandomSmilesVect(to_mol(smiles), 1, randomSeed=seed)[0]


def randomize(smiles: MolLike, rng: random.Random | np.random.Generator) -> str:
    """A random spelling drawn with ``rng``: the same generator state gives the same spelling, so
    training on random spellings (pretraining, fine-tuning, replay) is reproducible from its seed."""
    seed = rng.integers(1, 2**31 - 1) if isinstance(rng, np.random.Generator) else rng.randrange(1, 2**31 - 1)
    return random_spelling(smiles, int(seed))


def molecule_key(canonical_smiles: str) -> str:
    """A short stable id of a canonical SMILES (16 hex digits of its SHA-256): a molecule's URL in
    the web app and the name of its docked-pose files."""
    return hashlib.sha256(canonical_smiles.encode()).hexdigest()[:16]
