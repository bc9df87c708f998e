"""2D drawings of molecules: a layout that keeps atoms apart (bridged rings included) and SVG text
with labels a chemist can read at grid size.

CoordGen (Schrödinger's layout, which draws macrocycles and most ring systems the way chemists
draw them) goes first. Where its drawing has crossing bonds or atoms on top of each other (it puts
camphor's bridge methyls onto a ring atom), RDKit's layout with its ring templates and RDKit's
own layout are tried too and the cleanest of the three is kept.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdCoordGen, rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D

MIN_FONT = 13  # pixels: heteroatom labels stay legible when a large molecule is drawn small
MAX_FONT = 22


def closest_contact(mol: Chem.Mol) -> float:
    """The smallest distance between two atoms that share no bond, in bond lengths (the median bond
    of the drawing); a drawing with a value far below 1 has atoms drawn on top of each other."""
    if mol.GetNumAtoms() < 3 or mol.GetNumBonds() == 0:
        return float("inf")
    xy = mol.GetConformer().GetPositions()[:, :2]
    bonded = np.eye(len(xy), dtype=bool)
    lengths = []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonded[i, j] = bonded[j, i] = True
        lengths.append(np.linalg.norm(xy[i] - xy[j]))
    distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
    distances[bonded] = np.inf
    scale = float(np.median(lengths)) or 1.0
    return float(distances.min()) / scale


def bond_crossings(mol: Chem.Mol) -> int:
    """How many pairs of bonds that share no atom cross each other in the drawing."""
    bonds = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()], dtype=int)
    if len(bonds) < 2:
        return 0
    xy = mol.GetConformer().GetPositions()[:, :2]
    i, j = np.triu_indices(len(bonds), k=1)
    a, b, c, d = (xy[bonds[i, 0]], xy[bonds[i, 1]], xy[bonds[j, 0]], xy[bonds[j, 1]])

    def side(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:  # sign of the turn p -> q -> r
        return np.sign((q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0]))

    apart = (bonds[i, :, None] != bonds[j, None, :]).all(axis=(1, 2))
    crossing = (side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)
    return int((crossing & apart).sum())


CLEAR = 0.5  # a closest contact of half a bond or more, without crossings, draws cleanly


def layout(mol: Chem.Mol) -> Chem.Mol:
    """A copy of ``mol`` with 2D coordinates: CoordGen's when it draws cleanly (no crossing bonds,
    no atoms within half a bond of each other), else the cleanest of CoordGen's, RDKit's with its
    ring templates (textbook drawings of norbornanes, camphor, adamantane) and RDKit's own."""
    coordgen = Chem.Mol(mol)
    rdCoordGen.AddCoords(coordgen)
    if bond_crossings(coordgen) == 0 and closest_contact(coordgen) >= CLEAR:
        return coordgen
    templated, own = Chem.Mol(mol), Chem.Mol(mol)
    rdDepictor.Compute2DCoords(templated, useRingTemplates=True)
    rdDepictor.Compute2DCoords(own)
    # Fewest crossings first, then atoms furthest apart; min() keeps the first on a tie (CoordGen).
    return min((coordgen, templated, own), key=lambda m: (bond_crossings(m), -round(closest_contact(m), 2)))


def svg(mol: Chem.Mol, width: int, height: int, legend: str = "") -> str:
    """An SVG drawing of ``mol`` (transparent background) with fonts clamped to a legible size."""
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    options = drawer.drawOptions()
    options.clearBackground = False
    options.minFontSize = MIN_FONT
    options.maxFontSize = MAX_FONT
    options.bondLineWidth = 1.5
    options.padding = 0.06
    options.legendFontSize = MIN_FONT
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, layout(mol), legend=legend)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()
