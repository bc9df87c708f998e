"""Archiving and deleting campaigns.

An archived campaign stays readable (and open to notes) but takes no more rounds, results or
feedback (preferences, ratings, overrules); it leaves the campaign list unless archived ones are
asked for. Deleting removes every
row that belongs to the campaign in one transaction: nothing is left half-deleted.
"""

from __future__ import annotations

from sqlalchemy import Table, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from chemloop.errors import ChemloopError
from chemloop.loop.store import Base, Campaign, CampaignArchive, get_campaign, session_scope


class ArchivedCampaignError(ChemloopError):
    """A change an archived campaign does not take (propose, import)."""


def archive(factory: sessionmaker[Session], name: str, user: str | None = None) -> dict:
    """Archive the campaign (archiving it again changes nothing)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        if session.get(CampaignArchive, campaign.id) is None:
            session.add(CampaignArchive(campaign_id=campaign.id, user=user))
    return {"campaign": name, "archived": True}


def unarchive(factory: sessionmaker[Session], name: str) -> dict:
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        session.execute(delete(CampaignArchive).where(CampaignArchive.campaign_id == campaign.id))
    return {"campaign": name, "archived": False}


def archived_names(factory: sessionmaker[Session]) -> set[str]:
    with session_scope(factory) as session:
        return set(session.scalars(select(Campaign.name).join(CampaignArchive)))


def require_active(factory: sessionmaker[Session], name: str, action: str) -> None:
    """:class:`ArchivedCampaignError` if the campaign is archived (``action``: what was refused, as
    the verb phrase the message ends with, e.g. "propose new rounds")."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        if session.get(CampaignArchive, campaign.id) is not None:
            raise ArchivedCampaignError(f"campaign {name!r} is archived; unarchive it to {action}")


def delete_campaign(factory: sessionmaker[Session], name: str, confirm: str) -> dict:
    """Delete the campaign and every row that belongs to it, in one transaction. ``confirm`` must
    repeat the name: a deletion cannot be undone."""
    if confirm != name:
        raise ChemloopError(f"to delete campaign {name!r}, confirm by giving its exact name")
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        removed = {t.name: n for t, n in _delete_rows(session, campaign.id).items() if n}
    return {"campaign": name, "deleted": True, "rows": removed}


def _delete_rows(session: Session, campaign_id: int) -> dict[Table, int]:
    """Delete the campaign's row and, children first, every row that points at it through foreign
    keys, however indirectly (rounds → proposals → explanations, …). Found from the tables' foreign
    keys rather than a list, so a table added later is deleted with the campaign too."""
    doomed: dict[Table, ColumnElement[bool]] = {Campaign.__table__: Campaign.__table__.c.id == campaign_id}
    for table in Base.metadata.sorted_tables:  # parents before children
        links = [
            fk.parent.in_(select(fk.column).where(doomed[fk.column.table]))
            for fk in table.foreign_keys
            if fk.column.table in doomed and fk.column.table is not table
        ]
        if links and table not in doomed:
            doomed[table] = or_(*links)
    counts: dict[Table, int] = {}
    for table in reversed(Base.metadata.sorted_tables):  # children before parents
        if table in doomed:
            counts[table] = session.execute(delete(table).where(doomed[table])).rowcount
    return counts
