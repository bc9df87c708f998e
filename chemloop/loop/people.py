"""Who did what in a campaign: the user behind each preference, rating and results file, the pair
counter and undo of the review page, and everything stored about one molecule with its author.

Attribution rows sit beside the feedback tables (keyed by kind and row id), so the feedback tables
stay as they were and databases made before names existed keep working: their rows read as
stored by nobody in particular (``user`` None).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.errors import ChemloopError
from chemloop.loop.store import (
    Attribution,
    ImportedFile,
    Measurement,
    Preference,
    PreferenceSource,
    Rating,
    get_campaign,
    session_scope,
)

KINDS = ("preference", "rating", "file", "overrule")


class NothingToUndoError(ChemloopError):
    """The user has no pair of their own left to take back in this campaign."""


def attribute(session: Session, campaign_id: int, kind: str, row_id: int, user: str | None) -> None:
    """Record that ``user`` stored row ``row_id`` of ``kind`` (nothing when no user is known)."""
    if user is None:
        return
    if kind not in KINDS:
        raise ValueError(f"unknown attribution kind {kind!r}")
    session.add(Attribution(campaign_id=campaign_id, kind=kind, row_id=row_id, user=user))


def iso_time(moment: datetime | None) -> str | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC.
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def pair_counts(factory: sessionmaker[Session], name: str, user: str | None) -> dict:
    """Pairs recorded in the campaign (every preference, judged ones included), those ``user``
    recorded one by one (review page, API) and those by each user."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        total = session.scalar(
            select(func.count()).select_from(Preference).where(Preference.campaign_id == campaign.id)
        )
        by_user = dict(
            session.execute(
                select(Attribution.user, func.count())
                .join(Preference, Preference.id == Attribution.row_id)
                .where(Attribution.campaign_id == campaign.id, Attribution.kind == "preference")
                .group_by(Attribution.user)
                .order_by(Attribution.user)
            ).all()
        )
    return {
        "campaign": name,
        "total": total or 0,
        "by_you": None if user is None else by_user.get(user, 0),
        "by_user": by_user,
    }


def undo_last_preference(factory: sessionmaker[Session], name: str, user: str | None) -> dict:
    """Delete the newest pair ``user`` recorded one by one in the campaign (not one from a file, not
    a judged or overruled one); returns it. :class:`NothingToUndoError` when there is none."""
    if user is None:
        raise NothingToUndoError("nothing to undo: sign in to record and take back pairs")
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        found = session.execute(
            select(Attribution, Preference)
            .join(Preference, Preference.id == Attribution.row_id)
            .where(
                Attribution.campaign_id == campaign.id,
                Attribution.kind == "preference",
                Attribution.user == user,
            )
            .order_by(Attribution.id.desc())
            .limit(1)
        ).first()
        if found is None:
            raise NothingToUndoError(f"nothing to undo: {user} has recorded no pair in campaign {name!r}")
        attribution, pref = found
        undone = {
            "campaign": name,
            "id": pref.id,
            "smiles_a": pref.smiles_a,
            "smiles_b": pref.smiles_b,
            "preferred": pref.preferred,
        }
        session.execute(delete(PreferenceSource).where(PreferenceSource.preference_id == pref.id))
        session.delete(attribution)
        session.delete(pref)
    return undone


def molecule_activity(factory: sessionmaker[Session], name: str, smiles: str) -> dict:
    """Everything people stored about one molecule (canonical ``smiles``), newest first, each with
    its user (None: not known) and time: ``ratings``, ``preferences`` (with the other molecule and
    whether this one won; judged ones name their judge) and ``measurements`` (with the file)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        users = _users(session, campaign.id)
        files = {
            f.id: f
            for f in session.scalars(select(ImportedFile).where(ImportedFile.campaign_id == campaign.id))
        }

        def by(kind: str, row_id: int, file_id: int | None) -> str | None:
            return users.get(("file", file_id)) if file_id is not None else users.get((kind, row_id))

        ratings = session.scalars(
            select(Rating)
            .where(Rating.campaign_id == campaign.id, Rating.smiles == smiles)
            .order_by(Rating.id.desc())
        )
        prefs = session.execute(
            select(Preference, PreferenceSource)
            .outerjoin(PreferenceSource, PreferenceSource.preference_id == Preference.id)
            .where(
                Preference.campaign_id == campaign.id,
                or_(Preference.smiles_a == smiles, Preference.smiles_b == smiles),
            )
            .order_by(Preference.id.desc())
        ).all()
        values = session.scalars(
            select(Measurement)
            .where(Measurement.campaign_id == campaign.id, Measurement.smiles == smiles)
            .order_by(Measurement.id.desc())
        )
        return {
            "ratings": [
                {"rating": r.rating, "user": by("rating", r.id, r.file_id), "created": iso_time(r.created)}
                for r in ratings
            ],
            "preferences": [
                {
                    "id": p.id,
                    "other": p.smiles_b if p.smiles_a == smiles else p.smiles_a,
                    "won": (p.preferred == "a") == (p.smiles_a == smiles),
                    "judge": source.judge if source is not None else None,
                    "user": by("preference", p.id, p.file_id) or users.get(("overrule", p.id)),
                    "overruled": ("overrule", p.id) in users,
                    "created": iso_time(p.created),
                }
                for p, source in prefs
            ],
            "measurements": [
                {
                    "value": m.value,
                    "file": files[m.file_id].filename if m.file_id in files else None,
                    "user": users.get(("file", m.file_id)) if m.file_id is not None else None,
                    "created": iso_time(files[m.file_id].created) if m.file_id in files else None,
                }
                for m in values
            ],
        }


def _users(session: Session, campaign_id: int) -> dict[tuple[str, int], str]:
    rows = session.execute(
        select(Attribution.kind, Attribution.row_id, Attribution.user).where(
            Attribution.campaign_id == campaign_id
        )
    ).all()
    return {(kind, row_id): user for kind, row_id, user in rows}
