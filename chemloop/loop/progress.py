"""Progress of a long campaign operation (the first reward-model fit of a new campaign, a propose,
the refit after an import), reported through a callback as steps of named stages.

The operation only says what it is doing ("fine-tuning", epoch 2 of 3); the caller decides where
that goes (a background job writes it to a file its web page polls; the command line may print
it). Each stage carries a rough relative cost, so one number, the fraction of the whole operation
done, can drive a progress bar and an estimate of the time left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    stage: str  # what runs now, in words: "fine-tuning", "RL"
    done: int  # steps of this stage done
    total: int  # steps of this stage
    unit: str  # what a step is: "epochs", "steps", "folds" ("" for a one-step stage)
    fraction: float  # of the whole operation, 0–1, weighted by the stages' rough costs

    def words(self) -> str:
        """E.g. "fine-tuning: 2/3 epochs"; a stage of one step is just its name."""
        if self.total <= 1 and not self.unit:
            return self.stage
        return f"{self.stage}: {self.done}/{self.total} {self.unit}".rstrip()


ProgressCallback = Callable[[Progress], None]


class Stages:
    """The stages an operation will run, in order, with their rough relative costs (any unit: only
    the ratios matter); :meth:`step` turns "stage S, d of n done" into a :class:`Progress`."""

    def __init__(self, report: ProgressCallback | None, costs: Mapping[str, float]) -> None:
        self._report = report
        total = sum(max(0.0, c) for c in costs.values()) or 1.0
        self._span: dict[str, tuple[float, float]] = {}  # stage -> (fraction before it, its share)
        before = 0.0
        for stage, cost in costs.items():
            share = max(0.0, cost) / total
            self._span[stage] = (before, share)
            before += share

    def step(self, stage: str, done: int, total: int = 1, unit: str = "") -> None:
        """Report that ``done`` of the ``total`` steps of ``stage`` are done."""
        if self._report is None:
            return
        start, share = self._span[stage]
        within = min(1.0, done / total) if total > 0 else 1.0
        self._report(Progress(stage, done, total, unit, round(min(1.0, start + share * within), 4)))

    def within(self, stage: str) -> ProgressCallback | None:
        """A callback for a nested operation run as ``stage`` (a refit inside a propose): its own
        stages are reported as they are, its fraction scaled into this stage's share."""
        if self._report is None:
            return None
        start, share = self._span[stage]
        report = self._report

        def nested(inner: Progress) -> None:
            fraction = round(min(1.0, start + share * inner.fraction), 4)
            report(Progress(inner.stage, inner.done, inner.total, inner.unit, fraction))

        return nested
