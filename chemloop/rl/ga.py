"""GA-guided exploration: graph-GA offspring of the replay memory (as in Genetic GFN, Kim et al. 2024).

A language model explores only where its own likelihood leads. Crossing and mutating the best
molecules found so far reaches molecules it would rarely write; the agent scores them and learns
from them off-policy, so what the GA finds moves the model too. The operators are Graph GA's
(Jensen 2019) as the ``mol-ga`` package maintains them; parents are drawn from the memory by rank.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class GraphGA:
    def __init__(self, mutation_rate: float = 0.01, rank_coefficient: float = 0.01, seed: int = 0) -> None:
        self.mutation_rate = mutation_rate
        self.rank_coefficient = rank_coefficient
        # Its own generator: the agent's sampling stream stays the same whether the GA runs or not.
        self._rng = random.Random(seed)

    def rank_weights(self, size: int) -> list[float]:
        """Rank-based selection (Tripp et al. 2020): weight 1 / (k·N + rank), rank 0 the best."""
        return [1.0 / (self.rank_coefficient * size + rank) for rank in range(size)]

    def offspring(
        self, ranked: list[str], n: int, accept: Callable[[str], bool], tries: int = 4
    ) -> list[str]:
        """Up to ``n`` children of ``ranked`` (SMILES, best first) that ``accept`` takes.

        Each try draws two parents by rank and crosses them (mutating the child with probability
        ``mutation_rate``); a failed operator or a refused child costs a try, ``tries``·n at most.
        """
        # mol_ga imports joblib (~0.3 s): paid only by runs that use the GA.
        from mol_ga.graph_ga.gen_candidates import reproduce

        if n <= 0 or not ranked:
            return []
        weights = self.rank_weights(len(ranked))
        children: list[str] = []
        for _ in range(tries * n):
            if len(children) == n:
                break
            first, second = self._rng.choices(ranked, weights=weights, k=2)
            child = reproduce(first, second, self.mutation_rate, self._rng)
            if child is not None and accept(child):
                children.append(child)
        return children

    def state(self) -> dict:
        """JSON-ready random state, for resuming a run."""
        return {"rng": self._rng.getstate()}

    def load_state(self, state: dict) -> None:
        version, internal, gauss = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss))
