"""Prompts for a SMILES language model: a scaffold to decorate, or fragments to link.

A prompt is SMILES with attachment points written as ``*`` (``[*]``, ``[*:1]`` and ``[1*]`` are
read as the same):

- decoration: one connected scaffold with one or more attachment points, e.g.
  ``O=C1CN=C(c2ccccc2)c2cc(*)ccc2N1*``; a single point is fragment growing;
- linking: two fragments separated by ``.``, each with one attachment point, e.g.
  ``*c1ccc(F)cc1.*N1CCC(O)(c2ccc(Cl)cc2)CC1``.

:func:`parse_prompt` checks a prompt before any sampling and names what is wrong;
:class:`PromptQuery` says whether a molecule contains the prompt: a substructure match in which
each attachment point is any atom, and for linking the two fragments' own atoms are distinct.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

from rdkit import Chem

from chemloop.chem.mol import try_mol
from chemloop.chem.user_input import MAX_HEAVY_ATOMS, smiles_text_problem
from chemloop.errors import ChemloopError

PromptKind = Literal["decorate", "link"]
PROMPT_KINDS: tuple[PromptKind, ...] = ("decorate", "link")
MAX_ATTACHMENT_POINTS = 6  # each point is one sampling round; more is a different task (enumeration)
_MAX_MATCHES = 1000  # substructure matches tried per fragment (symmetric fragments have several)


class PromptError(ChemloopError, ValueError):
    """A prompt that cannot be sampled from: the message names the prompt and the problem."""


@dataclass(frozen=True)
class Prompt:
    """A checked prompt: what was given, its kind, and its fragments as RDKit writes them with
    plain ``*`` attachment points (one fragment for decoration, two for linking)."""

    text: str
    kind: PromptKind
    fragments: tuple[str, ...]

    @property
    def smiles(self) -> str:
        """The prompt as one SMILES (fragments joined by ``.``)."""
        return ".".join(self.fragments)

    @property
    def attachment_points(self) -> int:
        return sum(_attachment_count(f) for f in self.fragments)


def _attachment_count(smiles: str) -> int:
    mol = Chem.MolFromSmiles(smiles)
    return sum(atom.GetAtomicNum() == 0 for atom in mol.GetAtoms())


def _fail(text: str, kind: PromptKind, why: str) -> PromptError:
    noun = "scaffold" if kind == "decorate" else "link prompt"
    return PromptError(f"{noun} {text!r} {why}")


def _plain_attachments(mol: Chem.Mol, text: str, kind: PromptKind) -> Chem.Mol:
    """Check every attachment point (one neighbour, a single bond) and drop labels such as
    ``[*:1]`` so that RDKit writes each as ``*``."""
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() != 0:
            continue
        bonds = atom.GetBonds()
        if len(bonds) != 1:
            raise _fail(text, kind, f"has an attachment point '*' bonded to {len(bonds)} atoms; it needs one")
        if bonds[0].GetBondType() != Chem.BondType.SINGLE:
            raise _fail(text, kind, "has an attachment point '*' on a bond that is not single")
        if bonds[0].GetOtherAtom(atom).GetAtomicNum() == 0:
            raise _fail(text, kind, "has two attachment points '*' bonded to each other")
        if atom.GetFormalCharge() or atom.GetNumRadicalElectrons():
            raise _fail(text, kind, "has a charged attachment point; write it as a plain '*'")
        atom.SetAtomMapNum(0)
        atom.SetIsotope(0)
        atom.SetNumExplicitHs(0)
    return mol


def parse_prompt(text: str, kind: PromptKind) -> Prompt:
    """Check ``text`` as a prompt of ``kind`` (``decorate`` or ``link``); raise :class:`PromptError`
    naming the problem: not SMILES, no attachment point, a fragment count or attachment points
    that do not fit the kind."""
    if kind not in PROMPT_KINDS:
        raise PromptError(f"unknown prompt kind {kind!r}; choose one of {', '.join(PROMPT_KINDS)}")
    problem = smiles_text_problem(text)
    if problem is not None:
        raise _fail(text, kind, problem)
    mol = try_mol(text)
    if mol is None:
        raise _fail(text, kind, "is not a valid SMILES (attachment points are written '*')")
    if mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        raise _fail(text, kind, f"has {mol.GetNumHeavyAtoms()} heavy atoms; the limit is {MAX_HEAVY_ATOMS}")
    points = sum(atom.GetAtomicNum() == 0 for atom in mol.GetAtoms())
    if points == 0:
        raise _fail(text, kind, "has no attachment point: mark where to grow with '*', e.g. c1ccccc1*")
    mol = _plain_attachments(Chem.RWMol(mol), text, kind)
    pieces = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    fragments = tuple(Chem.MolToSmiles(piece) for piece in pieces)
    if any(Chem.MolFromSmiles(f) is None for f in fragments):  # RDKit's rare unreadable SMILES
        raise _fail(text, kind, "is a molecule RDKit cannot write back as SMILES")
    if kind == "decorate":
        if len(fragments) != 1:
            raise _fail(
                text,
                kind,
                f"has {len(fragments)} fragments; a scaffold is one (link fragments with a link prompt)",
            )
        if points > MAX_ATTACHMENT_POINTS:
            raise _fail(text, kind, f"has {points} attachment points; at most {MAX_ATTACHMENT_POINTS}")
    else:
        if len(fragments) != 2:
            raise _fail(text, kind, f"has {len(fragments)} fragment(s); link two, written FRAG1*.*FRAG2")
        for fragment in fragments:
            if _attachment_count(fragment) != 1:
                count = _attachment_count(fragment)
                raise _fail(
                    text,
                    kind,
                    f"has the fragment {fragment!r} with {count} attachment points; each needs one",
                )
    return Prompt(text=text, kind=kind, fragments=fragments)


class PromptQuery:
    """Whether molecules contain a prompt: each fragment as a substructure with its attachment
    points matching any atom; linked fragments must match on distinct atoms of their own."""

    def __init__(self, prompt: Prompt) -> None:
        params = Chem.AdjustQueryParameters.NoAdjustments()
        params.makeDummiesQueries = True  # '*' matches any atom, never an implicit hydrogen
        self._queries = [Chem.AdjustQueryProperties(Chem.MolFromSmiles(f), params) for f in prompt.fragments]
        self._own = [
            [i for i, atom in enumerate(query.GetAtoms()) if atom.GetAtomicNum() != 0]
            for query in self._queries
        ]

    def __call__(self, mol: Chem.Mol | None) -> bool:
        if mol is None:
            return False
        if len(self._queries) == 1:
            return mol.HasSubstructMatch(self._queries[0])
        matches = []
        for query, own in zip(self._queries, self._own, strict=True):
            found = mol.GetSubstructMatches(query, uniquify=False, maxMatches=_MAX_MATCHES)
            if not found:
                return False
            matches.append({frozenset(match[i] for i in own) for match in found})
        # An attachment point may be an atom of the other fragment (a direct bond, no linker
        # atom), but the fragments' own atoms may not overlap.
        return any(
            all(a.isdisjoint(b) for a, b in itertools.combinations(combo, 2))
            for combo in itertools.product(*matches)
        )
