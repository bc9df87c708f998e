"""The dual-use guard: chemotypes of chemical-warfare agents are withheld from every output.

Generative models steered by a flipped toxicity objective rediscover nerve agents within hours
(Urbina et al., Nat. Mach. Intell. 2022). chemloop therefore withholds, always and without a
switch, molecules of the classes listed in Schedule 1 of the Chemical Weapons Convention
(Annex on Chemicals, as amended in 2020) and their close analogues. Each class is one SMARTS,
written from the Schedule's generic definition and deliberately wider than it (any alkyl, any
halide, P=O or P=S), since the guard must catch analogues that the treaty's wording does not
name. A withheld molecule is counted ("withheld: N") and never shown, stored or returned.

Out of scope, by decision: aryl and phosphoramide nitrogen mustards (chlorambucil, melphalan,
bendamustine, cyclophosphamide: approved medicines that are not scheduled), toxins
(saxitoxin, ricin) and Schedule 2/3 industrial chemicals. docs/guard.md states the policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from rdkit import Chem

from chemloop.chem.mol import MolLike, try_mol


@dataclass(frozen=True)
class GuardedClass:
    """One withheld chemotype: its name, the Schedule 1 entry it covers, and its SMARTS."""

    name: str
    schedule: str
    smarts: str


GUARDED_CLASSES: tuple[GuardedClass, ...] = (
    # 1A(1), 1A(13)-(15) and 1B(9): sarin, soman, cyclosarin, the A-series, DF. Any uncharged P
    # bonded to F (hexafluorophosphate, a common counter-ion, carries a charge and is not matched).
    GuardedClass(
        "phosphorus fluorides (G- and A-series nerve agents)", "1A(1), 1A(13)-(15), 1B(9)", "[P;+0]F"
    ),
    # 1A(2): tabun and its analogues, any P bonded to a cyano group.
    GuardedClass("phosphorus cyanides (tabun class)", "1A(2)", "[P;+0]C#N"),
    # 1A(3) and 2A(1): VX, VR, amiton; P(=O/S)-S-CH2CH2-N (amine or ammonium).
    GuardedClass(
        "S-2-aminoethyl phosphorus thiolates (V-series)", "1A(3), 2A(1)", "P(=[O,S])S[CH2][CH2][#7]"
    ),
    # 1B(10): QL, O-2-aminoethyl alkylphosphonites, the V-series' binary precursors.
    GuardedClass(
        "O-2-aminoethyl alkylphosphonites (V-series precursors)", "1B(10)", "[PX3]([#6])(O)O[CH2][CH2][NX3]"
    ),
    # 1B(11), 1B(12) and 2B(4) dihalides: chlorosarin, chlorosoman; P=O/S bonded to an alkyl
    # carbon and to Cl or Br.
    GuardedClass("alkylphosphonic halides (G-series precursors)", "1B(11)-(12)", "P(=[O,S])([CX4])[Cl,Br,I]"),
    # 1A(4): sulfur mustard, sesquimustard, O-mustard and half-mustards: a 2-haloethyl sulfide.
    GuardedClass("2-haloethyl sulfides (sulfur mustards)", "1A(4)", "[SX2][CH2][CH2][Cl,Br,I]"),
    # 1A(6): HN1, HN2, HN3: bis(2-haloethyl)amines on an alkyl nitrogen (not aryl, not acyl or
    # phosphoryl, where the nitrogen's lone pair is taken and the drug mustards lie).
    GuardedClass(
        "aliphatic bis(2-haloethyl)amines (nitrogen mustards)",
        "1A(6)",
        "[NX3;!$(N[a]);!$(N[C,S,P]=[O,S,N])]([CH2][CH2][Cl,Br,I])[CH2][CH2][Cl,Br,I]",
    ),
    # 1A(5): lewisites 1-3; any arsenic halide, and any 2-chlorovinyl arsine.
    GuardedClass("arsenic halides and chlorovinylarsines (lewisites)", "1A(5)", "[As]-[F,Cl,Br,I]"),
    GuardedClass("2-chlorovinylarsines (lewisites)", "1A(5)", "[As]C=C[Cl,Br]"),
)


@cache
def _patterns() -> tuple[tuple[GuardedClass, Chem.Mol], ...]:
    compiled = []
    for guarded in GUARDED_CLASSES:
        pattern = Chem.MolFromSmarts(guarded.smarts)
        if pattern is None:  # a typo here would silently let a class through
            raise RuntimeError(f"dual-use guard: SMARTS of {guarded.name!r} does not parse")
        compiled.append((guarded, pattern))
    return tuple(compiled)


def guarded_class(molecule: MolLike | None) -> GuardedClass | None:
    """The withheld class ``molecule`` falls in, or None; unparsable strings are not withheld
    (they are not molecules and are reported as invalid elsewhere)."""
    mol = try_mol(molecule) if isinstance(molecule, str) else molecule
    if mol is None:
        return None
    for guarded, pattern in _patterns():
        if mol.HasSubstructMatch(pattern):
            return guarded
    return None


def is_withheld(molecule: MolLike | None) -> bool:
    """Whether the guard withholds ``molecule`` (a SMILES string or an RDKit molecule)."""
    return guarded_class(molecule) is not None


def withhold(smiles: Iterable[str]) -> tuple[list[str], int]:
    """``smiles`` without the withheld molecules (order kept), and how many were withheld."""
    kept, withheld = [], 0
    for s in smiles:
        if is_withheld(s):
            withheld += 1
        else:
            kept.append(s)
    return kept, withheld
