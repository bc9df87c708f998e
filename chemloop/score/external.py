"""External-command scoring plugin: SMILES on stdin (one per line), a JSON list of numbers
(or nulls) on stdout. Batches run in parallel processes, each with a timeout."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chemloop.errors import ChemloopError


def _run_batch(command: Sequence[str], smiles: Sequence[str], timeout: float) -> list[float]:
    label = " ".join(command)
    try:
        done = subprocess.run(
            list(command),
            input="\n".join(smiles) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChemloopError(f"scoring command `{label}` timed out after {timeout} s") from None
    except OSError as err:
        raise ChemloopError(f"scoring command `{label}` could not start: {err}") from None
    if done.returncode != 0:
        raise ChemloopError(f"scoring command `{label}` exited with {done.returncode}: {done.stderr[-500:]}")
    try:
        values = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ChemloopError(
            f"scoring command `{label}` did not print a JSON list: {done.stdout[:200]!r}"
        ) from None
    if not isinstance(values, list) or len(values) != len(smiles):
        raise ChemloopError(
            f"scoring command `{label}` returned {len(values) if isinstance(values, list) else 'no'}"
            f" values for {len(smiles)} molecules"
        )
    return [math.nan if v is None else float(v) for v in values]


def run_command(
    command: Sequence[str],
    smiles: Sequence[str],
    *,
    batch_size: int = 100,
    processes: int = 2,
    timeout: float = 600,
) -> list[float]:
    batches = [smiles[i : i + batch_size] for i in range(0, len(smiles), batch_size)]
    with ThreadPoolExecutor(max_workers=processes) as pool:  # threads wait on child processes
        results = pool.map(lambda batch: _run_batch(command, batch, timeout), batches)
        return [value for batch in results for value in batch]
