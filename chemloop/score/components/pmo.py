"""A PMO benchmark task (Gao et al. 2022) as an objective, e.g. ``task = "median1"``.

The isomer-scored tasks score as published by default; ``task = "zaleplon_mpo_corrected"`` (and
likewise for the other three) takes the corrected isomer count, see :mod:`chemloop.score.oracles.pmo`.
"""

from rdkit import Chem

from chemloop.score.oracles.pmo import check_task, oracle
from chemloop.score.registry import component


@component("pmo", check=check_task)
def pmo(mols: list[Chem.Mol], task: str) -> list[float]:
    """A PMO benchmark task's oracle (Gao et al. 2022) by name, e.g. task = "median1"."""
    return oracle(task)(mols)  # oracle() builds each task once (functools.cache), then reuses it
