"""``oracle_calls.csv``: one row per unique oracle call, appended as the run goes, so a
killed run keeps every call it paid for and a resumed run never repeats one. :func:`read_scores`
reads its scores back the way every curve, plateau and benchmark counts them."""

from __future__ import annotations

import csv
from pathlib import Path

from chemloop.score.scorer import Scored


class OracleLog:
    def __init__(self, path: Path, labels: list[str]) -> None:
        self.path, self.labels = path, labels
        self.header = ["call", "smiles", "score", *(f"{x}_raw" for x in labels), *labels]

    def read(self) -> list[Scored]:
        """The calls logged so far (empty if there is no log yet)."""
        if not self.path.exists():
            return []
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != self.header:
                raise ValueError(f"{self.path} has columns {reader.fieldnames}, expected {self.header}")
            calls = []
            for number, row in enumerate(reader, start=1):
                if int(row["call"]) != number:
                    raise ValueError(f"{self.path} row {number}: call number {row['call']} is out of order")
                raw = {x: float(row[f"{x}_raw"]) for x in self.labels}
                transformed = {x: float(row[x]) for x in self.labels}
                calls.append(Scored(row["smiles"], row["smiles"], float(row["score"]), raw, transformed))
            return calls

    def append(self, calls: list[Scored], first_number: int) -> None:
        """Write ``calls``, numbered from ``first_number``; the header comes with the first row."""
        new_file = not self.path.exists()
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(self.header)
            for number, call in enumerate(calls, start=first_number):
                raw = [call.raw[x] for x in self.labels]
                writer.writerow(
                    [number, call.canonical, call.score, *raw, *(call.transformed[x] for x in self.labels)]
                )


def counted(score: float) -> float:
    """A call's score as curves, plateaus and benchmarks count it: an unscorable molecule's NaN is 0,
    as PMO's oracles make it."""
    return 0.0 if score != score else score


def read_scores(path: Path) -> list[float]:
    """The score of every call in an ``oracle_calls.csv``, in call order, each :func:`counted`."""
    with Path(path).open(newline="") as handle:
        return [counted(float(row["score"] or "nan")) for row in csv.DictReader(handle)]
