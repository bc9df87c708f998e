"""The review page: two molecules side by side; the chemist picks the better one (or skips) and
rates either from 1 to 5. Choices post as JSON and the answer carries the next pair, so the page
swaps it in without a reload (one round trip per click)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chemloop.errors import ChemloopError
from chemloop.serve.deps import Work, require_key
from chemloop.serve.web.templating import error_page, image_url, number, path, props, render
from chemloop.services import campaigns, schemas
from chemloop.services.campaigns import UnknownCampaignError
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
    p = props(molecule["smiles"])
    prediction = number(molecule["predicted_mean"])
    if molecule["predicted_std"] is not None:
        prediction += f" ± {number(molecule['predicted_std'])}"
    return {
        "key": molecule["key"],
        "smiles": molecule["smiles"],
        "image": image_url(molecule["smiles"]),
        "url": path("campaigns", name, "molecules", molecule["key"]),
        "facts": [
            ["Round", str(molecule["round"])],
            ["Measured", number(molecule["value"])],
            ["Predicted", prediction],
            ["QED", number(p["qed"])],
            ["SA score", number(p["sa_score"])],
            ["MW", number(p["mw"], 1)],
        ],
        "alerts": [f"{a['catalog']}: {a['description']}" for a in p["alerts"]],
    }


def _pair(workspace: Workspace, name: str, skipped=()) -> dict[str, Any] | None:
    pair = campaigns.review_pair(workspace, name, skipped)
    return None if pair is None else {"a": card(name, pair[0]), "b": card(name, pair[1])}


def _error(err: ChemloopError) -> JSONResponse:
    status_code = 404 if isinstance(err, UnknownCampaignError) else 400
    return JSONResponse({"detail": str(err)}, status_code=status_code)


@router.get("/campaigns/{name}/review", response_class=HTMLResponse)
def review_page(request: Request, workspace: Work, name: str) -> HTMLResponse:
    try:
        pair = _pair(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return render(request, "review.html", name=name, pair=pair)


@router.post("/campaigns/{name}/review/choice", dependencies=[Depends(require_key)])
def choose(workspace: Work, name: str, choice: Choice) -> JSONResponse:
    """Store the preference (nothing for a skip) and answer with the next pair (null: none left)."""
    skipped = list(choice.skipped)
    try:
        if choice.choice == "skip":
            recorded = None
            skipped.append((choice.smiles_a, choice.smiles_b))
        else:
            recorded = campaigns.record_preference(
                workspace, name, choice.smiles_a, choice.smiles_b, choice.choice
            )
        return JSONResponse({"recorded": recorded, "pair": _pair(workspace, name, skipped)})
    except ChemloopError as err:
        return _error(err)


@router.post("/campaigns/{name}/review/rating", dependencies=[Depends(require_key)])
def rate(workspace: Work, name: str, rating: RatingChoice) -> JSONResponse:
    try:
        recorded = campaigns.record_rating(workspace, name, rating.smiles, rating.rating)
        return JSONResponse({"recorded": recorded})
    except ChemloopError as err:
        return _error(err)
