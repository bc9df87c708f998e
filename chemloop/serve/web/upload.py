"""Upload of assay results (CSV): a preview with every row's errors first, nothing stored; a confirm
button then stores the file through ``import_results``, exactly as ``chemloop campaign import`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.errors import ChemloopError
from chemloop.loop.columns import ColumnChoice
from chemloop.serve import uploads
from chemloop.serve.deps import Settings, User, Work, require_key
from chemloop.serve.web.templating import error_page, path, plural, render
from chemloop.services import campaigns
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.workspace import Workspace

router = APIRouter()
NOT_WAITING = "That upload is no longer waiting; upload the file again."
SMILES_HEADERS = frozenset({"smiles", "smiles_a", "smiles_b"})  # the preference and rating files' columns


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context = {"error": None, "message": None, "preview": None, "external": False} | context
    context = {"columns": ColumnChoice(), "skipped": [], "token": None, "filename": None} | context
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


def _preview(
    workspace: Workspace, name: str, data: bytes, filename: str, external: bool, columns: ColumnChoice
) -> dict[str, Any]:
    """Everything the preview shows: the file's rows, each row's errors, the columns read as SMILES
    and values (or the file's columns to choose them from), and whether it can be stored as it is
    or with its good rows only."""
    found = campaigns.preview_results(workspace, name, data, filename, external, columns)
    header, rows, count = uploads.raw_rows(data, filename, found["table"])
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
    for row, written, proposed in found["other_forms"]:
        notes.setdefault(row, []).append(f"{written}: stored as the proposed {proposed}, the same compound")
    left_out = dict(found["left_out"])
    checks = {number: _check(number, errors, notes, found["censored"], left_out) for number, _ in rows}
    mapped = found["columns"]
    return {
        "header": header,
        "rows": rows,
        "checks": checks,
        # The columns holding SMILES, shown in the monospace font every page writes SMILES in.
        "smiles_columns": {
            i
            for i, h in enumerate(header)
            if h in SMILES_HEADERS or (mapped is not None and h == mapped.smiles)
        },
        "count": count,
        "kind": found["kind"],
        "errors": errors,
        "notes": notes,
        "file_error": found["file_error"],
        "ok": found["ok"],
        "good": found["good"],
        "left_out": left_out,
        "mapped": found["columns"],
        "choose_from": found["header"],  # the file's columns, when SMILES or values must be chosen
    }


def _check(
    number: int,
    errors: dict[int, list[str]],
    notes: dict[int, list[str]],
    censored: dict[int, str],
    left_out: dict[int, str],
) -> str:
    """A previewed row's check: its errors, else why it will be left out (no result yet, stored
    already), else "ok" with what is worth knowing before storing it (a censored value, a molecule
    the campaign never proposed)."""
    if number in errors:
        return "; ".join(errors[number])
    if number in left_out:
        return f"left out: {left_out[number]}"
    said = ([f"censored: {censored[number]}"] if number in censored else []) + notes.get(number, [])
    return f"ok ({'; '.join(said)})" if said else "ok"


def _worth_keeping(result: dict[str, Any]) -> bool:
    """Whether a previewed file can still be stored: as it is or by its good rows (either way, rows
    with something new), or once its columns are chosen."""
    return result["good"] > 0 or result["choose_from"] is not None


ColumnField = Annotated[str | None, Form(max_length=200)]


@router.post("/campaigns/{name}/upload", dependencies=[Depends(require_key)], response_class=HTMLResponse)
async def preview(
    request: Request,
    workspace: Work,
    settings: Settings,
    name: str,
    file: Annotated[UploadFile | None, File()] = None,
    token: Annotated[str | None, Form(max_length=64)] = None,
    external: Annotated[bool, Form()] = False,
    smiles_column: ColumnField = None,
    value_column: ColumnField = None,
) -> HTMLResponse:
    """Parse and check the file without storing a row; it waits in a server folder for the confirm.
    A file already waiting (``token``) is previewed again, e.g. with the columns the user chose."""
    if missing := _missing(request, workspace, name):
        return missing
    columns = ColumnChoice(smiles_column or None, value_column or None)
    if file is not None and file.filename:
        try:
            data = await uploads.read_upload(file, settings.max_body_bytes)
        except ChemloopError as err:
            return _page(request, name, 400, error=str(err), external=external)
        token, _ = uploads.stage(settings, file.filename, data)
        filename = uploads.client_name(file.filename)
    else:
        staged = uploads.staged(settings, token or "")
        if staged is None:
            return _page(request, name, 400, error=NOT_WAITING, external=external)
        data, filename = staged.read_bytes(), staged.name
    # Off the event loop: parsing and checking a large file takes a while.
    try:
        result = await run_in_threadpool(_preview, workspace, name, data, filename, external, columns)
    except ChemloopError as err:  # a column named that the file does not have
        return _page(request, name, 400, error=str(err), external=external)
    if not _worth_keeping(result):
        uploads.discard(settings, token)  # nothing to confirm: keep nothing
    return _page(
        request,
        name,
        200 if result["ok"] else 422,
        preview=result,
        token=token,
        filename=filename,
        external=external,
        columns=columns,
    )


@router.get("/campaigns/{name}/upload/bad-rows.csv", response_model=None)
def bad_rows(
    request: Request,
    workspace: Work,
    settings: Settings,
    name: str,
    token: Annotated[str, Query(max_length=64)],
    external: bool = False,
    smiles_column: Annotated[str | None, Query(max_length=200)] = None,
    value_column: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The bad rows of a file waiting for its confirm, as CSV (row, problem, the row's cells) to fix
    and upload again; named by its token, which only the one who uploaded it has."""
    if missing := _missing(request, workspace, name):
        return missing
    staged = uploads.staged(settings, token)
    if staged is None:
        return error_page(request, 404, NOT_WAITING)
    data = staged.read_bytes()
    columns = ColumnChoice(smiles_column or None, value_column or None)
    try:
        found = campaigns.preview_results(workspace, name, data, staged.name, external, columns)
    except ChemloopError as err:
        return error_page(request, 400, str(err))
    content = campaigns.bad_rows_csv(found["table"], campaigns.bad_rows(found, external))
    download = f"bad-rows-{Path(staged.name).stem}.csv"
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{download}"'},
    )


@router.post("/campaigns/{name}/upload/confirm", dependencies=[Depends(require_key)], response_model=None)
def confirm(
    request: Request,
    workspace: Work,
    settings: Settings,
    user: User,
    name: str,
    token: Annotated[str, Form(max_length=64)],
    external: Annotated[bool, Form()] = False,
    smiles_column: ColumnField = None,
    value_column: ColumnField = None,
    skip_bad_rows: Annotated[bool, Form()] = False,
) -> HTMLResponse | RedirectResponse:
    staged = uploads.staged(settings, token)
    if staged is None:
        return _page(request, name, 400, error=NOT_WAITING)
    columns = ColumnChoice(smiles_column or None, value_column or None)
    try:
        # The rows are stored now; the refit runs as a background job the dashboard follows.
        result = campaigns.import_results(
            workspace,
            name,
            staged.read_bytes(),
            staged.name,
            external,
            user=user,
            fit_reward=False,
            columns=columns,
            skip_bad_rows=skip_bad_rows,
        )
        if result.get("imported"):
            campaigns.start_fit(workspace, name, "import")
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    except ChemloopError as err:  # e.g. rows that became invalid since the preview
        return _page(request, name, 400, error=str(err), external=external)
    if "note" in result:
        uploads.discard(settings, token)
        return _page(request, name, 200, message=result["note"])
    if result.get("skipped"):  # say what was left out; the file waits (until it expires) for its download
        left_out = plural(len(result["skipped"]), "bad row")
        stored = f"Stored {plural(result['imported'], 'row')}; left out {left_out}."
        return _page(
            request,
            name,
            200,
            message=stored,
            skipped=result["skipped"],
            token=token,
            filename=staged.name,
            external=external,
            columns=columns,
        )
    uploads.discard(settings, token)
    left_out = len(result.get("left_out", [])) or None
    return RedirectResponse(
        path("campaigns", name, imported=result["imported"], left_out=left_out), status_code=303
    )
