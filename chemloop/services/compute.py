"""Chemistry that a request pays for runs in worker processes, not in the server.

A scoring request brings its own parameters: a SMARTS whose matching time grows exponentially
with its length, a reference molecule, a list of molecules. Run in the server's own process,
one such request holds a core that nothing can take back, and an RDKit crash (a stack overflow
on a pathological molecule) takes the whole server down. Here each call runs in a pebble worker:
past ``compute_timeout_s`` the worker is killed and replaced, a crash costs only that worker,
and its memory is capped, so the request gets a 422 naming the limit while the server answers on.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool

from chemloop.errors import ChemloopError

Run = Callable[..., Any]  # how an operation calls a function: here, or in a ComputePool's workers


def call_here(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


class ComputeLimitError(ChemloopError):
    """A request's computation ran past a limit (time, memory) or crashed its worker."""


def _limit_memory(max_bytes: int) -> None:
    # The data segment (heap and anonymous maps), not the address space: imported libraries map
    # large address ranges they never touch.
    resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))


class ComputePool:
    """Worker processes started on first use, each call bounded in time and memory."""

    def __init__(self, workers: int, timeout_s: float, memory_mb: int) -> None:
        self.workers, self.timeout_s, self.memory_mb = workers, timeout_s, memory_mb
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def _get(self) -> ProcessPool:
        with self._lock:
            if self._pool is None or not self._pool.active:
                self._pool = ProcessPool(
                    max_workers=self.workers,
                    initializer=_limit_memory,
                    initargs=(self.memory_mb * 2**20,),
                    # spawn: a fork of a threaded server can inherit held locks and deadlock
                    context=multiprocessing.get_context("spawn"),
                )
            return self._pool

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker; :class:`ComputeLimitError` if it hits a limit or crashes."""
        future = self._get().schedule(function, args=args, timeout=self.timeout_s)
        try:
            return future.result()
        except FutureTimeout:
            raise ComputeLimitError(
                f"the computation took longer than this server's limit of {self.timeout_s:g} s per "
                "request (compute_timeout_s): send fewer molecules or simpler parameters"
            ) from None
        except MemoryError:
            raise ComputeLimitError(
                f"the computation needed more than this server's limit of {self.memory_mb} MB "
                "(compute_memory_mb): send fewer molecules or simpler parameters"
            ) from None
        except ProcessExpired as err:
            raise ComputeLimitError(
                f"the computation crashed its worker process (exit code {err.exitcode}); the molecules "
                "or parameters of this request cannot be computed"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join(timeout=5)
                self._pool = None
