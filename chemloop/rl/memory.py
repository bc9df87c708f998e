"""Experience replay of the best molecules seen, with optional SMILES randomization
(Augmented Memory, Guo & Schwaller 2024: replaying random spellings of top molecules)."""

from __future__ import annotations

import random
from collections.abc import Callable

from chemloop.chem.mol import randomize


class ReplayMemory:
    def __init__(self, size: int = 100, randomize: bool = True, seed: int = 0) -> None:
        self.size = size
        self.randomize = randomize
        self._best: dict[str, float] = {}  # canonical SMILES -> score
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self._best)

    def __contains__(self, canonical: object) -> bool:
        return canonical in self._best

    def add(self, canonical: list[str | None], scores: list[float]) -> None:
        for smiles, score in zip(canonical, scores, strict=True):
            if smiles and score == score and score > 0:  # skip invalid, NaN and zero
                self._best[smiles] = max(score, self._best.get(smiles, 0.0))
        if len(self._best) > self.size:
            kept = sorted(self._best.items(), key=lambda item: item[1], reverse=True)[: self.size]
            self._best = dict(kept)

    def sample(self, n: int) -> tuple[list[str], list[float]]:
        """Up to ``n`` remembered molecules (random spellings if ``randomize``) and scores."""
        chosen = self._rng.sample(list(self._best.items()), min(n, len(self._best)))
        smiles = [randomize(s, self._rng) if self.randomize else s for s, _ in chosen]
        return smiles, [score for _, score in chosen]

    def discard(self, predicate: Callable[[str], bool]) -> None:
        """Forget every remembered molecule for which ``predicate(canonical)`` is true."""
        self._best = {s: score for s, score in self._best.items() if not predicate(s)}

    def state(self) -> dict:
        """JSON-ready contents and random state, for resuming a run."""
        return {"best": self._best, "rng": self._rng.getstate()}

    def load_state(self, state: dict) -> None:
        self._best = dict(state["best"])
        version, internal, gauss = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss))

    def best(self, n: int = 10) -> list[tuple[str, float]]:
        return sorted(self._best.items(), key=lambda item: item[1], reverse=True)[:n]
