"""The molecule grid (filter, sort, page on the server), one molecule's detail page, depictions,
and docked-pose downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from rdkit import Chem

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import molecule_key
from chemloop.errors import ChemloopError
from chemloop.serve.deps import Work
from chemloop.serve.web.notes import molecule_people
from chemloop.serve.web.templating import compound_props, error_page, path, render, svg
from chemloop.services import campaigns
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.export import campaign_assay, export_molecules, select
from chemloop.services.workspace import Workspace

router = APIRouter()

PAGE = 100  # molecules per grid page
COLUMNS = {  # sortable columns and their headers
    "round": "Round",
    "smiles": "SMILES",
    "compound_id": "Compound ID",
    "value": "Measured",
    "predicted_mean": "Predicted",
    "predicted_std": "± std",
    "nearest_similarity": "Nearest measured",
    "qed": "QED",
    "sa_score": "SA",
    "alerts": "Alerts",
}
MAX_SMILES = 1000
# Depictions come from RDKit, not from the request; the policy still stops an SVG opened on its own
# from running anything, whatever its text holds.
# A download is data, never a page: a browser that opens one on its own runs nothing in it.
DOWNLOAD_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
SVG_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/depict.svg")
def depict(
    smiles: Annotated[str, Query(min_length=1, max_length=MAX_SMILES)],
    w: Annotated[int, Query(ge=50, le=1000)] = 260,
    h: Annotated[int, Query(ge=50, le=1000)] = 200,
) -> Response:
    try:
        text = svg(smiles, w, h)
    except ChemloopError as err:
        return Response(str(err), status_code=400, media_type="text/plain")
    return Response(text, media_type="image/svg+xml", headers=SVG_HEADERS)


# Property ranges the grid filters by: the query's ``{key}_min`` / ``{key}_max``, with their labels.
RANGES = {
    "mw": "MW (Da)",
    "clogp": "cLogP",
    "tpsa": "TPSA (Å²)",
    "value": "Measured",
    "predicted_mean": "Predicted",
    "round": "Round",
}
VIEWS = ("table", "cards")
FILTERS = ("q", "smarts", "round", "alerts", "measured")


def _row(molecule: dict[str, Any]) -> dict[str, Any]:
    """A campaign molecule with the properties the grid shows and filters by."""
    try:
        p = compound_props(molecule["smiles"])
    except ChemloopError:  # stored SMILES are canonical; this only guards against a hand-edited row
        p = {"qed": None, "sa_score": None, "alerts": [], "mw": None, "clogp": None, "tpsa": None}
    keep = ("qed", "sa_score", "alerts", "mw", "clogp", "tpsa")
    return {**molecule, **{k: p[k] for k in keep}}


def _table(workspace: Workspace, name: str) -> list[dict[str, Any]]:
    """The grid's rows: every molecule of the campaign the dual-use guard does not withhold."""
    return [_row(m) for m in campaigns.molecules(workspace, name) if not is_withheld(m["smiles"])]


def _sort_key(column: str):
    def key(row: dict[str, Any]):
        value = len(row["alerts"]) if column == "alerts" else row[column]
        return (value is None, value if value is not None else 0)  # blanks last, either order

    return key


def _bound(text: str, label: str, end: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ChemloopError(f"{label} {end} {text[:40]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ChemloopError(f"{label} {end} {text[:40]!r} is not a finite number")
    return value


def _in_ranges(rows: list[dict], ranges: dict[str, tuple[str, str]]) -> list[dict]:
    """Rows whose every ranged column lies within its bounds (a blank bound is open; a molecule without
    the value, e.g. not measured yet, is left out once its column has a bound)."""
    for column, (low_text, high_text) in ranges.items():
        low = _bound(low_text, RANGES[column], "minimum")
        high = _bound(high_text, RANGES[column], "maximum")
        if low is None and high is None:
            continue
        rows = [
            r
            for r in rows
            if r[column] is not None
            and (low is None or r[column] >= low)
            and (high is None or r[column] <= high)
        ]
    return rows


def _filter(
    rows: list[dict],
    q: str,
    smarts: str,
    round_: str,
    alerts: str,
    measured: str,
    ranges: dict[str, tuple[str, str]] | None = None,
) -> list[dict]:
    if q:
        rows = [r for r in rows if q.lower() in r["smiles"].lower()]
    if smarts:
        pattern = Chem.MolFromSmarts(smarts)
        if pattern is None:
            raise ChemloopError(f"substructure {smarts!r} is not valid SMARTS")
        rows = [r for r in rows if Chem.MolFromSmiles(r["smiles"]).HasSubstructMatch(pattern)]
    if round_.strip():
        try:
            number = int(round_)
        except ValueError:
            raise ChemloopError(f"round {round_!r} is not a whole number") from None
        rows = [r for r in rows if r["round"] == number]
    if alerts in ("yes", "no"):
        rows = [r for r in rows if bool(r["alerts"]) == (alerts == "yes")]
    if measured in ("yes", "no"):
        # A molecule measured only beyond the assay's range ("<5") was measured too.
        rows = [r for r in rows if (r["value"] is not None or bool(r.get("censored"))) == (measured == "yes")]
    return _in_ranges(rows, ranges or {})


def grid_query(request: Request) -> dict[str, str]:
    """The grid's filters from a request's query: the named filters and every range bound, as typed
    (the pages keep them in links and forms)."""
    params = request.query_params
    query = {k: params.get(k, "")[:MAX_SMILES] for k in FILTERS}
    for column in RANGES:
        for end in ("min", "max"):
            query[f"{column}_{end}"] = params.get(f"{column}_{end}", "")[:40]
    return query


def filtered(table: list[dict], query: dict[str, str]) -> list[dict]:
    """The rows of ``table`` (rows of :func:`_row`) that pass the grid's filters in ``query``; bad
    input raises a :class:`ChemloopError` naming it."""
    ranges = {c: (query.get(f"{c}_min", ""), query.get(f"{c}_max", "")) for c in RANGES}
    return _filter(
        table, query["q"], query["smarts"], query["round"], query["alerts"], query["measured"], ranges
    )


@router.get("/campaigns/{name}/molecules", response_class=HTMLResponse)
def grid(
    request: Request,
    workspace: Work,
    name: str,
    sort: str = "round",
    order: str = "asc",
    view: str = "table",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    try:
        table = _table(workspace, name)
        assay = campaign_assay(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    sort = sort if sort in COLUMNS else "round"
    order = "desc" if order == "desc" else "asc"
    view = view if view in VIEWS else "table"
    query = grid_query(request)
    error = None
    try:
        rows = filtered(table, query)
    except ChemloopError as err:
        rows, error = table, str(err)
    rows.sort(key=_sort_key(sort))
    if order == "desc":  # descending, blanks still last
        filled = [r for r in rows if _sort_key(sort)(r)[0] is False]
        rows = filled[::-1] + rows[len(filled) :]
    pages = max(1, -(-len(rows) // PAGE))
    page = min(page, pages)
    sort_links = {
        column: path(
            "campaigns",
            name,
            "molecules",
            **query,
            view=view,
            sort=column,
            order="desc" if column == sort and order == "asc" else "asc",
        )
        for column in COLUMNS
    }
    return render(
        request,
        "molecules.html",
        name=name,
        rows=rows[(page - 1) * PAGE : page * PAGE],
        total=len(table),
        shown=len(rows),
        rounds=sorted({r["round"] for r in table}),
        columns=COLUMNS,
        ranges=RANGES,
        unit=assay.unit,
        sort=sort,
        order=order,
        view=view,
        view_links={
            v: path("campaigns", name, "molecules", **query, sort=sort, order=order, view=v) for v in VIEWS
        },
        export_links={
            fmt: path("campaigns", name, "export", **({} if error else query), format=fmt)
            for fmt in ("csv", "sdf")
        },
        sort_links=sort_links,
        query=query,
        page=page,
        pages=pages,
        page_links={
            n: path("campaigns", name, "molecules", **query, sort=sort, order=order, view=view, page=n)
            for n in (page - 1, page + 1)
        },
        error=error,
    )


@router.get("/campaigns/{name}/export", response_model=None)
def export(
    request: Request,
    workspace: Work,
    name: str,
    fmt: Annotated[str, Query(alias="format")] = "csv",
    key: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The grid's molecules as a file: those passing its filters, or of them the ones ticked
    (``key``), as CSV or SDF (the same file as ``chemloop campaign export``)."""
    try:
        table = _table(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    try:
        rows = select(filtered(table, grid_query(request)), keys=key or ())
        query_round = request.query_params.get("round", "").strip()
        single = int(query_round) if query_round.lstrip("-").isdigit() else None
        found = export_molecules(workspace, name, rows, fmt, single)
    except ChemloopError as err:
        return error_page(request, 400, str(err))
    disposition = f'attachment; filename="{found.filename}"'
    return Response(
        found.content,
        media_type=found.media_type,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": disposition},
    )


@router.get("/campaigns/{name}/molecules/{key}", response_class=HTMLResponse)
def detail(request: Request, workspace: Work, name: str, key: str) -> HTMLResponse:
    try:
        molecule = campaigns.molecule(workspace, name, key)
        poses = campaigns.docking_poses(workspace, name, molecule["smiles"]) if molecule else {}
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    if molecule is None:
        return error_page(request, 404, f"campaign {name!r} has no molecule {key!r}")
    return render(
        request,
        "molecule.html",
        name=name,
        molecule=molecule,
        properties=compound_props(molecule["smiles"]),
        nearest_key=molecule_key(molecule["nearest_smiles"]) if molecule["nearest_smiles"] else None,
        poses=[target for target, file in poses.items() if file is not None],
        docking=bool(poses),
        **molecule_people(workspace, name, molecule),
    )


@router.get("/campaigns/{name}/molecules/{key}/pose/{target}", response_model=None)
def pose(request: Request, workspace: Work, name: str, key: str, target: str) -> Response:
    """The docked poses (SDF) of a campaign molecule: the file is found from the campaign's config and
    the molecule's SMILES, never from a path in the request."""
    try:
        molecule = campaigns.molecule(workspace, name, key)
        poses = campaigns.docking_poses(workspace, name, molecule["smiles"]) if molecule else {}
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    if molecule is None or target not in poses:
        return error_page(request, 404, f"no docking target {target!r} for molecule {key!r} in {name!r}")
    file = poses[target]
    if file is None:
        return error_page(request, 404, f"molecule {key!r} has no pose for {target}")
    return FileResponse(file, media_type="chemical/x-mdl-sdfile", filename=f"{target}_{key}.sdf")
