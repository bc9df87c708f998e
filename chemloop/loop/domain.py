"""Where a campaign's data says something: the trust region around the measured molecules, the
reward model's applicability domain, and why each proposal was made.

- Trust region: a candidate stays if its nearest measured molecule (ECFP4 Tanimoto) is at least
  ``trust_similarity`` similar, or (with ``trust_scaffold``) it shares a measured molecule's Murcko
  scaffold; and, when the measured molecules form a series (a scaffold of two rings or more that
  at least ``trust_core`` of them contain), it keeps that core. Without such a core the similarity
  needed is no more than the measured molecules' own spacing (the applicability domain's edge,
  below): ten diverse seed molecules are ~0.2 similar to each other, and a 0.5 region around them
  holds almost none of the model's samples, which leaves RL nothing to learn from. Lead
  optimisation stays inside its series; set ``trust_similarity`` to None to hop.
- Applicability domain: how similar each measured molecule is to its nearest *other* measured
  molecule is the range of similarity over which the reward model was ever checked (leave-one-out).
  A candidate less similar to the data than the 10th percentile of that range is out of domain:
  its uncertainty only says "far from any data", so it is scored pessimistically (mean − κ·std),
  never optimistically.

Both compare parent compounds (largest fragment, neutralized), as the reward model learns them: a
proposal in its pH-7 form (``C[NH+]1CCN(c2ccccc2)CC1``) is its measured neutral parent, not a
molecule 0.56 similar to it with another scaffold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rdkit import Chem, DataStructs

from chemloop.chem.mol import parent_smiles, try_mol
from chemloop.chem.series import morgan_fingerprints, murcko_scaffold, nearest_neighbours, series_core

DOMAIN_QUANTILE = 0.10


@dataclass(frozen=True)
class TrustRule:
    """The campaign's trust-region settings (``[campaign] trust_*``); ``similarity`` None: no region."""

    similarity: float | None
    scaffold: bool = True
    core_share: float | None = None


@dataclass(frozen=True)
class TrustAnchor:
    """What the rule measures candidates against: the similarity needed to the nearest measured
    molecule, the measured molecules' Murcko scaffolds and the series' core (None: no core to keep)."""

    similarity: float
    scaffolds: frozenset[str]
    core: str | None

    @classmethod
    def of(cls, measured: Sequence[str], rule: TrustRule, spacing: float) -> TrustAnchor:
        """``spacing``: how similar the measured molecules are to each other (their applicability
        domain's edge); without a series core the region needs no more similarity than that."""
        scaffolds = frozenset({murcko_scaffold(s) for s in measured} - {""})
        core = series_core(measured, rule.core_share) if rule.core_share is not None else None
        similarity = rule.similarity if rule.similarity is not None else 0.0
        return cls(similarity if core is not None else min(similarity, spacing), scaffolds, core)


@dataclass
class Explanation:
    """Why a candidate looks the way it does, next to what was measured."""

    nearest_smiles: str | None
    nearest_similarity: float  # Tanimoto (ECFP4) to the nearest measured molecule; 0 without data
    nearest_value: float | None
    out_of_domain: bool


class MeasuredSet:
    """The campaign's measured molecules (canonical SMILES, mean value each)."""

    def __init__(self, smiles: Sequence[str], values: Sequence[float]) -> None:
        self.smiles = list(smiles)
        self.values = list(values)
        self.parents = [parent_smiles(s) for s in self.smiles]
        self.fingerprints = morgan_fingerprints(self.parents)
        self.domain_similarity = self._domain_similarity()
        self._anchors: dict[TrustRule, TrustAnchor] = {}

    def _domain_similarity(self) -> float:
        """The 10th percentile of each measured molecule's similarity to its nearest other one
        (0 with fewer than three molecules: no range to speak of, nothing is out of domain)."""
        if len(self.fingerprints) < 3:
            return 0.0
        nearest = []
        for i, fp in enumerate(self.fingerprints):
            others = self.fingerprints[:i] + self.fingerprints[i + 1 :]
            nearest.append(max(DataStructs.BulkTanimotoSimilarity(fp, others)))
        return float(np.quantile(nearest, DOMAIN_QUANTILE))

    def explain(self, candidates: Sequence[str]) -> list[Explanation]:
        parents = [parent_smiles(c) for c in candidates]
        index, similarity = nearest_neighbours(morgan_fingerprints(parents), self.fingerprints)
        return [
            Explanation(
                self.smiles[i] if i >= 0 else None,
                float(sim),
                self.values[i] if i >= 0 else None,
                bool(i >= 0 and sim < self.domain_similarity),
            )
            for i, sim in zip(index, similarity, strict=True)
        ]

    def anchor(self, rule: TrustRule) -> TrustAnchor:
        """The scaffolds and series core of the measured molecules (computed once per rule)."""
        if rule not in self._anchors:
            self._anchors[rule] = TrustAnchor.of(self.parents, rule, self.domain_similarity)
        return self._anchors[rule]

    def in_trust_region(
        self, candidates: Sequence[str], explanations: Sequence[Explanation], rule: TrustRule
    ) -> list[bool]:
        """Whether each candidate lies in the trust region (all do when it is off or nothing is measured)."""
        if rule.similarity is None or not self.smiles:
            return [True] * len(candidates)
        anchor = self.anchor(rule)
        return [
            inside_trust_region(c, e.nearest_similarity, anchor, rule)
            for c, e in zip(candidates, explanations, strict=True)
        ]


def inside_trust_region(
    candidate: str, nearest_similarity: float, anchor: TrustAnchor, rule: TrustRule
) -> bool:
    """The trust region's rule for one candidate (see :func:`trust_region_miss`)."""
    return trust_region_miss(candidate, nearest_similarity, anchor, rule) is None


def trust_region_miss(
    candidate: str, nearest_similarity: float, anchor: TrustAnchor, rule: TrustRule
) -> str | None:
    """Why a candidate lies outside the trust region, for a chemist to read; None when inside.

    Inside: its nearest measured molecule is at least ``anchor.similarity`` similar, or (with
    ``rule.scaffold``) it has a measured Murcko scaffold; and it contains the series' core when there
    is one. Off (``rule.similarity`` None): everything is inside. Scaffold and core are those of the
    candidate's parent compound, as the anchor's are."""
    if rule.similarity is None:
        return None
    parent = parent_smiles(candidate)
    if nearest_similarity < anchor.similarity and not (
        rule.scaffold and murcko_scaffold(parent) in anchor.scaffolds
    ):
        return (
            f"its nearest measured molecule is only {nearest_similarity:.2f} similar (the region needs "
            f"{anchor.similarity:.2f})"
            + (" and no measured molecule shares its scaffold" if rule.scaffold else "")
        )
    if anchor.core is not None and not _contains(parent, anchor.core):
        return f"it lacks the series' core {anchor.core}"
    return None


@lru_cache(maxsize=64)
def _core_pattern(core: str) -> Chem.Mol:
    return Chem.MolFromSmiles(core)


def _contains(candidate: str, core: str) -> bool:
    mol = try_mol(candidate)
    return mol is not None and mol.HasSubstructMatch(_core_pattern(core))


def pessimistic_where_out_of_domain(
    mean: np.ndarray, std: np.ndarray, out_of_domain: Sequence[bool], kappa: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std for acquisition: out of domain, the mean drops by κ·std and the std is 0, so no
    acquisition function rewards an uncertainty that only reflects distance from the data."""
    flags = np.asarray(out_of_domain, dtype=bool)
    mean, std = np.asarray(mean, dtype=float).copy(), np.asarray(std, dtype=float).copy()
    mean[flags] -= kappa * std[flags]
    std[flags] = 0.0
    return mean, std
