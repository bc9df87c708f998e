"""Structural alerts (PAINS, Brenk) from RDKit's filter catalogues.

A catalogue takes a while to build, so each set of catalogue names is built once. Names may come
from a request (the ``alerts`` scoring component's ``catalogs``), so they are checked against
:data:`ALERT_CATALOGS` before anything is cached: the cache holds at most one entry per subset.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from chemloop.errors import ChemloopError

ALERT_CATALOGS: tuple[str, ...] = ("PAINS", "BRENK")


def catalog_names(names: Iterable[Any]) -> tuple[str, ...]:
    """``names`` (any case) checked against :data:`ALERT_CATALOGS`, upper-cased, without repeats, sorted."""
    chosen = set()
    for name in names:
        key = name.upper() if isinstance(name, str) else None
        if key not in ALERT_CATALOGS:
            raise ChemloopError(f"unknown alert catalog {name!r}; choose from {', '.join(ALERT_CATALOGS)}")
        chosen.add(key)
    return tuple(sorted(chosen))


@lru_cache(maxsize=2 ** len(ALERT_CATALOGS))  # every subset of the known catalogues, no more
def _build(names: tuple[str, ...]) -> FilterCatalog:
    params = FilterCatalogParams()
    for name in names:
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog(params)


def alert_catalog(names: Iterable[Any] = ALERT_CATALOGS) -> FilterCatalog:
    """One filter catalogue holding the alerts of the named catalogues (built once per set)."""
    return _build(catalog_names(names))


def structural_alerts(mol: Chem.Mol) -> list[dict[str, str]]:
    """Every PAINS and Brenk alert the molecule matches: ``{"catalog", "description"}``."""
    return [
        {"catalog": name, "description": entry.GetDescription()}
        for name in ALERT_CATALOGS
        for entry in alert_catalog([name]).GetMatches(mol)
    ]
