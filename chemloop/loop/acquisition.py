"""Choose the K molecules to make and test from predictions with uncertainty.

An acquisition function turns a reward model's mean and standard deviation per candidate
into a priority; the batch is then taken in priority order, skipping candidates too
similar to one already chosen, so that a round of 12 does not spend itself on 12 analogues.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from rdkit import DataStructs
from rdkit.Chem import rdFingerprintGenerator
from scipy.stats import norm

from chemloop.chem.mol import to_mol

Acquisition = Literal["greedy", "ucb", "ei", "thompson"]
ACQUISITIONS: tuple[str, ...] = ("greedy", "ucb", "ei", "thompson")


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """E[max(f − best − ξ, 0)] for f ~ N(mean, std²); where std is 0, the plain improvement."""
    gain = mean - best - xi
    safe_std = np.where(std > 0, std, 1.0)
    z = gain / safe_std
    ei = gain * norm.cdf(z) + safe_std * norm.pdf(z)
    return np.where(std > 0, ei, np.maximum(gain, 0.0))


def acquisition_values(
    mean: Sequence[float],
    std: Sequence[float],
    kind: Acquisition,
    *,
    kappa: float = 1.0,
    best: float | None = None,
    xi: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One priority per candidate (higher is chosen first).

    greedy: the mean; ucb: mean + κ·std; ei: expected improvement over ``best`` (the best
    measured value so far); thompson: one draw from N(mean, std²) per candidate.
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if mean.shape != std.shape:
        raise ValueError(f"mean and std differ in length: {mean.shape} vs {std.shape}")
    if (std < 0).any():
        raise ValueError("std must be ≥ 0")
    if kind == "greedy":
        return mean
    if kind == "ucb":
        return mean + kappa * std
    if kind == "ei":
        if best is None:
            raise ValueError("expected improvement needs the best measured value ('best')")
        return expected_improvement(mean, std, best, xi)
    if kind == "thompson":
        rng = rng if rng is not None else np.random.default_rng(0)
        return rng.normal(mean, std)
    raise ValueError(f"unknown acquisition {kind!r}; choose one of {', '.join(ACQUISITIONS)}")


def select_batch(
    smiles: Sequence[str],
    priority: Sequence[float],
    k: int = 12,
    max_similarity: float | None = 0.7,
    taken: Sequence[str] = (),
) -> list[int]:
    """Indices of ``k`` candidates in priority order, none with ECFP4 Tanimoto above
    ``max_similarity`` to one chosen before it or to a molecule of ``taken`` (those already in the
    batch); ``max_similarity=None``: no diversity rule.

    If the rule leaves fewer than ``k``, the batch is topped up with the highest-priority
    rest, so a round never comes out short while candidates remain.
    """
    if k < 1:
        raise ValueError("k must be ≥ 1")
    order = [
        i
        for i in np.argsort(-np.asarray(priority, dtype=float), kind="stable")
        if not math.isnan(priority[i])
    ]
    if max_similarity is None:
        return order[:k]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    chosen: list[int] = []
    chosen_fps = [generator.GetFingerprint(to_mol(t, "batch molecule")) for t in taken]
    for i in order:
        fp = generator.GetFingerprint(to_mol(smiles[i], "candidate"))
        if chosen_fps and max(DataStructs.BulkTanimotoSimilarity(fp, chosen_fps)) > max_similarity:
            continue
        chosen.append(i)
        chosen_fps.append(fp)
        if len(chosen) == k:
            return chosen
    rest = [i for i in order if i not in set(chosen)]
    return chosen + rest[: k - len(chosen)]


def select_in_parts(
    smiles: Sequence[str],
    priority: Sequence[float],
    in_first_part: Sequence[bool],
    k: int,
    share: float,
    max_similarity: float | None = 0.7,
) -> list[int]:
    """A batch of ``k`` in two parts: ``round(share·k)`` by :func:`select_batch` among the candidates
    marked ``in_first_part``, the rest among the others, each part only from candidates with a finite
    priority (-inf: outside the trust region). A short part is made up from the other part, then
    from the rest in priority order (the -inf ones in the order given); the diversity rule holds
    across the parts. With no first part this is :func:`select_batch` itself."""
    wanted = round(share * k) if any(in_first_part) else 0
    if wanted < 1:
        return select_batch(smiles, priority, k, max_similarity)

    chosen: list[int] = []

    def pick(group: list[int], n: int) -> list[int]:
        if n < 1 or not group:
            return []
        texts, values = [smiles[i] for i in group], [priority[i] for i in group]
        in_batch = [smiles[i] for i in chosen]
        return [group[j] for j in select_batch(texts, values, n, max_similarity, in_batch)]

    finite = [i for i, p in enumerate(priority) if p > -math.inf]
    chosen += pick([i for i in finite if in_first_part[i]], wanted)
    chosen += pick([i for i in finite if not in_first_part[i]], k - len(chosen))
    taken = set(chosen)
    return chosen + pick([i for i in range(len(smiles)) if i not in taken], k - len(chosen))
