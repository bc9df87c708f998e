"""Structure–activity tables of a series: molecules grouped by Bemis–Murcko scaffold (how many, how
many measured, the best value and who holds it), and an R-group decomposition around one core
(RDKit's ``rdRGroupDecomposition``), the two views a medicinal chemist reads a series by."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from rdkit import Chem
from rdkit.Chem import rdRGroupDecomposition

from chemloop.chem.mol import parent_smiles, try_mol
from chemloop.chem.series import murcko_scaffold

MAX_DECOMPOSED = 1000  # molecules one R-group table decomposes (RDKit's matching grows with the set)
_ATTACHMENT = re.compile(r"\[\*:\d+\]")


@dataclass
class ScaffoldGroup:
    """The molecules sharing one Murcko scaffold ('' for acyclic molecules)."""

    scaffold: str
    count: int = 0
    measured: int = 0
    best_value: float | None = None
    best_smiles: str | None = None
    smiles: list[str] = field(default_factory=list)


@dataclass
class RGroupRow:
    smiles: str
    value: float | None
    groups: dict[str, str]  # R label ("R1") -> substituent SMILES, "*" marking where it attaches


@dataclass
class RGroupTable:
    core: str  # the core with its numbered attachment points, as RDKit labelled it
    labels: list[str]
    rows: list[RGroupRow]
    unmatched: int  # molecules that do not contain the core


def _better(value: float, than: float | None, higher_is_better: bool) -> bool:
    return than is None or (value > than if higher_is_better else value < than)


def scaffold_groups(
    molecules: Sequence[tuple[str, float | None]],
    higher_is_better: bool = True,
    tested: Collection[str] = (),
) -> list[ScaffoldGroup]:
    """Group (SMILES, measured value or None) by the Murcko scaffold of each molecule's parent
    compound (a pH-7 ammonium and the neutral amine a seed file holds are one series), most
    populous first (ties: the better best value first, unmeasured groups last). A molecule in
    ``tested`` counts as measured even without a value to rank by (a censored result such as "<5"
    is a result too)."""
    groups: dict[str, ScaffoldGroup] = {}
    for smiles, value in molecules:
        mol = try_mol(smiles)
        scaffold = murcko_scaffold(parent_smiles(mol)) if mol is not None else ""
        group = groups.setdefault(scaffold, ScaffoldGroup(scaffold))
        group.count += 1
        group.smiles.append(smiles)
        if value is not None or smiles in tested:
            group.measured += 1
        if value is None:
            continue
        if _better(value, group.best_value, higher_is_better):
            group.best_value, group.best_smiles = value, smiles
    sign = -1.0 if higher_is_better else 1.0

    def order(g: ScaffoldGroup) -> tuple:
        return (-g.count, g.best_value is None, sign * (g.best_value or 0.0), g.scaffold)

    return sorted(groups.values(), key=order)


def substituent(smiles: str) -> str:
    """An R group as RDKit writes it (``Cl[*:2]``, ``[H][*:1]``) in the short form a table shows
    (``Cl*``, ``H``)."""
    if re.fullmatch(r"\[H\]\[\*:\d+\]|\[\*:\d+\]\[H\]", smiles):
        return "H"
    return _ATTACHMENT.sub("*", smiles)


def rgroup_table(core: str, molecules: Sequence[tuple[str, float | None]]) -> RGroupTable:
    """Decompose the molecules containing ``core`` (a SMILES or SMARTS; hydrogens of the core become
    the attachment points) into the core and its R groups, each row with the molecule's value."""
    core_mol = try_mol(core) or Chem.MolFromSmarts(core)
    if core_mol is None:
        raise ValueError(f"core {core!r} is neither SMILES nor SMARTS")
    parsed = [(s, v, try_mol(s)) for s, v in molecules[:MAX_DECOMPOSED]]
    usable = [(s, v, m) for s, v, m in parsed if m is not None]
    if not usable:
        return RGroupTable(core, [], [], 0)
    found, unmatched = rdRGroupDecomposition.RGroupDecompose(
        [core_mol], [m for _, _, m in usable], asSmiles=True, asRows=True
    )
    skipped = set(unmatched)
    matched = [u for i, u in enumerate(usable) if i not in skipped]
    labels = sorted({k for row in found for k in row if k != "Core"}, key=lambda k: int(k[1:]))
    rows = [
        RGroupRow(s, v, {k: substituent(row[k]) for k in labels if k in row})
        for (s, v, _), row in zip(matched, found, strict=True)
    ]
    labelled_core = found[0]["Core"] if found else core
    return RGroupTable(labelled_core, labels, rows, len(unmatched))
