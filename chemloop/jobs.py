"""Background jobs for the HTTP API and the MCP server: optimize runs and campaign proposals.

Each job runs in its own child process (``spawn``: no state shared with the server's threads),
so a cancel can terminate it and a crash cannot take the server down. A job's folder,
``runs_dir/<id>``, holds everything it writes: ``job.json`` (kind, parameters, status),
``progress.json`` (rewritten after each RL step), ``error.txt`` if it failed, and its
results (an optimize run folder; ``proposals.csv`` for a proposal). The state lives in
those files, so jobs of an earlier server process are still listed after a restart.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import signal
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chemloop.dock.call import kill_running_workers
from chemloop.errors import ChemloopError

JOB_ID = re.compile(r"^[0-9a-f]{12}$")
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")


class JobConflictError(ChemloopError):
    """A job that would repeat one still queued or running (two proposes of one round)."""


@dataclass
class Job:
    id: str
    kind: str  # "optimize" or "propose"
    status: str  # "queued", "running", "done", "failed" or "cancelled"
    created: str
    folder: Path
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def progress(self) -> dict[str, Any]:
        return _read_json(self.folder / "progress.json") or {}

    def files(self) -> list[str]:
        """The job's result files, by name (what a client may download)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "created": self.created,
            "params": self.params,
            "progress": self.progress,
            "error": self.error,
            "files": self.files() if self.status in FINISHED else [],
        }


class JobManager:
    """Starts jobs (at most ``max_running`` at once; the rest wait), reports and cancels them."""

    def __init__(
        self,
        runs_dir: str | Path,
        max_running: int = 1,
        threads: int | None = None,
        db_url: str | None = None,
    ) -> None:
        """``db_url``: the campaign database, to tell after a restart whether a propose job that was
        running stored its round."""
        self.runs_dir = Path(runs_dir)
        self.db_url = db_url
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.max_running = max_running
        # Each job's torch threads: the cores shared out among the jobs that may run at once, so
        # several jobs on a small machine do not oversubscribe it (which slows sampling many-fold).
        self.threads = threads or max(1, (os.cpu_count() or 1) // max(1, max_running))
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._processes: dict[str, multiprocessing.process.BaseProcess] = {}
        self._targets: dict[str, tuple] = {}
        self._load_earlier()
        # Finished jobs are noted and queued ones started within a second, whether or not anyone asks.
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="chemloop-jobs", daemon=True).start()

    # --- starting ---------------------------------------------------------------------------------

    def start_optimize(self, config) -> Job:
        """Queue an optimize run of ``config`` (an :class:`~chemloop.rl.run.OptimizeConfig`)."""
        config_json = config.model_dump_json()
        return self._submit("optimize", {"budget": config.run.budget}, (_run_optimize, config_json))

    def start_propose(self, db_url: str, campaign: str, batch: int | None = None) -> Job:
        """Queue a ``propose`` round of ``campaign``; its picks land in ``proposals.csv``.

        One at a time per campaign: a second would propose the same round from the same data.
        """
        with self._lock:
            self._refresh()
            for job in self._jobs.values():
                if job.kind == "propose" and job.status in ACTIVE and job.params.get("campaign") == campaign:
                    raise JobConflictError(
                        f"campaign {campaign!r} already has a propose job ({job.id}, {job.status}); "
                        "wait for it or cancel it"
                    )
            return self._submit(
                "propose", {"campaign": campaign, "batch": batch}, (_run_propose, db_url, campaign, batch)
            )

    def _submit(self, kind: str, params: dict, target: tuple) -> Job:
        with self._lock:
            job_id = uuid.uuid4().hex[:12]
            job = Job(job_id, kind, "queued", _now(), self.runs_dir / job_id, params)
            job.folder.mkdir(parents=True)
            self._jobs[job_id] = job
            self._targets[job_id] = target
            self._save(job)
            self._refresh()
            return job

    # --- reading ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        with self._lock:
            self._refresh()
            job = self._jobs.get(job_id) if JOB_ID.match(job_id) else None
            if job is None:
                raise ChemloopError(f"no job with id {job_id!r}")
            return job

    def list(self) -> list[Job]:
        with self._lock:
            self._refresh()
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def file(self, job_id: str, name: str) -> Path:
        """A result file of the job, by plain name; anything that could leave the folder is refused."""
        job = self.get(job_id)
        if not name or name != Path(name).name or name.startswith(".") or "\\" in name:
            raise ChemloopError(f"invalid file name {name!r}: give one of the job's files by name")
        path = (job.folder / name).resolve()
        if path.parent != job.folder.resolve() or not path.is_file():
            raise ChemloopError(
                f"job {job_id} has no file {name!r}; it has: {', '.join(job.files()) or 'none'}"
            )
        return path

    # --- stopping ---------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> Job:
        with self._lock:
            job = self.get(job_id)
            if job.status in FINISHED:
                return job
            process = self._processes.pop(job_id, None)
            if process is not None:
                process.terminate()
                process.join(timeout=10)
            self._targets.pop(job_id, None)
            job.status = "cancelled"
            self._save(job)
            self._refresh()
            return job

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job finishes (or ``timeout`` seconds pass); for scripts and tests."""
        process = self._processes.get(job_id)
        if process is not None:
            process.join(timeout)
        return self.get(job_id)

    def shutdown(self) -> None:
        """Cancel every job still queued or running (the server is stopping)."""
        self._stop.set()
        with self._lock:
            for job in list(self._jobs.values()):
                if job.status not in FINISHED:
                    self.cancel(job.id)

    # --- internals --------------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                if self._processes or any(j.status == "queued" for j in self._jobs.values()):
                    self._refresh()

    def _refresh(self) -> None:
        """Note finished processes, then start queued jobs while there is room."""
        for job_id, process in list(self._processes.items()):
            if process.is_alive():
                continue
            process.join()
            job = self._jobs[job_id]
            error = (job.folder / "error.txt").read_text() if (job.folder / "error.txt").exists() else None
            if process.exitcode == 0 and error is None:
                job.status = "done"
            else:
                job.status = "failed"
                job.error = error or f"the job's process ended with exit code {process.exitcode}"
            del self._processes[job_id]
            self._save(job)
        queued = [j for j in sorted(self._jobs.values(), key=lambda j: j.created) if j.status == "queued"]
        for job in queued[: max(0, self.max_running - len(self._processes))]:
            function, *args = self._targets.pop(job.id)
            process = self._context.Process(
                target=function, args=(*args, str(job.folder), self.threads, os.getpid()), daemon=True
            )
            process.start()
            self._processes[job.id] = process
            job.status = "running"
            self._save(job)

    def _save(self, job: Job) -> None:
        record = {k: v for k, v in job.to_dict().items() if k not in ("progress", "files")}
        process = self._processes.get(job.id)
        if process is not None and job.status == "running":
            record["pid"] = process.pid  # so a restarted server can stop a job that outlived it
        _write_json(job.folder / "job.json", record)

    def _load_earlier(self) -> None:
        """Jobs of an earlier server process: finished ones as they were, unfinished ones failed."""
        for path in sorted(self.runs_dir.glob("*/job.json")):
            record = _read_json(path)
            if not record or not JOB_ID.match(str(record.get("id", ""))):
                continue
            job = Job(
                record["id"],
                record.get("kind", "?"),
                record.get("status", "failed"),
                record.get("created", ""),
                path.parent,
                record.get("params", {}),
                record.get("error"),
            )
            if job.status not in FINISHED:
                _stop_leftover(record.get("pid"))
                job.status, job.error = self._outcome_after_restart(job)
                self._save(job)
            self._jobs[job.id] = job

    def _outcome_after_restart(self, job: Job) -> tuple[str, str | None]:
        """A job the server stopped during: a propose whose round is in the database succeeded."""
        if job.kind == "propose" and self.db_url and job.params.get("campaign"):
            from chemloop.loop.campaign import rounds_since

            try:
                stored = rounds_since(self.db_url, job.params["campaign"], job.created)
            except ChemloopError:
                stored = []
            if stored:
                note = f"round {stored[0]} was stored; the server stopped before the job reported it"
                return "done", note
        return "failed", "the server stopped while this job was running"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    """Write-then-rename, so a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data, indent=2))
    partial.replace(path)


# --- what the child processes run -----------------------------------------------------------------


def _stop_leftover(pid: Any) -> None:
    """SIGTERM a job process of an earlier server that is somehow still running (it should have
    ended itself within a second of its server: see ``_exit_with_server``)."""
    if not isinstance(pid, int) or pid <= 1:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return  # gone, or no /proc to tell whose it is: leave it
    if b"multiprocessing" in cmdline:  # a spawn child, not an unrelated process that got the pid
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def _exit_with_server(server_pid: int) -> None:
    """End this job when its server process dies (even by SIGKILL): a job left running would store
    a round nobody tracks, beside the next propose. Checked every second from a daemon thread."""

    def watch() -> None:
        while os.getppid() == server_pid:
            threading.Event().wait(1.0)
        _on_cancel(signal.SIGTERM, None)

    threading.Thread(target=watch, name="chemloop-job-watch", daemon=True).start()


def _on_cancel(signum, frame) -> None:
    """SIGTERM from ``cancel``: stop docking workers (their own sessions outlive us) and exit now."""
    kill_running_workers()
    os._exit(128 + signal.SIGTERM)


def _in_child(function, folder: str, threads: int, server_pid: int, *args) -> None:
    """Run ``function``; on any error leave its message in ``error.txt`` and exit non-zero."""
    import torch

    signal.signal(signal.SIGTERM, _on_cancel)
    _exit_with_server(server_pid)
    torch.set_num_threads(threads)
    try:
        function(*args, Path(folder))
    except ChemloopError as err:
        (Path(folder) / "error.txt").write_text(str(err))
        raise SystemExit(1) from None
    except Exception:
        (Path(folder) / "error.txt").write_text(traceback.format_exc(limit=5))
        raise SystemExit(1) from None


def _run_optimize(config_json: str, folder: str, threads: int, server_pid: int) -> None:
    _in_child(_optimize, folder, threads, server_pid, config_json)


def _optimize(config_json: str, folder: Path) -> None:
    from chemloop.rl.run import OptimizeConfig, optimize

    config = OptimizeConfig.model_validate_json(config_json)

    def report(progress) -> None:
        _write_json(
            folder / "progress.json",
            {
                "step": progress.step.step,
                "oracle_calls": progress.calls,
                "budget": config.run.budget,
                "best": progress.best,
                "mean": progress.step.mean_score,
                "validity": progress.step.validity,
                "scaffolds": progress.scaffolds,
            },
        )

    optimize(config, folder, progress=report)


def _run_propose(
    db_url: str, campaign: str, batch: int | None, folder: str, threads: int, server_pid: int
) -> None:
    _in_child(_propose, folder, threads, server_pid, db_url, campaign, batch)


def _propose(db_url: str, campaign: str, batch: int | None, folder: Path) -> None:
    from chemloop.loop.campaign import propose
    from chemloop.loop.store import connect

    result = propose(connect(db_url), campaign, batch, output=folder / "proposals.csv")
    _write_json(folder / "progress.json", {"round": result.round, "proposed": len(result.smiles)})
