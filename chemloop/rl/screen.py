"""Screening the agent's samples before the oracle sees them: spend calls on the likeliest winners.

With ``screen_factor`` F the agent samples F times the molecules it will have scored. Those that
cost no oracle call (strings that are no molecule, molecules scored before, repeats) stay as they
fall in the first batch's worth of samples, so the agent learns from its mistakes at its own rate;
the new molecules of that first batch are replaced by as many new molecules of all F batches with
the highest estimated score. The estimate is a nearest-neighbour regression on every molecule
scored so far: the mean score of the ``neighbours`` most similar ones (ECFP4 Tanimoto), weighted
by similarity. It needs no training, so it keeps up with a run, and it is local: a molecule far
from everything scored is estimated low rather than extrapolated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import DataStructs

from chemloop.chem.series import morgan_fingerprints

MIN_SCORED = 100  # molecules scored before the estimate is trusted (about two batches)


class NeighbourScreen:
    def __init__(self, factor: int, neighbours: int = 5, min_scored: int = MIN_SCORED) -> None:
        if factor < 1:
            raise ValueError(f"screen factor must be at least 1, not {factor}")
        self.factor, self.neighbours, self.min_scored = factor, neighbours, min_scored
        self.scores: dict[str, float] = {}  # canonical SMILES → its score, every molecule scored
        self._fingerprints: list = []
        self._values: list[float] = []

    def remember(self, canonical: Sequence[str | None], scores: Sequence[float]) -> None:
        """Record scored molecules (None: no molecule, nothing to learn from)."""
        new = [
            (c, s) for c, s in zip(canonical, scores, strict=True) if c is not None and c not in self.scores
        ]
        new = list(dict(new).items())  # a repeat within the batch counts once
        self.scores.update(new)
        self._fingerprints += morgan_fingerprints([c for c, _ in new])
        self._values += [s for _, s in new]

    def estimate(self, canonical: Sequence[str]) -> np.ndarray:
        """The similarity-weighted mean score of each molecule's nearest scored neighbours."""
        values = np.asarray(self._values)
        estimates = np.zeros(len(canonical))
        for i, fingerprint in enumerate(morgan_fingerprints(list(canonical))):
            similarity = np.asarray(DataStructs.BulkTanimotoSimilarity(fingerprint, self._fingerprints))
            nearest = np.argsort(-similarity, kind="stable")[: self.neighbours]
            weight = similarity[nearest]
            estimates[i] = float(weight @ values[nearest] / weight.sum()) if weight.sum() > 0 else 0.0
        return estimates

    def choose(self, canonical: Sequence[str | None], n: int) -> list[int]:
        """Indices (ascending) of the samples to score, out of ``canonical`` (the first ``n`` are
        the batch the agent would have scored without screening; None: no molecule)."""
        first = list(range(min(n, len(canonical))))
        if len(self.scores) < self.min_scored or len(canonical) <= n:
            return first
        seen: set[str] = set()
        free, new_in_first = [], 0
        for i in first:
            c = canonical[i]
            if c is None or c in self.scores or c in seen:
                free.append(i)
            else:
                new_in_first += 1
            if c is not None:
                seen.add(c)
        pool: dict[str, int] = {}  # each new molecule of all batches, at its first index
        for i, c in enumerate(canonical):
            if c is not None and c not in self.scores and c not in pool:
                pool[c] = i
        ranked = sorted(
            zip(self.estimate(list(pool)), pool.values(), strict=True), key=lambda p: (-p[0], p[1])
        )
        return sorted(free + [i for _, i in ranked[:new_in_first]])

    def state(self) -> dict:
        """JSON-ready: the scored molecules (the fingerprints are recomputed on loading)."""
        return {"scores": self.scores}

    def load_state(self, state: dict) -> None:
        self.scores, self._fingerprints, self._values = {}, [], []
        self.remember(list(state["scores"]), list(state["scores"].values()))
