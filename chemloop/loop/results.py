"""Results of a campaign's lab work: read a results table (measured values, pairwise preferences
or 1–5 ratings) with every bad row named, check which molecules the campaign proposed, and store
them once (the same results imported again change nothing), then refit the reward model.

A chemist fills in the proposals they exported as results come back and imports the sheet again:
a row whose value is still blank holds no result and is left out (not a bad row), and a row an
earlier file already stored, molecule and number alike, is left out rather than stored twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.mol import parent_smiles
from chemloop.errors import ChemloopError
from chemloop.loop import people, reward_store
from chemloop.loop.columns import RECOGNISED, ColumnChoice, ColumnMap, map_columns
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import (
    MAX_COMPOUND_ID_LENGTH,
    Campaign,
    CensoredMeasurement,
    CompoundId,
    ImportedFile,
    Measurement,
    Preference,
    Proposal,
    Rating,
    Round,
    get_campaign,
    lock_campaign,
    session_scope,
)
from chemloop.reward.data import (
    MAX_REPORTED,
    CsvTable,
    FeedbackError,
    feedback_file,
    read_measured_values,
    read_preferences,
    read_ratings,
)


@dataclass
class ResultRows:
    kind: str  # "values", "preferences" or "ratings"
    # (smiles, value, std), or (smiles, bound, std, qualifier) for a censored value such as "<5";
    # (smiles_a, smiles_b, preferred) or (smiles, rating). SMILES canonical.
    rows: list[tuple]
    sha256: str  # of the parsed rows (see rows_digest): line endings, spelling and order do not matter
    filename: str
    row_numbers: list[int]  # each row's line in the file (header = 1; blank lines are skipped)
    file_sha256: str = ""  # of the file's bytes: how imports were recognised before rows_digest
    skipped: list[tuple[int, str]] = field(default_factory=list)  # bad rows left out: (row, reason)
    columns: ColumnMap | None = None  # the file's headers read as the SMILES, value and id columns
    # Each row's compound id from the file's id column (None: blank); empty when it has no id column.
    # Not part of ``sha256``: the same results with ids added are the same results.
    ids: list[str | None] = field(default_factory=list)
    # Rows naming a molecule whose result cell is blank (not measured yet), left out: (row, why).
    no_result: list[tuple[int, str]] = field(default_factory=list)

    def without(self, reasons: list[tuple[int, str]]) -> ResultRows:
        """These results without the rows named in ``reasons`` (row, why), which join ``skipped``."""
        drop = {row for row, _ in reasons}
        ids = self.ids or [None] * len(self.rows)
        kept = [(n, r, i) for n, r, i in zip(self.row_numbers, self.rows, ids, strict=True) if n not in drop]
        rows = [r for _, r, _ in kept]
        return ResultRows(
            self.kind,
            rows,
            rows_digest(self.kind, rows),
            self.filename,
            [n for n, _, _ in kept],
            self.file_sha256,
            sorted(self.skipped + reasons),
            self.columns,
            [i for _, _, i in kept] if self.ids else [],
            self.no_result,
        )


def rows_digest(kind: str, rows: list[tuple]) -> str:
    """One digest per set of results: the same molecules and numbers give the same digest whatever
    the file's line endings, SMILES spellings, column order or row order."""
    canonical_rows = sorted(json.dumps(list(row)) for row in rows)
    return hashlib.sha256(json.dumps([kind, canonical_rows]).encode()).hexdigest()


def read_results(
    source: str | Path | CsvTable, columns: ColumnChoice = RECOGNISED, skip_bad_rows: bool = False
) -> ResultRows:
    """Read results (``smiles,value[,std]``, ``smiles_a,smiles_b,preferred`` or ``smiles,rating``)
    from a CSV file's path or a :class:`CsvTable` without storing them: every bad row is reported by
    number (a :class:`FeedbackError` whose ``problems`` list them), so a page can preview them first.

    The SMILES and value columns may have other names (``SMILES,pIC50``: see
    :mod:`chemloop.loop.columns`; ``columns`` names them when they are not recognised), and a value
    may be censored (``<5``). With ``skip_bad_rows`` the good rows are read and the bad ones listed
    in ``skipped``; a file without a single good row, or one that cannot be read at all, still fails.
    """
    table = source if isinstance(source, CsvTable) else feedback_file(source)
    try:
        return _read_rows(table, columns)
    except FeedbackError as err:
        if not skip_bad_rows or not err.problems:
            raise  # all or nothing; or the file itself is wrong (columns, encoding), not some rows
        bad = {row for row, _ in err.problems}
        # Bad rows become blank lines: the reader skips those, and the others keep their numbers.
        lines = [[] if n in bad else line for n, line in enumerate(table.lines, start=2)]
        try:
            # Without `unreadable`: those rows are bad rows, now blank like the others.
            results = _read_rows(CsvTable(table.source, table.header, lines, table.sha256), columns)
        except FeedbackError:
            raise FeedbackError(f"{err} (no good rows to store)", problems=err.problems) from None
        results.skipped = sorted(err.problems)
        return results


# The cells that hold a row's result, by kind: a row with all of them blank holds none yet.
RESULT_CELLS = {"values": ("value", "std"), "preferences": ("preferred",), "ratings": ("rating",)}
NO_RESULT = {"values": "no value yet", "preferences": "no choice yet", "ratings": "no rating yet"}


def results_kind(columns: set[str]) -> str | None:
    """The kind of results a table's (mapped) columns hold: values, preferences or ratings (None:
    none of them)."""
    if {"smiles", "value"} <= columns:
        return "values"
    if {"smiles_a", "smiles_b", "preferred"} <= columns:
        return "preferences"
    if {"smiles", "rating"} <= columns:
        return "ratings"
    return None


def _without_empty_results(table: CsvTable, kind: str) -> tuple[CsvTable, list[tuple[int, str]]]:
    """``table`` with the rows whose result cells are all blank made blank lines (which the readers
    skip, the other rows keeping their numbers), and those rows as (row, why). An SD record RDKit
    cannot read has blank cells too: it stays a bad row."""
    names = [h.strip().lower() for h in table.header or []]
    cells = [names.index(c) for c in RESULT_CELLS[kind] if c in names]
    lines, empty = [], []
    for number, line in enumerate(table.lines, start=2):
        filled = any(cell.strip() for cell in line)
        if (
            filled
            and number not in table.unreadable
            and not any(i < len(line) and line[i].strip() for i in cells)
        ):
            empty.append((number, NO_RESULT[kind]))
            line = []
        lines.append(line)
    if not empty:
        return table, []
    if not any(lines):
        raise FeedbackError(
            f"{table.source}: none of its {len(empty)} rows has a result yet (every {RESULT_CELLS[kind][0]} "
            "cell is blank); fill in the results measured so far and import it again"
        )
    return dataclasses.replace(table, lines=lines), empty


def _read_rows(table: CsvTable, choice: ColumnChoice) -> ResultRows:
    table, found = map_columns(table, choice)
    columns = table.columns
    kind = results_kind(columns)
    no_result: list[tuple[int, str]] = []
    if kind is not None:
        table, no_result = _without_empty_results(table, kind)
    numbers = [n for n, line in enumerate(table.lines, start=2) if any(cell.strip() for cell in line)]
    ids: list[str | None] = []
    if kind == "values":
        ids, id_problems = _compound_ids(table, found.id, numbers) if found.id else ([], [])
        try:
            values = read_measured_values(table)
        except FeedbackError as err:  # every bad row in one error, a too-long id's among them
            if not err.problems or not id_problems:
                raise
            raise _bad_rows(table, sorted(err.problems + id_problems), len(numbers)) from None
        if id_problems:
            raise _bad_rows(table, id_problems, len(numbers))
        # An exact value keeps the row's old shape (and so its digest); a censored one adds its qualifier.
        rows = [
            (s, float(v), d, *((q,) if q else ()))
            for s, v, d, q in zip(values.smiles, values.values, values.std, values.qualifiers, strict=True)
        ]
    elif kind == "preferences":
        prefs = read_preferences(table)
        rows = list(zip(prefs.smiles_a, prefs.smiles_b, prefs.preferred, strict=True))
    elif kind == "ratings":
        ratings = read_ratings(table)
        rows = [(s, int(r)) for s, r in zip(ratings.smiles, ratings.ratings, strict=True)]
    else:
        raise FeedbackError(
            f"{table.source}: columns {sorted(columns)} are none of smiles,value[,std], "
            "smiles_a,smiles_b,preferred or smiles,rating"
        )
    return ResultRows(
        kind,
        rows,
        rows_digest(kind, rows),
        Path(table.source).name,
        numbers,
        table.sha256,
        columns=found,
        ids=ids,
        no_result=no_result,
    )


def _compound_ids(
    table: CsvTable, column: str, numbers: list[int]
) -> tuple[list[str | None], list[tuple[int, str]]]:
    """The cell of ``column`` (the id column) in each row of ``numbers`` (the rows read, each a line
    of the file), None where blank; and the rows whose id is too long to be a compound id (bad rows,
    as a bad value makes one), as (row, reason)."""
    index = (table.header or []).index(column)
    ids: list[str | None] = []
    problems: list[tuple[int, str]] = []
    for number in numbers:
        line = table.lines[number - 2]
        cell = " ".join(line[index].split()) if index < len(line) else ""  # no line breaks in an id
        if len(cell) > MAX_COMPOUND_ID_LENGTH:
            too_long = f"compound id {cell[:40] + '…'!r} is longer than {MAX_COMPOUND_ID_LENGTH} characters"
            problems.append((number, too_long))
        ids.append(cell or None)
    return ids, problems


def _bad_rows(table: CsvTable, problems: list[tuple[int, str]], count: int) -> FeedbackError:
    """One error listing every bad row, worded as the readers of :mod:`chemloop.reward.data` word it."""
    shown = "; ".join(f"row {row}: {message}" for row, message in problems[:MAX_REPORTED])
    more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
    bad = len({row for row, _ in problems})
    return FeedbackError(f"{table.source}: {bad} bad row(s) of {count}: {shown}{more}", problems=problems)


def import_results(
    factory: sessionmaker[Session],
    name: str,
    results: str | Path | CsvTable | ResultRows,
    external: bool = False,
    user: str | None = None,
    fit_reward: bool = True,
) -> dict:
    """Store results (a file, a table or rows already read; one transaction), then refit the reward model
    (``fit_reward=False``: leave that to ``refit``, e.g. in a background job).

    The same results (by their parsed rows, see :func:`rows_digest`) imported again change
    nothing, also when two imports of them race: the loser answers "already imported". A molecule
    the campaign never proposed is rejected, naming its row, unless ``external``.
    """
    if not isinstance(results, ResultRows):
        results = read_results(results)
    already = {
        "campaign": name,
        "imported": 0,
        "note": f"{results.filename} was already imported; nothing changed",
    }
    try:
        with session_scope(factory) as session:
            campaign = get_campaign(session, name)
            lock_campaign(session, campaign.id)  # what is stored already must not change under us
            config = CampaignConfig.model_validate_json(campaign.config_json)
            digests = [results.sha256, results.file_sha256]
            duplicate = session.scalar(
                select(ImportedFile).where(
                    ImportedFile.campaign_id == campaign.id, ImportedFile.sha256.in_(digests)
                )
            )
            if duplicate is not None:
                return already
            results = _in_proposed_forms(session, campaign.id, results)
            stored_before = _stored_before(session, campaign.id, results)
            leave_out = {row for row, _ in stored_before}
            if len(leave_out) == len(results.rows) and _compound_ids_known(session, campaign.id, results):
                note = f"every result in {results.filename} is already stored; nothing changed"
                return {**already, "kind": results.kind, "note": note} | _not_stored(results, stored_before)
            count = store_results(session, campaign, results, external, leave_out)
            campaign_id = campaign.id
            attribute_file(session, campaign_id, results.sha256, user)
    except IntegrityError:  # the same results stored by a concurrent import (unique per campaign)
        return already
    if fit_reward and count:
        reward_store.refit(factory, campaign_id, config)
    return {"campaign": name, "imported": count, "kind": results.kind} | _not_stored(results, stored_before)


def _not_stored(results: ResultRows, stored_before: list[tuple[int, str]]) -> dict[str, list[dict]]:
    """What an import answers about the rows it did not store: ``skipped`` (bad rows, with
    ``skip_bad_rows``) and ``left_out`` (rows with no result yet, or ``stored_before``), each a
    {row, message} per row."""
    return {"skipped": _listed(results.skipped), "left_out": _listed(results.no_result + stored_before)}


def _listed(rows: list[tuple[int, str]]) -> list[dict]:
    return [{"row": row, "message": message} for row, message in sorted(rows)]


def six_digits(value: float) -> float:
    """``value`` to 6 significant digits, as chemloop's exports write numbers (a measured mean of
    6.123456789 is exported as 6.12346): how an exported value is recognised when it comes back."""
    return float(f"{value:.6g}")


def _result_key(kind: str, row: tuple) -> tuple:
    """What makes two rows the same result: the molecule(s) and the numbers (to 6 significant
    digits) or choice (a preference written the other way round is the same choice; a censored
    value keeps its qualifier, not a std)."""
    if kind == "preferences":
        a, b, preferred = row
        return (a, b, preferred) if a <= b else (b, a, "b" if preferred == "a" else "a")
    if kind == "ratings":
        return tuple(row)
    if len(row) == 4:
        smiles, bound, _, qualifier = row
        return (smiles, six_digits(bound), qualifier)
    smiles, value, std = row
    return (smiles, six_digits(value), None if std is None else six_digits(std))


def _stored_results(session: Session, campaign_id: int, kind: str) -> dict[tuple, str]:
    """The results of ``kind`` the campaign stored from files, by :func:`_result_key`, each with
    where it came from ("from FILE"); for values also each molecule's mean over two or more
    measurements without a std, as the campaign's export writes it in ``measured``. A choice made on
    a page or by an AI judge is not from a file: a chemist's file making the same one still counts."""
    tables = {
        "values": [
            (Measurement, (Measurement.smiles, Measurement.value, Measurement.std)),
            (
                CensoredMeasurement,
                (CensoredMeasurement.smiles, CensoredMeasurement.bound, CensoredMeasurement.qualifier),
            ),
        ],
        "preferences": [(Preference, (Preference.smiles_a, Preference.smiles_b, Preference.preferred))],
        "ratings": [(Rating, (Rating.smiles, Rating.rating))],
    }[kind]
    stored: dict[tuple, str] = {}
    for table, columns in tables:
        query = (
            select(*columns, ImportedFile.filename)
            .join(ImportedFile, table.file_id == ImportedFile.id)
            .where(table.campaign_id == campaign_id)
        )
        for *cells, filename in session.execute(query):
            row = tuple(cells) if table is not CensoredMeasurement else (cells[0], cells[1], None, cells[2])
            stored.setdefault(_result_key(kind, row), f"from {filename}")
    if kind == "values":
        means = session.execute(
            select(Measurement.smiles, func.avg(Measurement.value), func.count())
            .where(Measurement.campaign_id == campaign_id)
            .group_by(Measurement.smiles)
            .having(func.count() > 1)
        )
        for smiles, mean, n in means:
            stored.setdefault(_result_key(kind, (smiles, mean, None)), f"as the mean of its {n} measurements")
    return stored


def _in_proposed_forms(session: Session, campaign_id: int, results: ResultRows) -> ResultRows:
    """``results`` with each molecule the campaign proposed in another form under its proposed SMILES."""
    return _as_proposed(results, _match_proposals(results, _proposed_in(session, campaign_id))[1])


def _stored_before(session: Session, campaign_id: int, results: ResultRows) -> list[tuple[int, str]]:
    """The rows of ``results`` (in proposed forms: :func:`_in_proposed_forms`) stored already (the
    same molecule and result, or its mean as exported), as (row, why): a sheet imported again with
    more results filled in stores the new ones alone. Repeats within one file are replicates and
    all stored."""
    stored = _stored_results(session, campaign_id, results.kind)
    return [
        (number, f"already stored {stored[key]}")
        for number, row in zip(results.row_numbers, results.rows, strict=True)
        if (key := _result_key(results.kind, row)) in stored
    ]


def _compound_ids_known(session: Session, campaign_id: int, results: ResultRows) -> bool:
    """Whether every compound id of ``results`` (in proposed forms) is stored already for its molecule."""
    if not any(results.ids):
        return True
    named = {(row[0], i) for row, i in zip(results.rows, results.ids, strict=True) if i is not None}
    known = session.execute(
        select(CompoundId.smiles, CompoundId.compound_id).where(CompoundId.campaign_id == campaign_id)
    )
    return named <= {tuple(row) for row in known}


def attribute_file(session: Session, campaign_id: int, sha256: str, user: str | None) -> None:
    """Record who uploaded or imported the file just stored (its rows carry its id)."""
    if user is not None:
        file_id = session.scalar(
            select(ImportedFile.id).where(
                ImportedFile.campaign_id == campaign_id, ImportedFile.sha256 == sha256
            )
        )
        people.attribute(session, campaign_id, "file", file_id, user)


def store_results(
    session: Session,
    campaign: Campaign,
    results: ResultRows,
    external: bool,
    leave_out: Set[int] = frozenset(),
) -> int:
    """Store ``results`` as one file's rows (its compound ids with them) but the rows numbered in
    ``leave_out`` (stored already: their compound ids are kept); returns how many rows were stored."""
    proposed_in = _proposed_in(session, campaign.id)
    unknown, other_forms = _match_proposals(results, proposed_in)
    results = _as_proposed(results, other_forms)
    if unknown and not external:
        shown = "; ".join(f"row {n}: {s}" for n, s in unknown[:10])
        raise ChemloopError(
            f"{results.filename}: molecules this campaign never proposed ({shown}); "
            "pass --external to accept results from outside the campaign"
        )
    kept = [
        row for number, row in zip(results.row_numbers, results.rows, strict=True) if number not in leave_out
    ]
    file = ImportedFile(
        campaign_id=campaign.id, sha256=results.sha256, filename=results.filename, rows=len(kept)
    )
    session.add(file)
    session.flush()
    # Each molecule's compound id once per file, however many rows repeat it.
    named = zip((r[0] for r in results.rows), results.ids, strict=True) if results.ids else ()
    for smiles, compound_id in dict.fromkeys(named):
        if compound_id is not None:
            session.add(
                CompoundId(campaign_id=campaign.id, file_id=file.id, smiles=smiles, compound_id=compound_id)
            )
    for row in kept:
        if results.kind == "values":
            # A bound ("<5", four fields) is stored as written, apart from exact values.
            where = {
                "campaign_id": campaign.id,
                "file_id": file.id,
                "smiles": row[0],
                "round_number": proposed_in.get(row[0], 0),
                "external": row[0] not in proposed_in,
            }
            if len(row) == 4:
                session.add(CensoredMeasurement(**where, qualifier=row[3], bound=row[1]))
            else:
                session.add(Measurement(**where, value=row[1], std=row[2]))
        elif results.kind == "ratings":
            session.add(Rating(campaign_id=campaign.id, file_id=file.id, smiles=row[0], rating=row[1]))
        else:
            session.add(
                Preference(
                    campaign_id=campaign.id,
                    file_id=file.id,
                    smiles_a=row[0],
                    smiles_b=row[1],
                    preferred=row[2],
                )
            )
    return len(kept)


def _proposed_in(session: Session, campaign_id: int) -> dict[str, int]:
    """Every molecule the campaign proposed, with the last round that proposed it."""
    return dict(
        session.execute(
            select(Proposal.smiles, func.max(Round.number))
            .join(Round)
            .where(Round.campaign_id == campaign_id)
            .group_by(Proposal.smiles)
        ).all()
    )


def _smiles_of_rows(results: ResultRows) -> list[tuple[str, ...]]:
    return [(r[0], r[1]) if results.kind == "preferences" else (r[0],) for r in results.rows]


def _proposed_forms(results: ResultRows, proposed_in: dict[str, int]) -> dict[str, str]:
    """Each SMILES of ``results`` that the campaign proposed in another form: another protonation
    state or a salt of it (the model writes pH-7 forms; a lab registers neutral parents or salts),
    mapped to the proposed SMILES with the same parent. A parent proposed in two forms matches none."""
    written = {s for group in _smiles_of_rows(results) for s in group if s not in proposed_in}
    if not written:
        return {}
    forms: dict[str, list[str]] = {}
    for proposed in proposed_in:
        forms.setdefault(parent_smiles(proposed), []).append(proposed)
    matches = {s: forms.get(parent_smiles(s), []) for s in written}
    return {s: found[0] for s, found in matches.items() if len(found) == 1}


Unproposed = list[tuple[int, str]]  # (row, SMILES) of molecules the campaign never proposed
OtherForms = list[tuple[int, str, str]]  # (row, as written, as proposed): stored as proposed


def _match_proposals(results: ResultRows, proposed_in: dict[str, int]) -> tuple[Unproposed, OtherForms]:
    """The molecules of ``results`` the campaign never proposed, and those it proposed in another form."""
    forms = _proposed_forms(results, proposed_in)
    unproposed, other_forms = [], []
    for n, group in zip(results.row_numbers, _smiles_of_rows(results), strict=True):
        for s in group:
            if s in forms:
                other_forms.append((n, s, forms[s]))
            elif s not in proposed_in:
                unproposed.append((n, s))
    return unproposed, other_forms


def _as_proposed(results: ResultRows, other_forms: OtherForms) -> ResultRows:
    """``results`` with every molecule written in another form than proposed under its proposed SMILES."""
    if not other_forms:
        return results
    forms = {written: proposed for _, written, proposed in other_forms}
    width = 2 if results.kind == "preferences" else 1  # the leading SMILES fields of a row
    rows = [tuple(forms.get(s, s) for s in row[:width]) + tuple(row[width:]) for row in results.rows]
    return dataclasses.replace(results, rows=rows)


def match_proposals(
    factory: sessionmaker[Session], name: str, results: ResultRows
) -> tuple[Unproposed, OtherForms]:
    """The rows of ``results`` naming a molecule the campaign never proposed (``import_results``
    rejects them unless ``external``), and those naming a proposed one in another form (stored under
    the SMILES it was proposed as): what a preview shows before anything is stored."""
    with session_scope(factory) as session:
        return _match_proposals(results, _proposed_in(session, get_campaign(session, name).id))


def already_stored(factory: sessionmaker[Session], name: str, results: ResultRows) -> list[tuple[int, str]]:
    """The rows of ``results`` an earlier file of the campaign stored already, as (row, why): an
    import leaves them out (what a preview shows before anything is stored)."""
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, name).id
        return _stored_before(session, campaign_id, _in_proposed_forms(session, campaign_id, results))


def unproposed_rows(factory: sessionmaker[Session], name: str, results: ResultRows) -> Unproposed:
    """The rows of ``results`` naming a molecule the campaign never proposed, as (row, SMILES)."""
    return match_proposals(factory, name, results)[0]
