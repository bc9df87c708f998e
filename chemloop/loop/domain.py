"""Where a campaign's data says something: the trust region around the measured molecules, the
reward model's applicability domain, and why each proposal was made.

- Trust region: a candidate stays if its nearest measured molecule (ECFP4 Tanimoto) is at least
  ``trust_similarity`` similar, or (with ``trust_scaffold``) it shares a measured molecule's Murcko
  scaffold. Lead optimisation stays inside its series; set ``trust_similarity`` to None to hop.
- Applicability domain: how similar each measured molecule is to its nearest *other* measured
  molecule is the range of similarity over which the reward model was ever checked (leave-one-out).
  A candidate less similar to the data than the 10th percentile of that range is out of domain:
  its uncertainty only says "far from any data", so it is scored pessimistically (mean − κ·std),
  never optimistically.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

import numpy as np
from rdkit import DataStructs

from chemloop.chem.series import morgan_fingerprints, murcko_scaffold, nearest_neighbours

DOMAIN_QUANTILE = 0.10


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
        self.fingerprints = morgan_fingerprints(self.smiles)
        self.scaffolds = {murcko_scaffold(s) for s in self.smiles} - {""}
        self.domain_similarity = self._domain_similarity()

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
        index, similarity = nearest_neighbours(morgan_fingerprints(candidates), self.fingerprints)
        return [
            Explanation(
                self.smiles[i] if i >= 0 else None,
                float(sim),
                self.values[i] if i >= 0 else None,
                bool(i >= 0 and sim < self.domain_similarity),
            )
            for i, sim in zip(index, similarity, strict=True)
        ]

    def in_trust_region(
        self,
        candidates: Sequence[str],
        explanations: Sequence[Explanation],
        similarity: float | None,
        scaffold: bool,
    ) -> list[bool]:
        """Whether each candidate lies in the trust region (all do when it is off or nothing is measured)."""
        if similarity is None or not self.smiles:
            return [True] * len(candidates)
        return [
            inside_trust_region(c, e.nearest_similarity, self.scaffolds, similarity, scaffold)
            for c, e in zip(candidates, explanations, strict=True)
        ]


def inside_trust_region(
    candidate: str, nearest_similarity: float, scaffolds: Set[str], similarity: float, scaffold: bool
) -> bool:
    """The trust region's rule for one candidate: its nearest measured molecule is at least
    ``similarity`` similar, or (with ``scaffold``) it has one of the measured ``scaffolds``."""
    return nearest_similarity >= similarity or (scaffold and murcko_scaffold(candidate) in scaffolds)


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
