"""Upload of assay results (CSV): a preview with every row's errors first, nothing stored; a confirm
button then stores the file through ``import_results``, exactly as ``chemloop campaign import`` does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.errors import ChemloopError
from chemloop.serve import uploads
from chemloop.serve.deps import Settings, Work, require_key
from chemloop.serve.web.templating import error_page, path, render
from chemloop.services import campaigns
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.workspace import Workspace

router = APIRouter()


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context = {"error": None, "message": None, "preview": None, "external": False} | context
    return render(request, "upload.html", status_code=status_code, name=name, **context)


def _missing(request: Request, workspace: Workspace, name: str) -> HTMLResponse | None:
    """The 404 page when there is no such campaign, else None."""
    try:
        campaigns.require(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return None


@router.get("/campaigns/{name}/upload", response_class=HTMLResponse)
def upload_form(request: Request, workspace: Work, name: str) -> HTMLResponse:
    return _missing(request, workspace, name) or _page(request, name)


def _preview(workspace: Workspace, name: str, data: bytes, filename: str, external: bool) -> dict[str, Any]:
    """Everything the preview shows: the file's rows, each row's errors, and whether it can be stored."""
    header, rows, count = uploads.raw_rows(data)
    found = campaigns.preview_results(workspace, name, data, filename, external)
    errors: dict[int, list[str]] = {}
    for row, message in found["problems"]:
        errors.setdefault(row, []).append(message)
    notes: dict[int, list[str]] = {}
    for row, smiles in found["unproposed"]:
        if external:
            notes.setdefault(row, []).append(f"{smiles}: external (never proposed by this campaign)")
        else:
            errors.setdefault(row, []).append(
                f"{smiles} was never proposed by this campaign; tick 'external' to accept it"
            )
    return {
        "header": header,
        "rows": rows,
        "count": count,
        "kind": found["kind"],
        "errors": errors,
        "notes": notes,
        "file_error": found["file_error"],
        "ok": found["ok"],
    }


@router.post("/campaigns/{name}/upload", dependencies=[Depends(require_key)], response_class=HTMLResponse)
async def preview(
    request: Request,
    workspace: Work,
    settings: Settings,
    name: str,
    file: Annotated[UploadFile, File()],
    external: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Parse and check the file without storing a row; it waits in a server folder for the confirm."""
    if missing := _missing(request, workspace, name):
        return missing
    try:
        data = await uploads.read_upload(file, settings.max_body_bytes)
    except ChemloopError as err:
        return _page(request, name, 400, error=str(err), external=external)
    token, _ = uploads.stage(settings, file.filename, data)
    # Off the event loop: parsing and checking a large file takes a while.
    filename = uploads.client_name(file.filename)
    result = await run_in_threadpool(_preview, workspace, name, data, filename, external)
    if not result["ok"]:
        uploads.discard(settings, token)  # nothing to confirm: keep nothing
    return _page(
        request,
        name,
        200 if result["ok"] else 422,
        preview=result,
        token=token,
        filename=filename,
        external=external,
    )


@router.post("/campaigns/{name}/upload/confirm", dependencies=[Depends(require_key)], response_model=None)
def confirm(
    request: Request,
    workspace: Work,
    settings: Settings,
    name: str,
    token: Annotated[str, Form(max_length=64)],
    external: Annotated[bool, Form()] = False,
) -> HTMLResponse | RedirectResponse:
    staged = uploads.staged(settings, token)
    if staged is None:
        return _page(request, name, 400, error="That upload is no longer waiting; upload the file again.")
    try:
        result = campaigns.import_results(workspace, name, staged.read_bytes(), staged.name, external)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    except ChemloopError as err:  # e.g. rows that became invalid since the preview
        return _page(request, name, 400, error=str(err), external=external)
    uploads.discard(settings, token)
    if "note" in result:
        return _page(request, name, 200, message=result["note"])
    return RedirectResponse(path("campaigns", name, imported=result["imported"]), status_code=303)
