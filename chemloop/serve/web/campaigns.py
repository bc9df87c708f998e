"""The campaign list with its create form, and each campaign's dashboard."""

from __future__ import annotations

import tomllib
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.errors import ChemloopError
from chemloop.jobs import JobConflictError
from chemloop.loop.acquisition import Acquisition
from chemloop.loop.assay import DIRECTIONS, check_assay
from chemloop.loop.columns import RECOGNISED, ColumnChoice, ColumnsError
from chemloop.serve import uploads
from chemloop.serve.deps import Settings, User, Work, require_key
from chemloop.serve.web.best import best_tested, best_text, ranked_points, round_best_texts, round_best_values
from chemloop.serve.web.plot import axis_label, best_so_far, parity
from chemloop.serve.web.rounds import round_guide
from chemloop.serve.web.templating import error_page, path, plural, render
from chemloop.services import campaigns
from chemloop.services.analysis import quality_in_words
from chemloop.services.campaigns import (
    CsvTable,
    FeedbackError,
    UnknownCampaignError,
    check_campaign_name,
    read_table,
)
from chemloop.services.export import campaign_assay
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
    "constitution": ("Keep the medicinal-chemistry constitution", {}),  # campaign.constitution_filter
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
    section = {
        "batch": batch,
        "acquisition": acquisition,
        "constitution_filter": "constitution" in components,
    }
    data: dict[str, Any] = {"campaign": section}
    if scoring := [COMPONENTS[c][1] for c in components if c != "constitution"]:
        data["score"] = {"components": scoring}
    return data


def _index(
    request: Request, workspace: Workspace, status_code: int = 200, archived: bool = False, **form: Any
) -> HTMLResponse:
    defaults = {"error": None, "problems": [], "name": "", "batch": 12, "acquisition": "ucb", "core": ""}
    defaults |= {"chosen": ["alerts", "qed", "constitution"], "toml": ""}
    # The assay and the seed file's columns (a seed waiting under seed_token when its page asks).
    defaults |= {"assay_name": "", "unit": "", "direction": "higher", "directions": DIRECTIONS}
    defaults |= {"seed_token": None, "seed_name": None, "seed_header": None, "columns": RECOGNISED}
    return render(
        request,
        "index.html",
        status_code=status_code,
        campaigns=campaigns.list_all(workspace, archived=archived),
        show_archived=archived,
        acquisitions=ACQUISITIONS,
        components=COMPONENTS,
        **(defaults | form),
    )


def bad_rows_summary(problems: list[tuple[int, str]], table: CsvTable) -> str:
    """The heading of a seed file's bad rows, which the page lists one by one below it: "seed.csv:
    1 bad row of 13; nothing was stored." (a row with two problems is one bad row)."""
    rows = sum(1 for line in table.lines if any(cell.strip() for cell in line))  # as the reader counts
    bad = len({row for row, _ in problems})
    return f"{table.source}: {plural(bad, 'bad row')} of {rows}, listed below; nothing was stored."


@router.get("/", response_class=HTMLResponse)
def index(request: Request, workspace: Work, archived: bool = False) -> HTMLResponse:
    """The campaign list (archived ones with ``?archived=true``) and the create form."""
    return _index(request, workspace, archived=archived)


@router.post("/campaigns", dependencies=[Depends(require_key)], response_model=None)
async def create(
    request: Request,
    workspace: Work,
    settings: Settings,
    user: User,
    name: Annotated[str, Form()],
    batch: Annotated[int, Form(ge=1, le=1000)] = 12,
    acquisition: Annotated[str, Form()] = "ucb",
    components: Annotated[list[str] | None, Form()] = None,
    toml: Annotated[str, Form()] = "",
    seed: Annotated[UploadFile | None, File()] = None,
    assay_name: Annotated[str, Form(max_length=200)] = "",
    unit: Annotated[str, Form(max_length=200)] = "",
    direction: Annotated[str, Form(max_length=20)] = "higher",
    smiles_column: Annotated[str | None, Form(max_length=200)] = None,
    value_column: Annotated[str | None, Form(max_length=200)] = None,
    skip_bad_rows: Annotated[bool, Form()] = False,
    seed_token: Annotated[str | None, Form(max_length=64)] = None,
    core: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse | RedirectResponse:
    name, components, core = name.strip(), components or [], core.strip()
    form = {"name": name, "batch": batch, "acquisition": acquisition, "toml": toml, "chosen": components}
    form["core"] = core
    form |= {"assay_name": assay_name, "unit": unit, "direction": direction}
    columns = ColumnChoice(smiles_column or None, value_column or None)
    form["columns"] = columns
    table: CsvTable | None = None
    try:
        check_campaign_name(name)  # before anything is read, as every face checks it
        assay = check_assay(assay_name, unit, direction)
        config = campaigns.config_from_tables(
            name, _form_config(batch, acquisition, components, toml), settings, core=core or None
        )
        campaigns.check_core(workspace, config)
        if seed is not None and seed.filename:
            data = await uploads.read_upload(seed, settings.max_body_bytes)
            # Kept until the campaign exists: a page that asks for its columns, or whether to leave
            # out its bad rows, sends its token back instead of the file.
            seed_token, _ = uploads.stage(settings, seed.filename, data)
            form |= {"seed_token": seed_token, "seed_name": uploads.client_name(seed.filename)}
            table = read_table(data, form["seed_name"])
        elif seed_token:
            staged = uploads.staged(settings, seed_token)
            if staged is None:
                raise ChemloopError("the seed file is no longer waiting; choose it again")
            form |= {"seed_token": seed_token, "seed_name": staged.name}
            table = read_table(staged.read_bytes(), staged.name)
        # Reading the seed takes a while: off the event loop. Fitting the first reward model takes
        # longer: a background job, whose progress the dashboard shows.
        create = partial(
            campaigns.create,
            assay=assay,
            columns=columns,
            skip_bad_rows=skip_bad_rows,
            fit_reward=False,
            user=user,  # the seed file's uploader
        )
        created = await run_in_threadpool(create, workspace, name, config, table)
        if created["seed_measurements"] >= config.campaign.min_measurements:
            campaigns.start_fit(workspace, name, "create")
    except ColumnsError as err:
        return _index(request, workspace, 400, error=str(err), seed_header=err.header, **form)
    except FeedbackError as err:  # the rows are listed under the summary, each once
        error = bad_rows_summary(err.problems, table) if err.problems and table else str(err)
        return _index(request, workspace, 400, error=error, problems=err.problems, **form)
    except ChemloopError as err:
        return _index(request, workspace, 400, error=str(err), **form)
    if form.get("seed_token"):
        uploads.discard(settings, form["seed_token"])
    return RedirectResponse(path("campaigns", name), status_code=303)


METRIC_NAMES = {  # the reward model's cross-validation metrics, as a chemist reads them
    "spearman": "Spearman rank correlation",
    "rmse": "RMSE",
    "pairwise_accuracy": "Pairs ordered correctly",
}


@router.get("/campaigns/{name}", response_class=HTMLResponse)
def dashboard(
    request: Request, workspace: Work, name: str, imported: int | None = None, left_out: int | None = None
) -> HTMLResponse:
    try:
        report = campaigns.status(workspace, name)
        table = campaigns.molecules(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    measured = [m for m in table if m["value"] is not None]
    assay = campaign_assay(workspace, name)
    # A good-side bound (">8" where higher is better) counts at its bound, as in the tables.
    rounds = ([0] if report["seed_measurements"] else []) + [r["round"] for r in report["rounds"]]
    round_best = round_best_values(table, assay, rounds)
    quality = report["reward_model"] or {}
    metrics = {k: v for k, v in quality.items() if isinstance(v, dict) and "mean" in v}  # cross-validated
    value_label = axis_label(f"measured {assay.name}", assay.unit)
    higher = assay.direction == "higher"
    both = [(m["round"], m["predicted_mean"], m["value"], m["smiles"]) for m in measured]
    return render(
        request,
        "campaign.html",
        name=name,
        report=report,
        plot=best_so_far(round_best, ranked_points(table, assay), value_label, higher),
        parity_plots=parity([p for p in both if p[1] is not None], assay.unit),
        quality_words=quality_in_words(report["reward_model"], assay.unit),
        metric_names=METRIC_NAMES,
        assay_unit=assay.unit,
        top=best_tested(table, assay),
        best=best_text(table, assay),  # a ">8" beats a measured 6.80, as in the table of tested
        round_best_text=round_best_texts(table, assay, [r["round"] for r in report["rounds"]]),
        quality=quality,
        metrics=metrics,
        imported=imported,
        left_out=left_out,
        **round_guide(workspace, name, report, table, assay),
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
    except ChemloopError as err:  # an archived campaign takes no new rounds
        return error_page(request, 409, str(err))
    return RedirectResponse(path("campaigns", name), status_code=303)
