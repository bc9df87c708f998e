"""Feedback endpoints beyond recording it: the pair counter and undo, the AI-judged pairs and their
overrule, and notes on molecules. Each calls an operation of :mod:`chemloop.services.campaign_feedback`, as
the web app's review and molecule pages do; what a key's user stores carries the user's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from fastapi import Path as PathParam

from chemloop.serve.deps import User, Work, current_user
from chemloop.services import campaign_feedback, schemas

router = APIRouter(prefix="/api/campaigns", tags=["feedback"])

Name = Annotated[
    str,
    PathParam(pattern=r"^[^\x00-\x1f\x7f]{1,200}$", description="the campaign's name", examples=["demo"]),
]
Key = Annotated[
    str, PathParam(pattern=r"^[0-9a-f]{16}$", description="a molecule's key (its `key` in /molecules)")
]
PreferenceId = Annotated[int, PathParam(ge=1, le=2**62, description="the judged preference's id")]


@router.get("/{name}/preferences/counts", response_model=schemas.PairCounts)
def pair_counts(name: Name, request: Request, workspace: Work) -> dict[str, Any]:
    """Pairs recorded in the campaign, by the caller (null without a key) and by each user."""
    return campaign_feedback.pair_counts(workspace, name, current_user(request))


@router.post("/{name}/preferences/undo", response_model=schemas.PreferenceUndone)
def undo_last_pair(name: Name, workspace: Work, user: User) -> dict[str, Any]:
    """Delete the newest pair the caller recorded one by one in the campaign (404: none)."""
    return campaign_feedback.undo_last_pair(workspace, name, user)


@router.get("/{name}/judged", response_model=list[schemas.JudgedPair])
def judged_pairs(name: Name, workspace: Work) -> list[dict[str, Any]]:
    """The campaign's AI-judged pairs, newest first, with judge, principle and reason."""
    return campaign_feedback.judged_preferences(workspace, name)


@router.post("/{name}/judged/{preference_id}/overrule", response_model=schemas.Overruled)
def overrule(name: Name, preference_id: PreferenceId, workspace: Work, user: User) -> dict[str, Any]:
    """Reverse a judged pair: the other molecule is preferred, as the caller's own choice."""
    return campaign_feedback.overrule(workspace, name, preference_id, user=user)


@router.get("/{name}/molecules/{key}/notes", response_model=list[schemas.NoteOut])
def notes(name: Name, key: Key, workspace: Work) -> list[dict[str, Any]]:
    """The notes on one of the campaign's molecules, oldest first, with author and time."""
    return campaign_feedback.notes(workspace, name, key)


@router.post(
    "/{name}/molecules/{key}/notes", status_code=status.HTTP_201_CREATED, response_model=schemas.NoteOut
)
def add_note(name: Name, key: Key, body: schemas.NoteIn, workspace: Work, user: User) -> dict[str, Any]:
    """Add a plain-text note to one of the campaign's molecules, signed with the caller's name."""
    return campaign_feedback.add_note(workspace, name, key, user, body.text)
