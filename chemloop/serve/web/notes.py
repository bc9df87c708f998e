"""What people said and did about one molecule, on its page: notes (a form adds one) and every
rating, preference and measured value with who stored it and when."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.errors import ChemloopError
from chemloop.serve.deps import User, Work, require_key
from chemloop.serve.web.templating import error_page, path
from chemloop.services import campaign_feedback
from chemloop.services.campaign_feedback import MAX_NOTE_LENGTH
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.workspace import Workspace

router = APIRouter()


def molecule_people(workspace: Workspace, name: str, molecule: dict[str, Any]) -> dict[str, Any]:
    """The molecule page's context for its notes and its who-did-what list."""
    return {
        "notes": campaign_feedback.notes(workspace, name, molecule["key"]),
        "activity": campaign_feedback.molecule_activity(workspace, name, molecule["smiles"]),
        "max_note": MAX_NOTE_LENGTH,
    }


@router.post(
    "/campaigns/{name}/molecules/{key}/notes", dependencies=[Depends(require_key)], response_model=None
)
def add_note(
    request: Request,
    workspace: Work,
    user: User,
    name: str,
    key: str,
    text: Annotated[str, Form(max_length=4 * MAX_NOTE_LENGTH)],
) -> HTMLResponse | RedirectResponse:
    try:
        campaign_feedback.add_note(workspace, name, key, user, text)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    except ChemloopError as err:
        status_code = 404 if "has no molecule" in str(err) else 400
        return error_page(request, status_code, str(err))
    return RedirectResponse(path("campaigns", name, "molecules", key) + "#notes", status_code=303)
