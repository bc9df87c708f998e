"""What chemists (and AI judges) say about a campaign's molecules, for every face: the next pair to
review, preferences and ratings, judged pairs and their overrule, who recorded which pair (counts,
undo), each molecule's activity and its notes.

Feedback is refused on an archived campaign (:func:`chemloop.services.campaigns.require_active`);
notes stay open. Each operation calls :mod:`chemloop.loop`, which stores it in one transaction; the
next reward-model fit uses the preferences and ratings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import InvalidSmilesError
from chemloop.errors import ChemloopError
from chemloop.loop import campaign as loop_campaign
from chemloop.loop import notes as loop_notes
from chemloop.loop import people
from chemloop.loop.review import next_pair
from chemloop.loop.store import MAX_NOTE_LENGTH, UnknownCampaignError
from chemloop.services.campaigns import molecule, require_active
from chemloop.services.errors import FieldError
from chemloop.services.workspace import Workspace

# --- the review pair, preferences, ratings and judged pairs --------------------------------------


def review_pair(workspace: Workspace, name: str, skipped=()) -> tuple[dict, dict] | None:
    """The next two molecules for a chemist to compare (None: every pair is done)."""
    return next_pair(workspace.factory, name, skipped)


def record_preference(
    workspace: Workspace,
    name: str,
    smiles_a: str,
    smiles_b: str,
    preferred: str,
    user: str | None = None,
) -> dict[str, Any]:
    """Store a chemist's choice between two molecules (``user``: who); the next reward-model fit uses it."""
    require_active(workspace, name, "record preferences")
    try:
        return loop_campaign.record_preference(
            workspace.factory, name, smiles_a, smiles_b, preferred, user=user
        )
    except InvalidSmilesError as err:
        raise _invalid_smiles(err, {"smiles_a": smiles_a, "smiles_b": smiles_b}) from None


def record_rating(
    workspace: Workspace, name: str, smiles: str, rating: int, user: str | None = None
) -> dict[str, Any]:
    """Store a chemist's 1–5 rating of a molecule (``user``: who); the next reward-model fit uses it."""
    require_active(workspace, name, "record ratings")
    try:
        return loop_campaign.record_rating(workspace.factory, name, smiles, rating, user=user)
    except InvalidSmilesError as err:
        raise _invalid_smiles(err, {"smiles": smiles}) from None


def _invalid_smiles(err: InvalidSmilesError, fields: dict[str, str]) -> FieldError:
    field = next((k for k, v in fields.items() if v == err.smiles), next(iter(fields)))
    return FieldError(("body", field), err.smiles, f"invalid SMILES: {err.smiles!r}", kind="invalid_smiles")


def judge(
    workspace: Workspace,
    name: str,
    pairs: int,
    constitution: Path | None = None,
    command: str | None = None,
    fresh: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """AI feedback: a judge (the constitution's rules, or ``command``) compares ``pairs`` pairs of the
    campaign's molecules and fresh samples; the decided ones are stored as sourced preferences."""
    from chemloop.constitution.judges import CommandJudge, RuleJudge
    from chemloop.constitution.principles import DEFAULT_CONSTITUTION, load_constitution
    from chemloop.loop.judging import judge_campaign

    require_active(workspace, name, "judge pairs")
    rules = load_constitution(constitution)
    judge_ = CommandJudge(rules, command) if command else RuleJudge(rules)
    label = (constitution or DEFAULT_CONSTITUTION).name
    return judge_campaign(workspace.factory, name, judge_, label, pairs, fresh=fresh, seed=seed)


def judged_preferences(workspace: Workspace, name: str) -> list[dict[str, Any]]:
    """The campaign's AI-judged pairs, newest first, with judge, principle and reason."""
    from chemloop.loop.judging import judged_preferences as judged

    # A judge may have seen fresh samples: every SMILES shown passes the dual-use guard.
    return [
        p
        for p in judged(workspace.factory, name)
        if not (is_withheld(p["smiles_a"]) or is_withheld(p["smiles_b"]))
    ]


def overrule(workspace: Workspace, name: str, preference_id: int, user: str | None = None) -> dict[str, Any]:
    """A chemist (``user``) reverses a judged pair; it becomes the chemist's own preference."""
    from chemloop.loop.judging import overrule as reverse

    require_active(workspace, name, "overrule judged pairs")
    return reverse(workspace.factory, name, preference_id, user=user)


# --- who recorded what: counts, undo, activity; notes --------------------------------------------


def pair_counts(workspace: Workspace, name: str, user: str | None) -> dict[str, Any]:
    """Pairs recorded in the campaign, by ``user`` (None when nobody is signed in) and by each user."""
    return people.pair_counts(workspace.factory, name, user)


def undo_last_pair(workspace: Workspace, name: str, user: str | None) -> dict[str, Any]:
    """Take back the newest pair ``user`` recorded in the campaign; returns it."""
    require_active(workspace, name, "take back pairs")
    try:
        return people.undo_last_preference(workspace.factory, name, user)
    except people.NothingToUndoError as err:
        raise FieldError((), None, str(err), kind="not_found") from None


def molecule_activity(workspace: Workspace, name: str, smiles: str) -> dict[str, Any]:
    """Ratings, preferences and measured values of one molecule, newest first, each with who and when."""
    return people.molecule_activity(workspace.factory, name, smiles)


def _campaign_molecule(workspace: Workspace, name: str, key: str) -> dict[str, Any]:
    found = molecule(workspace, name, key)
    if found is None:
        raise FieldError(("path", "key"), key, f"campaign {name!r} has no molecule {key[:80]!r}", "not_found")
    return found


def notes(workspace: Workspace, name: str, key: str) -> list[dict[str, Any]]:
    """The notes on the campaign's molecule ``key``, oldest first."""
    return loop_notes.notes(workspace.factory, name, _campaign_molecule(workspace, name, key)["smiles"])


def add_note(workspace: Workspace, name: str, key: str, author: str, text: str) -> dict[str, Any]:
    """Store ``author``'s note (plain text, at most MAX_NOTE_LENGTH characters) on molecule ``key``."""
    if len(text) > MAX_NOTE_LENGTH:  # before the molecule is looked up: a long body costs nothing
        raise FieldError(("body", "text"), None, f"a note holds at most {MAX_NOTE_LENGTH} characters")
    smiles = _campaign_molecule(workspace, name, key)["smiles"]
    try:
        return loop_notes.add_note(workspace.factory, name, smiles, author, text)
    except UnknownCampaignError:
        raise
    except ChemloopError as err:
        raise FieldError(("body", "text"), None, str(err)) from None
