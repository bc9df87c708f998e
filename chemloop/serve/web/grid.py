"""The molecule grid (filter, sort, page on the server), one molecule's detail page, depictions,
and docked-pose downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from rdkit import Chem

from chemloop.chem.mol import molecule_key
from chemloop.errors import ChemloopError
from chemloop.serve.deps import Work
from chemloop.serve.web.templating import error_page, path, props, render, svg
from chemloop.services import campaigns
from chemloop.services.campaigns import UnknownCampaignError

router = APIRouter()

PAGE = 100  # molecules per grid page
COLUMNS = {  # sortable columns and their headers
    "round": "Round",
    "smiles": "SMILES",
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
SVG_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/depict.svg")
def depict(
    smiles: Annotated[str, Query(min_length=1, max_length=MAX_SMILES)],
    w: Annotated[int, Query(ge=50, le=1000)] = 240,
    h: Annotated[int, Query(ge=50, le=1000)] = 180,
) -> Response:
    try:
        text = svg(smiles, w, h)
    except ChemloopError as err:
        return Response(str(err), status_code=400, media_type="text/plain")
    return Response(text, media_type="image/svg+xml", headers=SVG_HEADERS)


def _row(molecule: dict[str, Any]) -> dict[str, Any]:
    """A campaign molecule with the properties the grid shows."""
    try:
        p = props(molecule["smiles"])
    except ChemloopError:  # stored SMILES are canonical; this only guards against a hand-edited row
        p = {"qed": None, "sa_score": None, "alerts": []}
    return {**molecule, "qed": p["qed"], "sa_score": p["sa_score"], "alerts": p["alerts"]}


def _sort_key(column: str):
    def key(row: dict[str, Any]):
        value = len(row["alerts"]) if column == "alerts" else row[column]
        return (value is None, value if value is not None else 0)  # blanks last, either order

    return key


def _filter(rows: list[dict], q: str, smarts: str, round_: str, alerts: str, measured: str) -> list[dict]:
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
        rows = [r for r in rows if (r["value"] is not None) == (measured == "yes")]
    return rows


@router.get("/campaigns/{name}/molecules", response_class=HTMLResponse)
def grid(
    request: Request,
    workspace: Work,
    name: str,
    q: str = "",
    smarts: str = "",
    round: str = "",
    alerts: str = "",
    measured: str = "",
    sort: str = "round",
    order: str = "asc",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    try:
        table = [_row(m) for m in campaigns.molecules(workspace, name)]
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    sort = sort if sort in COLUMNS else "round"
    order = "desc" if order == "desc" else "asc"
    error = None
    try:
        rows = _filter(table, q, smarts, round, alerts, measured)
    except ChemloopError as err:
        rows, error = table, str(err)
    rows.sort(key=_sort_key(sort))
    if order == "desc":  # descending, blanks still last
        filled = [r for r in rows if _sort_key(sort)(r)[0] is False]
        rows = filled[::-1] + rows[len(filled) :]
    pages = max(1, -(-len(rows) // PAGE))
    page = min(page, pages)
    query = {"q": q, "smarts": smarts, "round": round, "alerts": alerts, "measured": measured}
    sort_links = {
        column: path(
            "campaigns",
            name,
            "molecules",
            **query,
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
        sort=sort,
        order=order,
        sort_links=sort_links,
        query=query,
        page=page,
        pages=pages,
        page_links={
            n: path("campaigns", name, "molecules", **query, sort=sort, order=order, page=n)
            for n in (page - 1, page + 1)
        },
        error=error,
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
        properties=props(molecule["smiles"]),
        nearest_key=molecule_key(molecule["nearest_smiles"]) if molecule["nearest_smiles"] else None,
        poses=[target for target, file in poses.items() if file is not None],
        docking=bool(poses),
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
