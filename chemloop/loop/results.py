"""Results of a campaign's lab work: read a results table (measured values, pairwise preferences
or 1–5 ratings) with every bad row named, check which molecules the campaign proposed, and store
them once (the same results imported again change nothing), then refit the reward model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chemloop.errors import ChemloopError
from chemloop.loop import reward_store
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import (
    Campaign,
    ImportedFile,
    Measurement,
    Preference,
    Proposal,
    Rating,
    Round,
    get_campaign,
    session_scope,
)
from chemloop.reward.data import (
    CsvTable,
    FeedbackError,
    csv_file,
    read_preferences,
    read_ratings,
    read_values,
)


@dataclass
class ResultRows:
    kind: str  # "values", "preferences" or "ratings"
    rows: list[tuple]  # (smiles, value, std), (smiles_a, smiles_b, preferred) or (smiles, rating); canonical
    sha256: str  # of the parsed rows (see rows_digest): line endings, spelling and order do not matter
    filename: str
    row_numbers: list[int]  # each row's line in the file (header = 1; blank lines are skipped)
    file_sha256: str = ""  # of the file's bytes: how imports were recognised before rows_digest


def rows_digest(kind: str, rows: list[tuple]) -> str:
    """One digest per set of results: the same molecules and numbers give the same digest whatever
    the file's line endings, SMILES spellings, column order or row order."""
    canonical_rows = sorted(json.dumps(list(row)) for row in rows)
    return hashlib.sha256(json.dumps([kind, canonical_rows]).encode()).hexdigest()


def read_results(source: str | Path | CsvTable) -> ResultRows:
    """Read results (``smiles,value[,std]``, ``smiles_a,smiles_b,preferred`` or ``smiles,rating``)
    from a CSV file's path or a :class:`CsvTable` without storing them: every bad row is reported by
    number (a :class:`FeedbackError` whose ``problems`` list them), so a page can preview them first."""
    table = source if isinstance(source, CsvTable) else csv_file(source)
    columns = table.columns
    numbers = [n for n, line in enumerate(table.lines, start=2) if any(cell.strip() for cell in line)]
    if {"smiles", "value"} <= columns:
        values = read_values(table)
        std = values.std if values.std is not None else [None] * len(values)
        rows = [
            (s, float(v), None if d is None else float(d))
            for s, v, d in zip(values.smiles, values.values, std, strict=True)
        ]
        kind = "values"
    elif {"smiles_a", "smiles_b", "preferred"} <= columns:
        prefs = read_preferences(table)
        rows = list(zip(prefs.smiles_a, prefs.smiles_b, prefs.preferred, strict=True))
        kind = "preferences"
    elif {"smiles", "rating"} <= columns:
        ratings = read_ratings(table)
        rows = [(s, int(r)) for s, r in zip(ratings.smiles, ratings.ratings, strict=True)]
        kind = "ratings"
    else:
        raise FeedbackError(
            f"{table.source}: columns {sorted(columns)} are none of smiles,value[,std], "
            "smiles_a,smiles_b,preferred or smiles,rating"
        )
    return ResultRows(kind, rows, rows_digest(kind, rows), Path(table.source).name, numbers, table.sha256)


def import_results(
    factory: sessionmaker[Session],
    name: str,
    results: str | Path | CsvTable | ResultRows,
    external: bool = False,
) -> dict:
    """Store results (a file, a table or rows already read; one transaction), then refit the reward model.

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
            config = CampaignConfig.model_validate_json(campaign.config_json)
            digests = [results.sha256, results.file_sha256]
            duplicate = session.scalar(
                select(ImportedFile).where(
                    ImportedFile.campaign_id == campaign.id, ImportedFile.sha256.in_(digests)
                )
            )
            if duplicate is not None:
                return already
            count = store_results(session, campaign, results, external)
            campaign_id = campaign.id
    except IntegrityError:  # the same results stored by a concurrent import (unique per campaign)
        return already
    reward_store.refit(factory, campaign_id, config)
    return {"campaign": name, "imported": count, "kind": results.kind}


def store_results(session: Session, campaign: Campaign, results: ResultRows, external: bool) -> int:
    proposed_in = _proposed_in(session, campaign.id)
    unknown = _unproposed(results, proposed_in)
    if unknown and not external:
        shown = "; ".join(f"row {n}: {s}" for n, s in unknown[:10])
        raise ChemloopError(
            f"{results.filename}: molecules this campaign never proposed ({shown}); "
            "pass --external to accept results from outside the campaign"
        )
    file = ImportedFile(
        campaign_id=campaign.id, sha256=results.sha256, filename=results.filename, rows=len(results.rows)
    )
    session.add(file)
    session.flush()
    for row in results.rows:
        if results.kind == "values":
            smiles, value, std = row
            session.add(
                Measurement(
                    campaign_id=campaign.id,
                    file_id=file.id,
                    smiles=smiles,
                    value=value,
                    std=std,
                    round_number=proposed_in.get(smiles, 0),
                    external=smiles not in proposed_in,
                )
            )
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
    return len(results.rows)


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


def _unproposed(results: ResultRows, proposed_in: dict[str, int]) -> list[tuple[int, str]]:
    smiles_of_row = [(r[0], r[1]) if results.kind == "preferences" else (r[0],) for r in results.rows]
    return [
        (n, s)
        for n, group in zip(results.row_numbers, smiles_of_row, strict=True)
        for s in group
        if s not in proposed_in
    ]


def unproposed_rows(factory: sessionmaker[Session], name: str, results: ResultRows) -> list[tuple[int, str]]:
    """The rows of ``results`` naming a molecule the campaign never proposed, as (row, SMILES): a page
    shows them before anything is stored; ``import_results`` rejects them unless ``external``."""
    with session_scope(factory) as session:
        return _unproposed(results, _proposed_in(session, get_campaign(session, name).id))
