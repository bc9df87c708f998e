"""A campaign's stored preferences as ``(preferred, other)`` pairs: the chemists' choices and the
AI-judged ones (those with a :class:`~chemloop.loop.store.PreferenceSource` row), for aligning a
model to them directly (``chemloop align --campaign NAME``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.loop.store import Preference, PreferenceSource, get_campaign, session_scope


@dataclass(frozen=True)
class StoredPair:
    preferred: str
    other: str
    judge: str | None  # None: a chemist's choice; else the AI judge that decided it


def campaign_pairs(factory: sessionmaker[Session], name: str) -> list[StoredPair]:
    """Every preference of campaign ``name``, oldest first."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        rows = session.execute(
            select(Preference, PreferenceSource.judge)
            .outerjoin(PreferenceSource, PreferenceSource.preference_id == Preference.id)
            .where(Preference.campaign_id == campaign.id)
            .order_by(Preference.id)
        ).all()
        return [
            StoredPair(
                pref.smiles_a if pref.preferred == "a" else pref.smiles_b,
                pref.smiles_b if pref.preferred == "a" else pref.smiles_a,
                judge,
            )
            for pref, judge in rows
        ]
