"""What the operations share: the campaign database, the job manager, the language model.

Each face holds one :class:`Workspace` (the HTTP app for its lifetime, the MCP server for its
connection, a CLI command for its run) and passes it to the operations of :mod:`chemloop.services`.
Nothing is opened before it is used: a server that only scores never loads torch weights, and a
CLI command that reads a campaign never starts the job manager.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from chemloop.jobs import JobManager
from chemloop.loop.store import DEFAULT_DB, connect
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import pick_device
from chemloop.services.settings import ServeSettings


class Workspace:
    """The database at ``db_url``, jobs under ``runs_dir``, the model ``model`` (a shipped prior's
    name or a checkpoint folder); ``max_running_jobs`` jobs run at once, more wait in a queue."""

    def __init__(
        self,
        db_url: str = DEFAULT_DB,
        runs_dir: str | Path = "runs",
        model: str = checkpoint.DEFAULT_PRIOR,
        max_running_jobs: int = 1,
    ) -> None:
        self.db_url = db_url
        self.runs_dir = Path(runs_dir)
        self.model_name = model
        self.max_running_jobs = max_running_jobs
        self.sampling = threading.Lock()  # one sampling run at a time: each already uses every core
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._factory: sessionmaker[Session] | None = None
        self._jobs: JobManager | None = None
        self._model: LanguageModel | None = None

    @classmethod
    def from_env(cls, db_url: str | None = None) -> Workspace:
        """The database ``db_url``, else ``$CHEMLOOP_DB``, else the default SQLite file."""
        return cls(db_url or os.environ.get("CHEMLOOP_DB") or DEFAULT_DB)

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> Workspace:
        return cls(settings.db_url, settings.runs_dir, settings.model, settings.max_running_jobs)

    @property
    def factory(self) -> sessionmaker[Session]:
        """Sessions of the campaign database (its tables are created on first use)."""
        with self._lock:
            if self._factory is None:
                self._factory = connect(self.db_url)
            return self._factory

    @property
    def jobs(self) -> JobManager:
        """The background jobs (optimize runs, propose rounds), with those of an earlier run of the server."""
        with self._lock:
            if self._jobs is None:
                self._jobs = JobManager(self.runs_dir, max_running=self.max_running_jobs, db_url=self.db_url)
            return self._jobs

    @jobs.setter
    def jobs(self, manager: JobManager) -> None:
        """Use ``manager`` for the jobs from now on (a test's queue that never runs them, say)."""
        with self._lock:
            self._jobs = manager

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    def model(self) -> LanguageModel:
        """The language model, loaded on first use (GPU if there is one)."""
        with self._model_lock:
            if self._model is None:
                self._model = checkpoint.load(self.model_name, pick_device("auto"))
            return self._model

    def check_model(self) -> None:
        """Fail now, naming it, if the model cannot be found (a server checks this when it starts)."""
        checkpoint.resolve(self.model_name)

    def close(self) -> None:
        """Stop the jobs this workspace started (a server that stops leaves no orphaned process)."""
        with self._lock:
            if self._jobs is not None:
                self._jobs.shutdown()
                self._jobs = None
