"""``oracle_calls.csv``: one row per unique oracle call, appended as the run goes, so a
killed run keeps every call it paid for and a resumed run never repeats one. Each row says where
the molecule came from (``agent``: sampled by the agent; ``ga``: GA offspring of the memory).
:func:`read_scores` reads its scores back the way every curve, plateau and benchmark counts them."""

from __future__ import annotations

import csv
from pathlib import Path

from chemloop.score.scorer import Scored

SOURCES = ("agent", "ga")


class OracleLog:
    def __init__(self, path: Path, labels: list[str]) -> None:
        self.path, self.labels = path, labels
        # Logs written before the source column lack it; a resumed one is continued without it.
        self.legacy_header = ["call", "smiles", "score", *(f"{x}_raw" for x in labels), *labels]
        self.header = [*self.legacy_header, "source"]

    def _existing_header(self) -> list[str] | None:
        if not self.path.exists():
            return None
        with self.path.open(newline="") as handle:
            return next(csv.reader(handle), None)

    def _rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames not in (self.header, self.legacy_header):
                raise ValueError(f"{self.path} has columns {reader.fieldnames}, expected {self.header}")
            return list(reader)

    def read(self) -> list[Scored]:
        """The calls logged so far (empty if there is no log yet)."""
        if not self.path.exists():
            return []
        calls = []
        for number, row in enumerate(self._rows(), start=1):
            if int(row["call"]) != number:
                raise ValueError(f"{self.path} row {number}: call number {row['call']} is out of order")
            raw = {x: float(row[f"{x}_raw"]) for x in self.labels}
            transformed = {x: float(row[x]) for x in self.labels}
            calls.append(Scored(row["smiles"], row["smiles"], float(row["score"]), raw, transformed))
        return calls

    def append(self, calls: list[Scored], first_number: int, sources: list[str] | None = None) -> None:
        """Write ``calls``, numbered from ``first_number``, each with its source (default ``agent``);
        the header comes with the first row."""
        sources = sources if sources is not None else ["agent"] * len(calls)
        if len(sources) != len(calls):
            raise ValueError(f"{len(calls)} calls but {len(sources)} sources")
        existing = self._existing_header()
        with_source = existing != self.legacy_header
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if existing is None:
                writer.writerow(self.header)
            for number, (call, source) in enumerate(zip(calls, sources, strict=True), start=first_number):
                raw = [call.raw[x] for x in self.labels]
                row = [number, call.canonical, call.score, *raw, *(call.transformed[x] for x in self.labels)]
                writer.writerow([*row, source] if with_source else row)


def counted(score: float) -> float:
    """A call's score as curves, plateaus and benchmarks count it: an unscorable molecule's NaN is 0,
    as PMO's oracles make it."""
    return 0.0 if score != score else score


def read_scores(path: Path) -> list[float]:
    """The score of every call in an ``oracle_calls.csv``, in call order, each :func:`counted`."""
    with Path(path).open(newline="") as handle:
        return [counted(float(row["score"] or "nan")) for row in csv.DictReader(handle)]


def read_sources(path: Path) -> list[str]:
    """Where every call's molecule came from, in call order (``agent`` where the log has no column)."""
    with Path(path).open(newline="") as handle:
        return [row.get("source") or "agent" for row in csv.DictReader(handle)]
