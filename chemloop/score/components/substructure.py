"""Substructure matches (SMARTS) and structural-alert filters (PAINS, Brenk)."""

from collections.abc import Sequence

from rdkit import Chem

from chemloop.chem.alerts import alert_catalog
from chemloop.errors import ChemloopError
from chemloop.score.registry import component


def _pattern(smarts: str) -> Chem.Mol:
    pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise ChemloopError(f"invalid SMARTS pattern: {smarts!r}")
    return pattern


@component("substructure")
def substructure(mols: list[Chem.Mol], smarts: str | Sequence[str], mode: str = "required") -> list[float]:
    """1 if a molecule matches any SMARTS (``required``) or none of them (``forbidden``), else 0."""
    if mode not in ("required", "forbidden"):
        raise ChemloopError(f"substructure: mode must be 'required' or 'forbidden', not {mode!r}")
    patterns = [_pattern(s) for s in ([smarts] if isinstance(smarts, str) else smarts)]
    hits = [any(m.HasSubstructMatch(p) for p in patterns) for m in mols]
    return [float(h if mode == "required" else not h) for h in hits]


@component("alerts")
def alerts(mols: list[Chem.Mol], catalogs: Sequence[str] = ("PAINS", "BRENK")) -> list[float]:
    """1 if a molecule raises no structural alert from the catalogs, 0 if it raises any."""
    catalog = alert_catalog(catalogs)
    return [0.0 if catalog.HasMatch(m) else 1.0 for m in mols]
