"""Where docking calls run: ``local`` worker processes on this machine, or ``ray`` tasks on a
Ray cluster. Both yield results as calls finish, so each is cached as soon as it exists."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from chemloop.dock.call import DockResult, DockSettings, check_tools, dock_prepared
from chemloop.dock.target import Target
from chemloop.errors import ChemloopError


class Backend(Protocol):
    def run(self, smiles: Sequence[str], target: Target, settings: DockSettings) -> Iterator[DockResult]:
        """Dock each of ``smiles`` against ``target``; yield the results in the order they finish."""
        ...


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use, not the machine's
    except AttributeError:
        return os.cpu_count() or 1


class LocalBackend:
    """``workers`` docking processes at once (default: one per core, ``cpus`` cores each)."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ChemloopError(f"docking workers must be at least 1, got {workers}")
        self.workers = workers

    def run(self, smiles: Sequence[str], target: Target, settings: DockSettings) -> Iterator[DockResult]:
        if not smiles:
            return
        check_tools()
        receptor, config = target.receptor.read_text(), target.vina_config(settings.exhaustiveness)
        workers = self.workers or max(1, _cpu_count() // settings.cpus)
        # Threads only wait: each call runs in its own child process (see chemloop.dock.call).
        pool = ThreadPoolExecutor(max_workers=min(workers, len(smiles)), thread_name_prefix="dock")
        try:
            futures = [
                pool.submit(
                    dock_prepared,
                    s,
                    receptor,
                    config,
                    seed=settings.seed,
                    cpus=settings.cpus,
                    timeout=settings.timeout,
                    target_name=target.name,
                )
                for s in smiles
            ]
            for future in as_completed(futures):
                yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class RayBackend:
    """One Ray task per molecule (``cpus`` Ray CPUs each) on the cluster at ``address``, or on a
    local Ray started with ``num_cpus`` when no address is given and Ray is not running yet.

    Every node needs chemloop with the docking extra installed.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._remote: dict[int, Any] = {}

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ChemloopError("the ray docking backend needs Ray: pip install 'chemloop[ray]'") from None
        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, logging_level=logging.WARNING)
                else:
                    ray.init(num_cpus=self.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = f"at {self.address!r}" if self.address else "locally"
                raise ChemloopError(f"could not start or reach a Ray cluster {where}: {err}") from None
        return ray

    def run(self, smiles: Sequence[str], target: Target, settings: DockSettings) -> Iterator[DockResult]:
        if not smiles:
            return
        ray = self._ray()
        if settings.cpus not in self._remote:
            # No retries: a failed docking fails again; a lost node shows up as a transient error.
            self._remote[settings.cpus] = ray.remote(num_cpus=settings.cpus, max_retries=0)(dock_prepared)
        remote = self._remote[settings.cpus]
        receptor = ray.put(target.receptor.read_text())  # shipped to each node once, not per task
        config = target.vina_config(settings.exhaustiveness)
        pending = {
            remote.remote(
                s,
                receptor,
                config,
                seed=settings.seed,
                cpus=settings.cpus,
                timeout=settings.timeout,
                target_name=target.name,
            ): s
            for s in smiles
        }
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    s = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as err:  # a worker or node died: say so, do not stop the batch
                        yield DockResult(s, error=f"Ray task docking {s!r} failed: {err}", transient=True)
        finally:
            for ref in pending:  # the consumer stopped early: do not leave work queued
                ray.cancel(ref, force=True)


BACKENDS = ("local", "ray")


def make_backend(
    kind: str, *, workers: int | None = None, ray_address: str | None = None, ray_cpus: int | None = None
) -> Backend:
    """The backend called ``kind``: 'local' (``workers`` processes) or 'ray'."""
    if kind == "local":
        return LocalBackend(workers)
    if kind == "ray":
        return RayBackend(ray_address, ray_cpus)
    raise ChemloopError(f"unknown docking backend {kind!r}; choose from {', '.join(BACKENDS)}")
