"""The campaign list with its create form, and each campaign's dashboard."""

from __future__ import annotations

import tomllib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.errors import ChemloopError
from chemloop.jobs import ACTIVE, JobConflictError
from chemloop.loop.acquisition import Acquisition
from chemloop.serve import uploads
from chemloop.serve.deps import Settings, Work, require_key
from chemloop.serve.web.plot import best_so_far
from chemloop.serve.web.templating import error_page, path, render
from chemloop.services import campaigns
from chemloop.services.campaigns import FeedbackError, UnknownCampaignError, check_campaign_name, csv_table
from chemloop.services.workspace import Workspace

router = APIRouter()

ACQUISITIONS: tuple[str, ...] = Acquisition.__args__  # type: ignore[attr-defined]
# The create form's fixed menu of scoring components (anything else: the TOML box).
COMPONENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "alerts": ("Reject PAINS and Brenk alerts", {"type": "alerts", "filter": True}),
    "qed": ("Drug-likeness (QED)", {"type": "qed"}),
    "sa_score": (
        "Easy to make (SA score)",
        {"type": "sa_score", "transform": {"type": "reverse_sigmoid", "low": 2.0, "high": 6.0}},
    ),
    "mw": (
        "Molecular weight 200–500",
        {"type": "mw", "transform": {"type": "double_sigmoid", "low": 200, "high": 500}},
    ),
}


def _form_config(batch: int, acquisition: str, components: list[str], toml: str) -> dict[str, Any]:
    if toml.strip():  # the TOML box, when filled, is the whole config
        try:
            return tomllib.loads(toml)
        except tomllib.TOMLDecodeError as err:
            raise ChemloopError(f"the TOML config is not valid TOML: {err}") from None
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown:
        raise ChemloopError(f"unknown component {unknown[0]!r}; choose from {', '.join(COMPONENTS)}")
    data: dict[str, Any] = {"campaign": {"batch": batch, "acquisition": acquisition}}
    if components:
        data["score"] = {"components": [COMPONENTS[c][1] for c in components]}
    return data


def _index(request: Request, workspace: Workspace, status_code: int = 200, **form: Any) -> HTMLResponse:
    defaults = {"error": None, "problems": [], "name": "", "batch": 12, "acquisition": "ucb"}
    defaults |= {"chosen": ["alerts", "qed"], "toml": ""}
    return render(
        request,
        "index.html",
        status_code=status_code,
        campaigns=campaigns.list_all(workspace),
        acquisitions=ACQUISITIONS,
        components=COMPONENTS,
        **(defaults | form),
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request, workspace: Work) -> HTMLResponse:
    return _index(request, workspace)


@router.post("/campaigns", dependencies=[Depends(require_key)], response_model=None)
async def create(
    request: Request,
    workspace: Work,
    settings: Settings,
    name: Annotated[str, Form()],
    batch: Annotated[int, Form(ge=1, le=1000)] = 12,
    acquisition: Annotated[str, Form()] = "ucb",
    components: Annotated[list[str] | None, Form()] = None,
    toml: Annotated[str, Form()] = "",
    seed: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse | RedirectResponse:
    name, components = name.strip(), components or []
    form = {"name": name, "batch": batch, "acquisition": acquisition, "toml": toml, "chosen": components}
    try:
        check_campaign_name(name)  # before anything is read, as every face checks it
        config = campaigns.config_from_tables(
            name, _form_config(batch, acquisition, components, toml), settings
        )
        table = None
        if seed is not None and seed.filename:
            data = await uploads.read_upload(seed, settings.max_body_bytes)
            table = csv_table(data, uploads.client_name(seed.filename))
        # Reading the seed and fitting the first reward model take seconds: off the event loop.
        await run_in_threadpool(campaigns.create, workspace, name, config, table)
    except FeedbackError as err:
        return _index(request, workspace, 400, error=str(err), problems=err.problems, **form)
    except ChemloopError as err:
        return _index(request, workspace, 400, error=str(err), **form)
    return RedirectResponse(path("campaigns", name), status_code=303)


PROPOSE_JOBS_SHOWN = 5


@router.get("/campaigns/{name}", response_class=HTMLResponse)
def dashboard(request: Request, workspace: Work, name: str, imported: int | None = None) -> HTMLResponse:
    try:
        report = campaigns.status(workspace, name)
        table = campaigns.molecules(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    proposing = campaigns.propose_jobs(workspace, name)
    measured = [m for m in table if m["value"] is not None]
    round_best = {0: report["best_seed"]} if report["seed_measurements"] else {}
    round_best |= {r["round"]: r["best"] for r in report["rounds"]}
    quality = report["reward_model"] or {}
    metrics = {k: v for k, v in quality.items() if isinstance(v, dict) and "mean" in v}  # cross-validated
    return render(
        request,
        "campaign.html",
        name=name,
        report=report,
        plot=best_so_far(round_best, [(m["round"], m["value"]) for m in measured]),
        top=sorted(measured, key=lambda m: m["value"], reverse=True)[:10],
        quality=quality,
        metrics=metrics,
        imported=imported,
        jobs=proposing[:PROPOSE_JOBS_SHOWN],
        working=any(j.status in ACTIVE for j in proposing),
    )


@router.post("/campaigns/{name}/propose", dependencies=[Depends(require_key)], response_model=None)
def start_propose(
    request: Request, workspace: Work, name: str, batch: Annotated[int | None, Form(ge=1, le=1000)] = None
) -> HTMLResponse | RedirectResponse:
    """Start the next round as a background job (the same job as POST /api/campaigns/{name}/propose);
    the dashboard shows it, refreshing itself until it is done."""
    try:
        campaigns.start_propose(workspace, name, batch)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    except JobConflictError as err:
        return error_page(request, 409, str(err))
    return RedirectResponse(path("campaigns", name), status_code=303)
