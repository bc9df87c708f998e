"""A fitted reward model (``chemloop reward fit``) as a scoring component.

Scores mean + κ·std over the ensemble: κ = 0 is the model's best guess, κ > 0 an upper
confidence bound that favours molecules the model is unsure of (exploration).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from rdkit import Chem

from chemloop.errors import ChemloopError
from chemloop.score.registry import component


@cache
def _load(path: str, stamp: tuple[int, int]):
    """A model per folder and weights-file version: a refit in place is picked up, not served stale."""
    from chemloop.reward.model import RewardModel

    return RewardModel.load(path)


def load_cached(path: str | Path):
    from chemloop.reward.model import WEIGHTS

    folder = Path(path).expanduser().resolve()
    weights = folder / WEIGHTS
    stat = weights.stat() if weights.is_file() else None
    return _load(str(folder), (stat.st_mtime_ns, stat.st_size) if stat else (0, 0))


@component("reward_model")
def reward_model(mols: list[Chem.Mol], path: str, kappa: float = 0.0) -> list[float]:
    """A saved reward model's mean + kappa·std (kappa > 0: optimism under uncertainty)."""
    if not math.isfinite(kappa):
        raise ChemloopError(f"reward_model: kappa must be a finite number, not {kappa!r}")
    model = load_cached(path)
    smiles = [Chem.MolToSmiles(m) for m in mols]
    try:
        mean, std = model.predict(smiles)
    except ChemloopError:  # one molecule the features cannot take (a token the prior lacks): NaN for it
        return [_one(model, s, kappa) for s in smiles]
    return [float(m + kappa * s) for m, s in zip(mean, std, strict=True)]


def _one(model, smiles: str, kappa: float) -> float:
    try:
        mean, std = model.predict([smiles])
    except ChemloopError:
        return math.nan
    return float(mean[0] + kappa * std[0])
