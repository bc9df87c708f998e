"""The campaign-flow fuzz's model of what each campaign holds (test_campaign_fuzz.py): the
molecules measured, the preferences and ratings stored, and which results a correct server stores
again or leaves out as stored before."""

from __future__ import annotations

from dataclasses import dataclass, field

from campaign_fuzz_inputs import Upload


@dataclass
class Stored:
    """What a campaign holds, as the machine expects the server to report it."""

    exists: bool = False
    archived: bool = False
    molecules: set[int] = field(default_factory=set)  # measured, exactly or censored
    preferences: int = 0
    ratings: int = 0
    undoable: int = 0  # preferences recorded one by one (POST …/preferences), not yet taken back
    digests: set[tuple] = field(default_factory=set)  # results stored, by their parsed rows
    job: str | None = None  # a propose job waiting in the queue
    stored_files: list[bytes] = field(default_factory=list)  # results files imported (new rows)
    stored_sheets: list[Upload] = field(default_factory=list)  # the values files among them
    notes: dict[str, int] = field(default_factory=dict)  # by molecule key
    results: set[tuple] = field(default_factory=set)  # every result stored from a file, by result_key
    measured: dict[int, list[float]] = field(default_factory=dict)  # exact values, by molecule

    def new_results(self, kind: str, rows: list[tuple]) -> list[tuple]:
        """The rows of a results file a correct server stores: those no earlier file stored (nor,
        for values, a molecule's exported mean of two or more measurements); repeats within the
        file are replicates, all stored."""
        known = set(self.results)
        if kind == "values":
            known |= {(m, six_digits(sum(v) / len(v)), None) for m, v in self.measured.items() if len(v) > 1}
        return [row for row in rows if result_key(kind, row) not in known]

    def remember(self, kind: str, rows: list[tuple]) -> None:
        """Rows just stored (from a results or seed file)."""
        self.results |= {result_key(kind, row) for row in rows}
        if kind == "values":
            self.molecules |= {row[0] for row in rows}
            for molecule, value, _, qualifier in rows:
                if qualifier is None:
                    self.measured.setdefault(molecule, []).append(value)
        elif kind == "preferences":
            self.preferences += len(rows)
        else:
            self.ratings += len(rows)


def six_digits(value: float) -> float:
    return float(f"{value:.6g}")


def result_key(kind: str, row: tuple) -> tuple:
    """What makes two results the same (as the server decides): the molecules and the numbers to 6
    significant digits, a censored value's qualifier but not its std, a choice either way round."""
    if kind == "values":
        molecule, value, std, qualifier = row
        if qualifier is not None:
            return (molecule, six_digits(value), qualifier)
        return (molecule, six_digits(value), None if std is None else six_digits(std))
    if kind == "preferences":
        a, b, choice = row
        return (a, b, choice) if a <= b else (b, a, "b" if choice == "a" else "a")
    return row
