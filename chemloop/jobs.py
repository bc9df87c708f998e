"""Background jobs for the HTTP API, the web app and the MCP server: optimize runs, campaign
proposals, and the reward-model fits after a campaign is created or results are imported.

Each job runs in its own child process (``spawn``: no state shared with the server's threads),
so a cancel can terminate it and a crash cannot take the server down. A job's folder,
``runs_dir/<id>``, holds everything it writes: ``job.json`` (kind, parameters, status, when it
started and finished), ``progress.json`` (rewritten at each step: the stage, steps done of its
total, the fraction of the whole job done), ``error.txt`` if it failed, and its results (an
optimize run folder; ``proposals.csv`` for a proposal). The state lives in those files, so a page
reload, a second browser and a restarted server all see the same jobs and progress.
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
# Jobs that fit a campaign's reward model: its first fit after ``create``, the refit after ``import``.
FIT_KINDS = ("create", "import")
# A time-left estimate from the job's own steps needs this much of it done to mean anything; the
# previous job of its kind is trusted until half of this one is done.
MIN_FRACTION_FOR_ESTIMATE = 0.05
TRUST_PREVIOUS_UNTIL = 0.5


class JobConflictError(ChemloopError):
    """A job that would repeat one still queued or running (two proposes of one round)."""


@dataclass
class Job:
    id: str
    kind: str  # "optimize", "propose", "create" or "import"
    status: str  # "queued", "running", "done", "failed" or "cancelled"
    created: str
    folder: Path
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: str | None = None  # when its process started (ISO time)
    finished: str | None = None
    # Seconds the previous finished job of this kind and campaign took (set by the manager, not stored).
    previous_seconds: float | None = None

    @property
    def progress(self) -> dict[str, Any]:
        return _read_json(self.folder / "progress.json") or {}

    def elapsed(self) -> float | None:
        """Seconds it has run (until it finished); None before it started."""
        if self.started is None:
            return None
        end = datetime.fromisoformat(self.finished) if self.finished else datetime.now(UTC)
        return max(0.0, (end - datetime.fromisoformat(self.started)).total_seconds())

    def remaining(self, progress: dict[str, Any] | None = None) -> tuple[float | None, str | None]:
        """Estimated seconds left and what the estimate rests on: ``"previous job"`` (the last one of
        this kind in this campaign, scaled by the fraction still to do) while little of this one is
        done, else ``"steps"`` (the elapsed time spread over the fraction done); (None, None) when
        there is nothing to go on or the job is not running."""
        elapsed = self.elapsed()
        if self.status != "running" or elapsed is None:
            return None, None
        progress = self.progress if progress is None else progress
        fraction = progress.get("fraction")
        fraction = float(fraction) if isinstance(fraction, int | float) else 0.0
        fraction = min(1.0, max(0.0, fraction))
        if self.previous_seconds is not None and fraction < TRUST_PREVIOUS_UNTIL:
            return round((1.0 - fraction) * self.previous_seconds, 1), "previous job"
        if fraction >= MIN_FRACTION_FOR_ESTIMATE:
            return round(elapsed * (1.0 - fraction) / fraction, 1), "steps"
        return None, None

    def files(self) -> list[str]:
        """The job's result files, by name (what a client may download)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def to_dict(self) -> dict[str, Any]:
        progress = self.progress
        elapsed = self.elapsed()
        remaining, basis = self.remaining(progress)
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "params": self.params,
            "progress": progress,
            "elapsed_s": None if elapsed is None else round(elapsed, 1),
            "remaining_s": remaining,
            "estimate_from": basis,
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

    def start_fit(self, db_url: str, campaign: str, kind: str) -> Job:
        """Queue a fit of ``campaign``'s reward model on everything it holds: ``kind`` "create" (its
        first fit) or "import" (the refit after new results).

        A fit of the campaign still queued is returned instead of a second one: it reads the data
        only when it starts, so it covers what arrived since it was queued.
        """
        if kind not in FIT_KINDS:
            raise ChemloopError(f"unknown fit job kind {kind!r}; use one of {', '.join(FIT_KINDS)}")
        with self._lock:
            self._refresh()
            for job in self._jobs.values():
                waiting = job.kind in FIT_KINDS and job.status == "queued"
                if waiting and job.params.get("campaign") == campaign:
                    return job
            return self._submit(kind, {"campaign": campaign}, (_run_fit, db_url, campaign))

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
            job.previous_seconds = self._previous_seconds(job)
            return job

    def list(self) -> list[Job]:
        with self._lock:
            self._refresh()
            jobs = sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)
            for job in jobs:
                job.previous_seconds = self._previous_seconds(job)
            return jobs

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
            job.finished = _now() if job.started else None
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

    def _previous_seconds(self, job: Job) -> float | None:
        """How long the latest finished job of ``job``'s kind in its campaign ran (None: no such job,
        or not a campaign job: an optimize run's length depends on its own budget)."""
        campaign = job.params.get("campaign")
        if job.status not in ACTIVE or campaign is None:
            return None
        earlier = [
            j
            for j in self._jobs.values()
            if j.kind == job.kind
            and j.status == "done"
            and j.params.get("campaign") == campaign
            and j.created < job.created
            and j.started
            and j.finished
        ]
        latest = max(earlier, key=lambda j: j.created, default=None)
        return None if latest is None else latest.elapsed()

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
            job.finished = _now()
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
            job.status, job.started = "running", _now()
            self._save(job)

    def _save(self, job: Job) -> None:
        computed = ("progress", "files", "elapsed_s", "remaining_s", "estimate_from")
        record = {k: v for k, v in job.to_dict().items() if k not in computed}
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
                record.get("started"),
                record.get("finished"),
            )
            if job.status not in FINISHED:
                _stop_leftover(record.get("pid"))
                job.status, job.error = self._outcome_after_restart(job)
                self._save(job)
            self._jobs[job.id] = job

    def _outcome_after_restart(self, job: Job) -> tuple[str, str | None]:
        """A job the server stopped during: a propose whose round is in the database succeeded, and
        so did a fit whose reward model is."""
        if job.kind == "propose" and self.db_url and job.params.get("campaign"):
            from chemloop.loop.campaign_reads import rounds_since

            try:
                stored = rounds_since(self.db_url, job.params["campaign"], job.created)
            except ChemloopError:
                stored = []
            if stored:
                note = f"round {stored[0]} was stored; the server stopped before the job reported it"
                return "done", note
        if job.kind in FIT_KINDS and self.db_url and job.params.get("campaign"):
            from chemloop.loop.campaign_reads import fits_since

            try:
                fitted = fits_since(self.db_url, job.params["campaign"], job.created)
            except ChemloopError:
                fitted = 0
            if fitted:
                return "done", "the reward model was stored; the server stopped before the job reported it"
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
        budget = config.run.budget
        _write_json(
            folder / "progress.json",
            {
                "step": progress.step.step,
                "oracle_calls": progress.calls,
                "budget": budget,
                "best": progress.best,
                "mean": progress.step.mean_score,
                "validity": progress.step.validity,
                "scaffolds": progress.scaffolds,
                # The budget is what ends a run (a plateau may end it sooner): its share spent is the
                # fraction done.
                "fraction": round(min(1.0, progress.calls / budget), 4) if budget else None,
                "message": f"RL step {progress.step.step}: {progress.calls}/{budget} oracle calls",
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

    result = propose(
        connect(db_url), campaign, batch, output=folder / "proposals.csv", progress=_progress_file(folder)
    )
    done = f"proposed {len(result.smiles)} molecules as round {result.round}"
    _write_json(
        folder / "progress.json",
        {"round": result.round, "proposed": len(result.smiles), "fraction": 1.0, "message": done},
    )


def _run_fit(db_url: str, campaign: str, folder: str, threads: int, server_pid: int) -> None:
    _in_child(_fit, folder, threads, server_pid, db_url, campaign)


def _fit(db_url: str, campaign: str, folder: Path) -> None:
    from chemloop.loop.campaign import refit
    from chemloop.loop.store import connect

    quality = refit(connect(db_url), campaign, progress=_progress_file(folder))
    done = "reward model fitted" if quality else "too few results to fit a reward model yet"
    _write_json(folder / "progress.json", {"fitted": quality is not None, "fraction": 1.0, "message": done})


def _progress_file(folder: Path):
    """A progress callback (:mod:`chemloop.loop.progress`) that keeps the latest report in the job's
    ``progress.json``, where every reader (a page reload, a second browser, the API) finds it."""

    def report(progress) -> None:
        _write_json(
            folder / "progress.json",
            {
                "stage": progress.stage,
                "done": progress.done,
                "total": progress.total,
                "unit": progress.unit,
                "fraction": progress.fraction,
                "message": progress.words(),
                "updated": _now(),
            },
        )

    return report
