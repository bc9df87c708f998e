"""Campaign endpoints: list, create, status, molecules, propose (a job), results, preferences, ratings.

Each calls the same operation of :mod:`chemloop.services.campaigns` (preferences and ratings:
:mod:`chemloop.services.campaign_feedback`) as ``chemloop campaign …`` and the web app. A campaign
created here names no file and no model: seed values come as rows in the body, and the model is
the server's.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from chemloop.loop.columns import ColumnChoice
from chemloop.serve import uploads
from chemloop.serve.deps import RequireKey, Settings, User, Work
from chemloop.services import campaign_feedback, campaigns, schemas
from chemloop.services.campaigns import not_proposed
from chemloop.services.export import export_campaign

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])

# A lookup: any name a campaign may have (the naming rule applies when one is created; campaigns
# stored before it keep theirs), without control characters.
Name = Annotated[
    str,
    PathParam(pattern=r"^[^\x00-\x1f\x7f]{1,200}$", description="the campaign's name", examples=["demo"]),
]


@router.get("", response_model=list[schemas.CampaignSummary])
def list_campaigns(
    workspace: Work, archived: Annotated[bool, Query(description="list archived campaigns too")] = False
) -> list[dict[str, Any]]:
    """Every campaign, by name, with its rounds and molecules tested (archived ones on request)."""
    return campaigns.list_all(workspace, archived=archived)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=schemas.CampaignStatus, dependencies=[RequireKey]
)
def create_campaign(
    body: schemas.CampaignCreate, settings: Settings, workspace: Work, user: User
) -> dict[str, Any]:
    """Create a campaign; ``seed`` values become round 0 and fit its first reward model."""
    return campaigns.create_from_request(workspace, body, settings, user=user)


@router.get("/{name}", response_model=schemas.CampaignStatus)
def campaign_status(name: Name, workspace: Work) -> dict[str, Any]:
    """Rounds, molecules tested, best value per round, feedback counts and the reward model's quality."""
    return campaigns.status(workspace, name)


@router.get("/{name}/molecules", response_model=list[schemas.CampaignMolecule])
def campaign_molecules(name: Name, workspace: Work) -> list[dict[str, Any]]:
    """Every molecule the campaign proposed or measured, with its prediction and measured value."""
    return campaigns.molecules(workspace, name)


@router.get(
    "/{name}/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "chemical/x-mdl-sdfile": {}}}},
)
def export_molecules(
    name: Name,
    workspace: Work,
    fmt: Annotated[Literal["csv", "sdf"], Query(alias="format", description="csv or sdf")] = "csv",
    round_: Annotated[int | None, Query(alias="round", ge=0, description="one round only")] = None,
    key: Annotated[list[str] | None, Query(description="only these molecule ids")] = None,
) -> Response:
    """The campaign's molecules as a CSV or SD file: id, compound id, SMILES, round, measured and
    predicted values (with the assay's unit), properties, and why each was proposed. Withheld
    molecules are left out."""
    found = export_campaign(workspace, name, fmt, round_, key or ())
    disposition = f'attachment; filename="{found.filename}"'
    headers = {"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"}
    return Response(found.content, media_type=found.media_type, headers=headers)


@router.post(
    "/{name}/propose",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.JobOut,
    dependencies=[RequireKey],
)
def propose(name: Name, workspace: Work, body: schemas.ProposeRequest | None = None) -> schemas.JobOut:
    """Start a propose round as a job; when it is done, its ``proposals.csv`` holds the picks."""
    return campaigns.start_propose(workspace, name, body.batch if body else None)


@router.post(
    "/{name}/results", dependencies=[RequireKey], response_model=schemas.ImportResult | schemas.ResultsPreview
)
async def import_results(
    name: Name,
    workspace: Work,
    user: User,
    file: Annotated[
        UploadFile,
        File(description="CSV or SD file: smiles,value[,std] | smiles_a,smiles_b,preferred | smiles,rating"),
    ],
    external: Annotated[bool, Form(description="accept molecules the campaign never proposed")] = False,
    dry_run: Annotated[bool, Form(description="parse and check only: rows and row-level problems")] = False,
    smiles_column: Annotated[
        str | None, Form(max_length=200, description="the SMILES column, where it is not recognised")
    ] = None,
    value_column: Annotated[
        str | None, Form(max_length=200, description="the value column (e.g. 'pIC50'), where not recognised")
    ] = None,
    skip_bad_rows: Annotated[
        bool, Form(description="store the good rows, list the bad ones as skipped (default: all or nothing)")
    ] = False,
) -> dict[str, Any]:
    """Import a results file (values, preferences or ratings; a value may be censored, e.g. ``<5``)
    and refit the reward model; with ``dry_run``, return what would be imported and every problem by
    row, storing nothing."""
    data = await file.read()  # the body's size is capped before it is parsed (BodySizeMiddleware)
    filename = uploads.client_name(file.filename)
    columns = ColumnChoice(smiles_column or None, value_column or None)
    if not dry_run:
        return await run_in_threadpool(
            partial(
                campaigns.import_results,
                workspace,
                name,
                data,
                filename,
                external,
                user=user,
                columns=columns,
                skip_bad_rows=skip_bad_rows,
            )
        )
    found = await run_in_threadpool(
        campaigns.preview_results, workspace, name, data, filename, external, columns
    )
    problems = [{"row": row, "message": message} for row, message in found["problems"]]
    if not external:
        problems += [{"row": row, "message": not_proposed(s)} for row, s in found["unproposed"]]
    if found["file_error"] is not None:
        problems.append({"row": None, "message": found["file_error"]})
    mapped = found["columns"]
    return {
        "ok": found["ok"],
        "kind": found["kind"],
        "rows": len(found["rows"]),
        "sample": [list(r) for r in found["rows"][: campaigns.PREVIEW_ROWS]],
        "problems": problems,
        "good_rows": found["good"],
        "left_out": [{"row": row, "message": message} for row, message in found["left_out"]],
        "columns": None if mapped is None else vars(mapped),
        "header": found["header"],
        "other_forms": [{"row": r, "written": w, "proposed": p} for r, w, p in found["other_forms"]],
    }


@router.post(
    "/{name}/preferences",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PreferenceRecorded,
    dependencies=[RequireKey],
)
def record_preference(name: Name, body: schemas.PreferenceIn, workspace: Work, user: User) -> dict[str, Any]:
    """Record a chemist's choice between two molecules; the next reward-model fit uses it."""
    return campaign_feedback.record_preference(
        workspace, name, body.smiles_a, body.smiles_b, body.preferred, user=user
    )


@router.post(
    "/{name}/ratings",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.RatingRecorded,
    dependencies=[RequireKey],
)
def record_rating(name: Name, body: schemas.RatingIn, workspace: Work, user: User) -> dict[str, Any]:
    """Record a chemist's 1–5 rating of a molecule; the next reward-model fit uses it."""
    return campaign_feedback.record_rating(workspace, name, body.smiles, body.rating, user=user)


@router.post("/{name}/archive", response_model=schemas.CampaignArchived)
def archive(name: Name, workspace: Work, user: User) -> dict[str, Any]:
    """Archive the campaign: listed only with ``archived=true``, no more propose or import (409)."""
    return campaigns.archive(workspace, name, user)


@router.post("/{name}/unarchive", response_model=schemas.CampaignArchived, dependencies=[RequireKey])
def unarchive(name: Name, workspace: Work) -> dict[str, Any]:
    """Bring an archived campaign back."""
    return campaigns.unarchive(workspace, name)


@router.delete("/{name}", response_model=schemas.CampaignDeleted, dependencies=[RequireKey])
def delete_campaign(
    name: Name,
    workspace: Work,
    confirm: Annotated[str, Query(max_length=200, description="the campaign's name again: there is no undo")],
) -> dict[str, Any]:
    """Delete the campaign and every row of it (rounds, results, feedback, notes) in one transaction."""
    return campaigns.delete_campaign(workspace, name, confirm)
