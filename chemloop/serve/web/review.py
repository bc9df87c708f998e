"""The review page: two molecules side by side; the chemist picks the better one (or skips) and
rates either from 1 to 5. Choices post as JSON and the answer carries the next pair, so the page
swaps it in without a reload (one round trip per click). A counter says how many pairs the campaign
holds and how many are the chemist's; undo takes back the chemist's last pair and shows it again.
Below, the pairs an AI judge decided, each with a button to overrule it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from chemloop.chem.mol import molecule_key
from chemloop.errors import ChemloopError
from chemloop.serve.deps import User, Work, current_user, require_key
from chemloop.serve.web.templating import (
    compound_props,
    error_page,
    image_url,
    measured,
    number,
    path,
    render,
)
from chemloop.services import campaign_feedback, campaigns, schemas
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.errors import FieldError
from chemloop.services.workspace import Workspace

router = APIRouter()

SMILES = schemas.Smiles


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smiles_a: SMILES
    smiles_b: SMILES
    choice: Literal["a", "b", "skip"]
    skipped: list[tuple[SMILES, SMILES]] = Field(default_factory=list, max_length=1000)


class RatingChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smiles: SMILES
    rating: int = Field(ge=1, le=5, strict=True)  # strict: JSON true is not the rating 1


def card(name: str, molecule: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of one molecule, the same for the first pair (HTML) and the next (JSON)."""
    p = compound_props(molecule["smiles"])
    prediction = number(molecule["predicted_mean"])
    if molecule["predicted_std"] is not None:
        prediction += f" ± {number(molecule['predicted_std'])}"
    if molecule["predicted_mean"] is not None and molecule.get("unit"):
        prediction += f" {molecule['unit']}"  # in the assay's unit, as every other page shows it
    return {
        "key": molecule["key"],
        "smiles": molecule["smiles"],
        "image": image_url(molecule["smiles"]),
        "url": path("campaigns", name, "molecules", molecule["key"]),
        "facts": [
            ["Round", str(molecule["round"])],
            ["Measured", measured(molecule)],  # the mean and any censored result, with the unit
            ["Predicted", prediction],
            ["QED", number(p["qed"])],
            ["SA score", number(p["sa_score"])],
            ["MW", number(p["mw"], 1)],
        ],
        "alerts": [f"{a['catalog']}: {a['description']}" for a in p["alerts"]],
    }


def _pair(workspace: Workspace, name: str, skipped=()) -> dict[str, Any] | None:
    pair = campaign_feedback.review_pair(workspace, name, skipped)
    return None if pair is None else {"a": card(name, pair[0]), "b": card(name, pair[1])}


def _counts(workspace: Workspace, name: str, user: str | None) -> dict[str, Any]:
    counts = campaign_feedback.pair_counts(workspace, name, user)
    return {"total": counts["total"], "by_you": counts["by_you"], "text": counter_text(counts)}


def counter_text(counts: dict[str, Any]) -> str:
    """ "12 pairs recorded in this campaign, 5 by you" (without the second part for a reader)."""
    total = counts["total"]
    text = f"{total} pair{'' if total == 1 else 's'} recorded in this campaign"
    return text if counts["by_you"] is None else f"{text}, {counts['by_you']} by you"


JUDGED_SHOWN = 50  # the newest judged pairs on the page; a judge may have decided thousands


def judged_rows(workspace: Workspace, name: str) -> tuple[list[dict[str, Any]], int]:
    """The newest judged pairs as the page shows them (molecule links where the molecule is the
    campaign's; a fresh sample has no page), and how many there are in all."""
    judged = campaign_feedback.judged_preferences(workspace, name)
    keys = {m["key"] for m in campaigns.molecules(workspace, name)}
    rows = []
    for p in judged[:JUDGED_SHOWN]:
        sides = {}
        for side in ("a", "b"):
            key = molecule_key(p[f"smiles_{side}"])
            sides[side] = {
                "smiles": p[f"smiles_{side}"],
                "url": path("campaigns", name, "molecules", key) if key in keys else None,
            }
        rows.append({**p, "sides": sides, "winner": p["preferred"].upper()})
    return rows, len(judged)


def _status(err: ChemloopError) -> int:
    if isinstance(err, UnknownCampaignError):
        return 404
    return 409 if isinstance(err, FieldError) and err.kind == "archived" else 400


def _error(err: ChemloopError) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=_status(err))


@router.get("/campaigns/{name}/review", response_class=HTMLResponse)
def review_page(request: Request, workspace: Work, name: str) -> HTMLResponse:
    try:
        # An archived campaign takes no feedback: the page says so instead of offering a pair.
        archived = campaigns.is_archived(workspace, name)
        pair = None if archived else _pair(workspace, name)
        counts = _counts(workspace, name, current_user(request))
        judged, judged_total = judged_rows(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return render(
        request,
        "review.html",
        name=name,
        pair=pair,
        archived=archived,
        counts=counts,
        judged=judged,
        judged_total=judged_total,
        overruled=request.query_params.get("overruled"),
    )


@router.post("/campaigns/{name}/review/choice", dependencies=[Depends(require_key)])
def choose(workspace: Work, user: User, name: str, choice: Choice) -> JSONResponse:
    """Store the preference (nothing for a skip) and answer with the next pair (null: none left)."""
    skipped = list(choice.skipped)
    try:
        if choice.choice == "skip":
            recorded = None
            skipped.append((choice.smiles_a, choice.smiles_b))
        else:
            recorded = campaign_feedback.record_preference(
                workspace, name, choice.smiles_a, choice.smiles_b, choice.choice, user=user
            )
        pair = _pair(workspace, name, skipped)
        return JSONResponse({"recorded": recorded, "pair": pair, "counts": _counts(workspace, name, user)})
    except ChemloopError as err:
        return _error(err)


@router.post("/campaigns/{name}/review/rating", dependencies=[Depends(require_key)])
def rate(workspace: Work, user: User, name: str, rating: RatingChoice) -> JSONResponse:
    try:
        recorded = campaign_feedback.record_rating(workspace, name, rating.smiles, rating.rating, user=user)
        return JSONResponse({"recorded": recorded})
    except ChemloopError as err:
        return _error(err)


def _undone_pair(workspace: Workspace, name: str, undone: dict[str, Any]) -> dict[str, Any] | None:
    """The pair just taken back, as cards, to decide again (None if either molecule is not one of
    the campaign's: a pair the API recorded about other molecules)."""
    table = {m["smiles"]: m for m in campaigns.molecules(workspace, name)}
    a, b = table.get(undone["smiles_a"]), table.get(undone["smiles_b"])
    return None if a is None or b is None else {"a": card(name, a), "b": card(name, b)}


@router.post("/campaigns/{name}/review/undo", dependencies=[Depends(require_key)])
def undo(workspace: Work, user: User, name: str) -> JSONResponse:
    """Take back the chemist's last pair; the answer carries it as the pair to show again."""
    try:
        undone = campaign_feedback.undo_last_pair(workspace, name, user)
        pair = _undone_pair(workspace, name, undone) or _pair(workspace, name)
        return JSONResponse({"undone": undone, "pair": pair, "counts": _counts(workspace, name, user)})
    except ChemloopError as err:
        return _error(err)


@router.post("/campaigns/{name}/review/judged/{preference_id}/overrule", response_model=None)
def overrule(
    request: Request,
    workspace: Work,
    user: User,
    name: str,
    preference_id: Annotated[int, PathParam(ge=1, le=2**62)],
) -> HTMLResponse | RedirectResponse:
    """Reverse a judged pair (a form post from the list of judged pairs); back to the list."""
    try:
        campaign_feedback.overrule(workspace, name, preference_id, user=user)
    except ChemloopError as err:  # unknown campaign 404, archived 409, not a judged pair 400
        return error_page(request, _status(err), str(err))
    target = path("campaigns", name, "review", overruled=preference_id)
    return RedirectResponse(target + "#judged", status_code=303)
