"""The rounds of prompting, batched: decorate a scaffold point by point, or link two fragments.

Iterative prompting as in PromptSMILES (Thomas et al., J. Cheminform. 2024): the molecule is
spelled so that its SMILES ends at the chosen attachment point, the point is removed, and the model
continues the string from that atom; the next round does the same for the next point. The spellings
here are RDKit's own random spellings that happen to end at the point (about one in five does),
the kind of SMILES a random-spelling prior was trained on. The ``promptsmiles`` package reverses a
spelling rooted at the point instead, which writes ring closures and branches in orders RDKit never
does, and a random-spelling prior continues those far less often into a molecule. Points not yet
decorated wait as hydrogens, so every prompt is a whole molecule; a continuation that is not a
molecule is sampled again.

``continue_fn(prefixes) -> [(string, nll)]`` writes the continuations (the NLL NaN where it wrote
none); ``nll_fn(prefixes) -> floats`` rates spellings (lower is more natural to the model).
:func:`decorate` and :func:`link` return ``(string, NLL of the whole string)`` per row, the NLL
NaN where the model did not write all of it (a linked fragment, a row given up).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rdkit import Chem

from chemloop.model.templates import is_natural_template

Written = tuple[str, float]  # a string and its NLL under the model (NaN: unknown)
ContinueFn = Callable[[list[str]], list[Written]]
FillFn = Callable[[list[str]], list[Written]]  # templates -> strings writing them (NaN: not written)
NllFn = Callable[[list[str]], list[float]]
TRIES = 200  # random spellings tried for one that ends at the point (each is ~0.1 ms)
OPENING_CANDIDATES = 20  # spellings of the starting fragment that are rated by the model
OPENING_KEPT = 5  # the best-rated of them, shared by the rows: some variety, no unlikely spelling

_PARSE = Chem.SmilesParserParams()
_PARSE.removeHs = False  # atom i of the parsed molecule is the i-th atom written, [H] included


@dataclass(frozen=True)
class Spelling:
    """A prompt: SMILES ending at the atom to continue from, attachment points removed; the
    positions (in writing order) of atoms whose points are still open, once per point."""

    text: str
    open_atoms: tuple[int, ...]


def parse(text: str) -> Chem.Mol | None:
    """The molecule of ``text`` with its atoms in writing order, or ``None``."""
    return Chem.MolFromSmiles(text, _PARSE) if text else None


def _points(mol: Chem.Mol) -> list[int]:
    return [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]


def hide_points(mol: Chem.Mol, keep: int) -> tuple[Chem.Mol, list[int]]:
    """``mol`` with every attachment point but ``keep`` made a hydrogen of its atom; and those
    atoms' indices in the result (once per hidden point)."""
    rw = Chem.RWMol(mol)
    hidden = []
    for atom in rw.GetAtoms():
        atom.SetIntProp("_origin", atom.GetIdx())  # survives the removal of hydrogens
        if atom.GetAtomicNum() == 0 and atom.GetIdx() != keep:
            hidden.append(atom.GetNeighbors()[0].GetIdx())
            atom.SetAtomicNum(1)
    shown = Chem.RemoveHs(rw.GetMol())  # the hydrogens' stereo and H counts go onto their atoms
    where = {a.GetIntProp("_origin"): a.GetIdx() for a in shown.GetAtoms()}
    return shown, [where[a] for a in hidden]


def ending_at(mol: Chem.Mol, point: int, rng: random.Random, tries: int = TRIES) -> Spelling | None:
    """A random spelling of ``mol`` that ends at the attachment point ``point`` (an atom index),
    or ``None`` if ``tries`` spellings found none."""
    try:
        shown, hidden = hide_points(mol, point)
    except Exception:  # RDKit cannot sanitize it with hydrogens for the other points
        return None
    for _ in range(tries):
        text = Chem.MolToRandomSmilesVect(shown, 1, randomSeed=rng.randrange(2**31))[0]
        if text.endswith("*"):  # the point is the last atom written, so its neighbour comes before
            order = shown.GetPropsAsDict(True, True)["_smilesAtomOutputOrder"]
            position = {atom: i for i, atom in enumerate(order)}
            return Spelling(text[:-1], tuple(sorted(position[a] for a in hidden)))
    return None


def best_spellings(
    mol: Chem.Mol, point: int, rng: random.Random, nll_fn: NllFn, kept: int = OPENING_KEPT
) -> list[Spelling]:
    """The spellings ending at ``point`` that the model rates most likely (at most ``kept``)."""
    found = {s.text: s for _ in range(OPENING_CANDIDATES) if (s := ending_at(mol, point, rng)) is not None}
    spellings = sorted(found.values(), key=lambda s: s.text)
    rated = sorted(zip(nll_fn([s.text for s in spellings]), spellings, strict=True), key=lambda x: x[0])
    return [s for _, s in rated[:kept]]


def reopen(text: str, open_atoms: Sequence[int]) -> Chem.Mol | None:
    """The molecule of ``text`` with attachment points again on the atoms at ``open_atoms``;
    ``None`` if ``text`` is not a molecule or such an atom has no hydrogen left for its point."""
    mol = parse(text)
    if mol is None:
        return None
    counts = Counter(open_atoms)
    if counts:
        rw = Chem.RWMol(Chem.AddHs(mol, onlyOnAtoms=tuple(counts)))
        for index, count in counts.items():
            hydrogens = [n for n in rw.GetAtomWithIdx(index).GetNeighbors() if n.GetAtomicNum() == 1]
            if len(hydrogens) < count:
                return None
            for hydrogen in hydrogens[:count]:
                hydrogen.SetAtomicNum(0)  # in the hydrogen's place: its stereo is kept
        mol = rw.GetMol()
    try:
        return Chem.RemoveHs(mol)
    except Exception:  # RDKit raises several kinds for a molecule it cannot sanitize
        return None


def _sample_until_valid(
    prompts: list[str], check: Callable[[int, str], Chem.Mol | None], continue_fn: ContinueFn, attempts: int
) -> list[tuple[Written, Chem.Mol | None]]:
    """Continue each prompt; rows whose result ``check`` refuses are sampled again, up to
    ``attempts`` times in all. Returns each row's last string and what ``check`` made of it."""
    results: list[tuple[Written, Chem.Mol | None]] = [(("", math.nan), None)] * len(prompts)
    pending = list(range(len(prompts)))
    for _ in range(attempts):
        if not pending:
            break
        outputs = continue_fn([prompts[i] for i in pending])
        for i, out in zip(pending, outputs, strict=True):
            continued = not math.isnan(out[1])  # NaN: the model could not take that prompt
            results[i] = (out, check(i, out[0]) if continued else None)
        pending = [i for i in pending if results[i][1] is None]
    return results


def _parses(_: int, out: str) -> Chem.Mol | None:
    return parse(out)


def _reopens(
    spellings: list[Spelling], writable: Callable[[str], bool]
) -> Callable[[int, str], Chem.Mol | None]:
    """A continuation is usable if it is a molecule and, while points stay open, the model can
    write it (RDKit may spell the model's output with a token the vocabulary lacks, e.g. [SH])."""

    def check(i: int, out: str) -> Chem.Mol | None:
        mol = reopen(out, spellings[i].open_atoms)
        if mol is None or not spellings[i].open_atoms:
            return mol
        try:
            return mol if writable(Chem.MolToSmiles(hide_points(mol, keep=-1)[0])) else None
        except Exception:  # RDKit cannot sanitize it with hydrogens for the points
            return None

    return check


def natural_template(mol: Chem.Mol, rng: random.Random, writable: Callable[[str], bool]) -> str | None:
    """A random spelling of ``mol`` that is a natural template (:func:`is_natural_template`: each
    point a branch's or the string's end, no ring open there) the model can write, or ``None`` if
    :data:`TRIES` spellings held none (one in three to eight is one, on the benchmark's scaffolds)."""
    for _ in range(TRIES // 20):
        for text in Chem.MolToRandomSmilesVect(mol, 20, randomSeed=rng.randrange(2**31)):
            if is_natural_template(text) and writable(text.replace("*", "C")):
                return text
    return None


def decorate(
    scaffold: str,
    num: int,
    continue_fn: ContinueFn,
    nll_fn: NllFn,
    rng: random.Random,
    *,
    attempts: int = 3,
    writable: Callable[[str], bool] = lambda _: True,
    openings: int = OPENING_KEPT,
    fill_fn: FillFn | None = None,
) -> list[Written]:
    """``num`` strings, each ``scaffold`` (SMILES with ``*`` points) decorated at every point in a
    random order; a row whose continuation is still no molecule (or, with points left, not one
    ``writable`` accepts) after ``attempts`` samples ends with that string. The first point's
    prompt is one of the ``openings`` spellings the model rates most likely.

    With ``fill_fn``, a row with two or more points left after the first writes them all in one
    pass over a natural template of its molecule (:mod:`chemloop.model.templates`), instead of
    re-reading the molecule for each: the first point is decorated by a prompt (drawn without
    replacement when the caller asks for distinct molecules), the rest together."""
    start = Chem.MolFromSmiles(scaffold)
    opening = {p: best_spellings(start, p, rng, nll_fn, openings) for p in _points(start)}
    mols = [start] * num
    results: list[Written | None] = [None] * num
    first = True
    while active := [i for i in range(num) if results[i] is None]:
        rows, spellings, templated, templates = [], [], [], []
        for i in active:
            if not first and fill_fn is not None and len(_points(mols[i])) > 1:
                template = natural_template(mols[i], rng, writable)
                if template is not None:
                    templated.append(i)
                    templates.append(template)
                    continue
            point = rng.choice(_points(mols[i]))
            if first:
                spelling = rng.choice(opening[point]) if opening[point] else None
            else:
                spelling = ending_at(mols[i], point, rng)
            if spelling is None:  # no spelling ends there: give the row up, undecorated
                bare = Chem.DeleteSubstructs(mols[i], Chem.MolFromSmarts("[#0]"))
                results[i] = (Chem.MolToSmiles(bare), math.nan)
                continue
            rows.append(i)
            spellings.append(spelling)
        first = False
        for i, (out, _) in zip(
            templated, _sample_until_valid(templates, _parses, fill_fn, attempts), strict=True
        ):
            results[i] = out
        outcomes = _sample_until_valid(
            [s.text for s in spellings], _reopens(spellings, writable), continue_fn, attempts
        )
        for i, spelling, (out, mol) in zip(rows, spellings, outcomes, strict=True):
            if mol is None or not spelling.open_atoms:
                results[i] = out
            else:
                mols[i] = mol
    return [r or ("", math.nan) for r in results]


def starting_at(mol: Chem.Mol) -> str:
    """A spelling of a fragment with one attachment point that starts at the point's atom."""
    text = Chem.MolToSmiles(mol, rootedAtAtom=_points(mol)[0])
    return text[1:]  # '*c1ccccc1' -> 'c1ccccc1'


def bond_to_last(text: str, fragment: Chem.Mol, first_new: int = 0) -> Chem.Mol | None:
    """The molecule of ``text`` with ``fragment`` (one attachment point) bonded to the last atom
    written that has a hydrogen to give up (the last one may have none, such as a carbonyl O),
    among the atoms from ``first_new`` on."""
    mol = parse(text)
    if mol is None:
        return None
    mol = Chem.RemoveHs(mol)  # atom order is kept; explicit [H] atoms become counts
    free = [a.GetIdx() for a in mol.GetAtoms() if a.GetIdx() >= first_new and a.GetTotalNumHs() > 0]
    if not free:
        return None
    last = mol.GetAtomWithIdx(max(free))
    if last.GetNumExplicitHs() > 0:  # bracket atoms carry their hydrogens explicitly
        last.SetNumExplicitHs(last.GetNumExplicitHs() - 1)
    point = _points(fragment)[0]
    anchor = fragment.GetAtomWithIdx(point).GetNeighbors()[0].GetIdx()
    rw = Chem.RWMol(Chem.CombineMols(mol, fragment))
    offset = mol.GetNumAtoms()
    rw.AddBond(last.GetIdx(), offset + anchor, Chem.BondType.SINGLE)
    rw.RemoveAtom(offset + point)
    try:
        Chem.SanitizeMol(rw)
    except Exception:  # RDKit raises several kinds for a molecule it cannot sanitize
        return None
    return rw.GetMol()


def link(
    fragments: Sequence[str],
    num: int,
    continue_fn: ContinueFn,
    nll_fn: NllFn,
    rng: random.Random,
    *,
    attempts: int = 3,
    openings: int = OPENING_KEPT,
) -> list[Written]:
    """``num`` strings joining two fragments (SMILES with one ``*`` each): the model continues one
    fragment until it ends the molecule, and the other is written after its string (bonded to the
    atom the string ends on) or, if that atom has no hydrogen left, bonded to the last atom the
    model wrote that has one. Which fragment comes first is random per row; it is spelled as one
    of the ``openings`` spellings the model rates most likely."""
    mols = [Chem.MolFromSmiles(f) for f in fragments]
    ends = [best_spellings(m, _points(m)[0], rng, nll_fn, openings) for m in mols]
    if not any(ends):
        raise ValueError(f"no spelling of {' or '.join(fragments)} ends at its attachment point")
    starts = [starting_at(m) for m in mols]
    order = [rng.randrange(2) if ends[0] and ends[1] else int(not ends[0]) for _ in range(num)]
    joined: list[str] = [""] * num

    def check(i: int, out: str) -> Chem.Mol | None:
        second = 1 - order[i]
        mol = parse(out + starts[second])  # the model's own text, when its last atom can bond
        if mol is not None:
            joined[i] = out + starts[second]
            return mol
        mol = bond_to_last(out, mols[second], first_new=mols[order[i]].GetNumAtoms() - 1)
        joined[i] = Chem.MolToSmiles(mol) if mol is not None else out + starts[second]
        return mol

    prompts = [rng.choice(ends[first]).text for first in order]
    _sample_until_valid(prompts, check, continue_fn, attempts)
    return [(text, math.nan) for text in joined]
