"""Notes on a campaign's molecules: short plain text with its author and time."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.errors import ChemloopError
from chemloop.loop.people import iso_time
from chemloop.loop.store import MAX_NOTE_LENGTH, Note, get_campaign, session_scope


def clean_note(text: str) -> str:
    """The note as stored: stripped, line breaks kept, other control characters refused (a NUL
    cannot be stored in PostgreSQL; the rest only hide text), at most ``MAX_NOTE_LENGTH`` characters."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ChemloopError("note: write some text")
    if len(text) > MAX_NOTE_LENGTH:
        raise ChemloopError(f"note: {len(text)} characters is above the limit of {MAX_NOTE_LENGTH}")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in text):
        raise ChemloopError("note: control characters are not allowed")
    return text


def add_note(factory: sessionmaker[Session], name: str, smiles: str, author: str, text: str) -> dict:
    """Store ``author``'s note on molecule ``smiles`` (canonical, already checked to be the campaign's)."""
    text = clean_note(text)
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        note = Note(campaign_id=campaign.id, smiles=smiles, author=author, text=text)
        session.add(note)
        session.flush()
        return _out(note)


def notes(factory: sessionmaker[Session], name: str, smiles: str) -> list[dict]:
    """The notes on molecule ``smiles``, oldest first (they read as a conversation)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        rows = session.scalars(
            select(Note).where(Note.campaign_id == campaign.id, Note.smiles == smiles).order_by(Note.id)
        )
        return [_out(n) for n in rows]


def _out(note: Note) -> dict:
    return {
        "id": note.id,
        "smiles": note.smiles,
        "author": note.author,
        "text": note.text,
        "created": iso_time(note.created),
    }
