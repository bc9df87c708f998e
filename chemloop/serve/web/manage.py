"""A campaign's manage page: archive it (out of the campaign list, no more propose or import),
bring it back, or delete it with everything it holds once its name is typed again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.errors import ChemloopError
from chemloop.jobs import JobConflictError
from chemloop.serve.deps import User, Work, require_key
from chemloop.serve.web.templating import error_page, path, render
from chemloop.services import campaigns
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.workspace import Workspace

router = APIRouter()


def _page(
    request: Request, workspace: Workspace, name: str, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    try:
        archived = campaigns.is_archived(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return render(request, "manage.html", status_code=status_code, name=name, archived=archived, error=error)


@router.get("/campaigns/{name}/manage", response_class=HTMLResponse)
def manage(request: Request, workspace: Work, name: str) -> HTMLResponse:
    return _page(request, workspace, name)


@router.post("/campaigns/{name}/archive", dependencies=[Depends(require_key)], response_model=None)
def archive(request: Request, workspace: Work, user: User, name: str) -> HTMLResponse | RedirectResponse:
    try:
        campaigns.archive(workspace, name, user)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return RedirectResponse(path("campaigns", name, "manage"), status_code=303)


@router.post("/campaigns/{name}/unarchive", dependencies=[Depends(require_key)], response_model=None)
def unarchive(request: Request, workspace: Work, name: str) -> HTMLResponse | RedirectResponse:
    try:
        campaigns.unarchive(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return RedirectResponse(path("campaigns", name, "manage"), status_code=303)


@router.post("/campaigns/{name}/delete", dependencies=[Depends(require_key)], response_model=None)
def delete(
    request: Request, workspace: Work, name: str, confirm: Annotated[str, Form(max_length=200)] = ""
) -> HTMLResponse | RedirectResponse:
    """Delete only when ``confirm`` repeats the name exactly: the second step of a deletion."""
    try:
        campaigns.delete_campaign(workspace, name, confirm.strip())
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    except JobConflictError as err:  # a job of the campaign is queued or running
        return _page(request, workspace, name, 409, error=str(err))
    except ChemloopError as err:
        return _page(request, workspace, name, 400, error=str(err))
    return RedirectResponse("/", status_code=303)
