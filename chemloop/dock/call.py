"""One docking call in a child process that a timeout can kill, Vina and Open Babel included.

A thread or a ``concurrent.futures`` process pool cannot stop a stuck Vina: it is a grandchild.
Each call therefore starts ``python -m chemloop.dock.worker`` in a new process group and kills
the group when the call runs out of time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from chemloop.dock.target import Target
from chemloop.errors import ChemloopError


@dataclass(frozen=True)
class DockSettings:
    """How hard and how reproducibly to search; part of the cache key (except cpus and timeout)."""

    exhaustiveness: int = 8
    seed: int = 0
    cpus: int = 1  # Vina threads per call
    timeout: float = 300.0  # seconds per call: preparation and docking


@dataclass(frozen=True)
class DockResult:
    """The outcome of docking one molecule: a score with its poses, or an error saying why not."""

    smiles: str
    score: float | None = None  # Vina score of the best pose, kcal/mol (lower binds better)
    pose_sdf: str | None = field(default=None, repr=False)  # every pose as SDF text, best first
    error: str | None = None
    transient: bool = False  # a timeout or a crashed worker: may succeed later, so never cached


def _child_env() -> dict[str, str]:
    # openbabel-wheel installs `obabel` beside this Python; dockstring finds it on PATH.
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def check_tools() -> None:
    """Raise a :class:`ChemloopError` saying what to install if dockstring or Open Babel is missing."""
    hint = "docking needs dockstring and Open Babel: pip install 'chemloop[docking]'"
    if importlib.util.find_spec("dockstring") is None:
        raise ChemloopError(hint)
    if shutil.which("obabel", path=_child_env()["PATH"]) is None:
        raise ChemloopError(f"Open Babel's `obabel` command was not found; {hint}")


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have just finished
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()  # reap it


# Worker processes now running: a job that is cancelled (SIGTERM) kills their groups on its way out,
# since each runs in a session of its own that the job's own termination would not reach.
_LIVE: set[int] = set()


def kill_running_workers() -> None:
    for pid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def dock_prepared(
    smiles: str,
    receptor_pdbqt: str,
    vina_config: str,
    *,
    seed: int = 0,
    cpus: int = 1,
    timeout: float = 300.0,
    target_name: str = "",
) -> DockResult:
    """Dock ``smiles`` into a receptor given as PDBQT text with a Vina config (box, exhaustiveness)."""
    job = {
        "smiles": smiles,
        "receptor_pdbqt": receptor_pdbqt,
        "vina_config": vina_config,
        "seed": seed,
        "cpus": cpus,
        "target": target_name,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "chemloop.dock.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
        start_new_session=True,  # its own process group, so the kill reaches Vina too
    )
    _LIVE.add(process.pid)
    try:
        out, err = process.communicate(json.dumps(job), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return DockResult(
            smiles, error=f"docking of {smiles!r} timed out after {timeout:g} s", transient=True
        )
    except BaseException:  # interrupted: leave no Vina running
        _kill_group(process)
        raise
    finally:
        _LIVE.discard(process.pid)
    lines = out.strip().splitlines()
    if process.returncode != 0 or not lines:
        return DockResult(
            smiles,
            error=f"docking worker for {smiles!r} exited with {process.returncode}: {err.strip()[-300:]}",
            transient=True,
        )
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return DockResult(smiles, error=f"docking worker for {smiles!r} printed no result", transient=True)
    return DockResult(smiles, result.get("score"), result.get("pose_sdf"), result.get("error"))


def dock_one(
    smiles: str,
    target: Target,
    exhaustiveness: int = 8,
    seed: int = 0,
    cpus: int = 1,
    timeout: float = 300.0,
) -> DockResult:
    """Dock one molecule against ``target``; never raises for a molecule that fails."""
    return dock_prepared(
        smiles,
        target.receptor.read_text(),
        target.vina_config(exhaustiveness),
        seed=seed,
        cpus=cpus,
        timeout=timeout,
        target_name=target.name,
    )
