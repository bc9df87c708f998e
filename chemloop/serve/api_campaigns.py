"""Campaign endpoints: list, create, status, molecules, propose (a job), results, preferences, ratings.

Each calls the same function of :mod:`chemloop.loop.campaign` as ``chemloop campaign …``. A
campaign created here names no file and no model: seed values come as rows in the body (written
to a temporary file inside the server's runs folder and imported as external data), and the model
is the server's.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi import Path as PathParam
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.mol import InvalidSmilesError
from chemloop.config_files import validate
from chemloop.errors import ChemloopError
from chemloop.loop import campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import UnknownCampaignError, get_campaign, session_scope
from chemloop.reward.data import FeedbackError
from chemloop.serve import schemas, uploads
from chemloop.serve.api_jobs import job_out
from chemloop.serve.api_molecules import request_score_config
from chemloop.serve.deps import Factory, Jobs, RequireKey, Settings
from chemloop.serve.errors import FieldError, problem
from chemloop.serve.limits import check_at_most
from chemloop.serve.settings import ServeSettings

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])

# A lookup: any name a campaign may have (the naming rule applies when one is created; campaigns
# stored before it keep theirs), without control characters.
Name = Annotated[
    str,
    PathParam(pattern=r"^[^\x00-\x1f\x7f]{1,200}$", description="the campaign's name", examples=["demo"]),
]
PREVIEW_ROWS = 20


def _exists(factory: sessionmaker[Session], name: str) -> bool:
    try:
        with session_scope(factory) as session:
            get_campaign(session, name)
    except UnknownCampaignError:
        return False
    return True


def campaign_config(body: schemas.CampaignCreate, settings: ServeSettings) -> CampaignConfig:
    section = body.campaign.overrides()
    if "candidates" in section:
        check_at_most(
            ("body", "campaign", "candidates"), section["candidates"], settings.max_samples, "molecules"
        )
    data: dict[str, Any] = {
        "campaign": {**section, "model": settings.model},
        "reward": body.reward.overrides(),
    }
    if body.score is not None:
        data["score"] = request_score_config(body.score, ("body", "score", "components")).model_dump()
    try:
        return validate(CampaignConfig, data, "campaign config")
    except ChemloopError as err:
        raise FieldError(("body",), None, str(err)) from None


def _seed_problems(err: FeedbackError, seed: list[schemas.SeedRow]) -> FieldError:
    """Row numbers of the seed file (header = row 1) back to indices of the request's ``seed`` list."""
    found = [
        problem(
            ("body", "seed", row - 2), message, seed[row - 2].smiles if 0 <= row - 2 < len(seed) else None
        )
        for row, message in err.problems
    ] or [problem(("body", "seed"), str(err))]
    first = found[0]
    return FieldError(tuple(first["loc"]), first["input"], first["msg"], also=found[1:])


def _write_seed(path: Path, seed: list[schemas.SeedRow]) -> None:
    with_std = [r.std is not None for r in seed]
    if any(with_std) and not all(with_std):
        i = with_std.index(False)
        raise FieldError(("body", "seed", i, "std"), None, "give a std for every seed row or for none")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "value", "std"] if any(with_std) else ["smiles", "value"])
        writer.writerows([r.smiles, r.value, *([r.std] if r.std is not None else [])] for r in seed)


@router.get("", response_model=list[schemas.CampaignSummary])
def list_campaigns(factory: Factory) -> list[dict[str, Any]]:
    """Every campaign, by name, with its rounds and molecules tested."""
    return campaign.list_campaigns(factory)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=schemas.CampaignStatus, dependencies=[RequireKey]
)
def create_campaign(body: schemas.CampaignCreate, settings: Settings, factory: Factory) -> dict[str, Any]:
    """Create a campaign; ``seed`` values become round 0 and fit its first reward model."""
    if _exists(factory, body.name):
        raise FieldError(
            ("body", "name"),
            body.name,
            f"campaign {body.name!r} already exists",
            status_code=409,
            kind="exists",
        )
    config = campaign_config(body, settings)
    seed = None
    if body.seed:
        with uploads.temporary_file(settings, "seed.csv") as path:
            _write_seed(path, body.seed)
            try:
                seed = campaign.read_results(path)  # every bad row is refused before the campaign exists
            except FeedbackError as err:
                raise _seed_problems(uploads.for_client(err, path, "seed"), body.seed) from None
    # The campaign and its seed: one transaction.
    campaign.init_campaign(factory, body.name, config, seed=seed)
    return campaign.status(factory, body.name)


@router.get("/{name}", response_model=schemas.CampaignStatus)
def campaign_status(name: Name, factory: Factory) -> dict[str, Any]:
    """Rounds, molecules tested, best value per round, feedback counts and the reward model's quality."""
    return campaign.status(factory, name)


@router.get("/{name}/molecules", response_model=list[schemas.CampaignMolecule])
def campaign_molecules(name: Name, factory: Factory) -> list[dict[str, Any]]:
    """Every molecule the campaign proposed or measured, with its prediction and measured value."""
    return campaign.molecules(factory, name)


@router.post(
    "/{name}/propose",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.JobOut,
    dependencies=[RequireKey],
)
def propose(
    name: Name, settings: Settings, factory: Factory, jobs: Jobs, body: schemas.ProposeRequest | None = None
) -> schemas.JobOut:
    """Start a propose round as a job; when it is done, its ``proposals.csv`` holds the picks."""
    campaign.require_campaign(factory, name)  # UnknownCampaignError: a 404 naming the campaign
    return job_out(jobs.start_propose(settings.db_url, name, body.batch if body else None))


@router.post(
    "/{name}/results", dependencies=[RequireKey], response_model=schemas.ImportResult | schemas.ResultsPreview
)
def import_results(
    name: Name,
    settings: Settings,
    factory: Factory,
    file: Annotated[
        UploadFile, File(description="CSV: smiles,value[,std] | smiles_a,smiles_b,preferred | smiles,rating")
    ],
    external: Annotated[bool, Form(description="accept molecules the campaign never proposed")] = False,
    dry_run: Annotated[bool, Form(description="parse and check only: rows and row-level problems")] = False,
) -> dict[str, Any]:
    """Import a results file (values, preferences or ratings) and refit the reward model; with
    ``dry_run``, return what would be imported and every problem by row, storing nothing."""
    campaign.require_campaign(factory, name)  # UnknownCampaignError: a 404 naming the campaign
    with uploads.temporary_file(settings, file.filename) as path:
        path.write_bytes(file.file.read())
        try:
            results = campaign.read_results(path)
        except FeedbackError as err:
            err = uploads.for_client(err, path, file.filename)
            if not dry_run:
                raise err from None
            found = [{"row": row, "message": message} for row, message in err.problems]
            return {
                "ok": False,
                "kind": None,
                "rows": 0,
                "sample": [],
                "problems": found or [{"row": None, "message": str(err)}],
            }
        unproposed = [] if external else campaign.unproposed_rows(factory, name, results)
        never = "the campaign never proposed this molecule; set external to import it"
        if dry_run:
            return {
                "ok": not unproposed,
                "kind": results.kind,
                "rows": len(results.rows),
                "sample": [list(r) for r in results.rows[:PREVIEW_ROWS]],
                "problems": [{"row": row, "message": f"{never}: {s}"} for row, s in unproposed],
            }
        if unproposed:
            (row, smiles), rest = unproposed[0], unproposed[1:]
            also = [problem(("body", "file", f"row {r}"), never, s, "not_proposed") for r, s in rest]
            raise FieldError(("body", "file", f"row {row}"), smiles, never, kind="not_proposed", also=also)
        return campaign.import_results(factory, name, path, external=external)


def _invalid_smiles(err: InvalidSmilesError, fields: dict[str, str]) -> FieldError:
    field = next((k for k, v in fields.items() if v == err.smiles), next(iter(fields)))
    return FieldError(("body", field), err.smiles, f"invalid SMILES: {err.smiles!r}", kind="invalid_smiles")


@router.post(
    "/{name}/preferences",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PreferenceRecorded,
    dependencies=[RequireKey],
)
def record_preference(name: Name, body: schemas.PreferenceIn, factory: Factory) -> dict[str, Any]:
    """Record a chemist's choice between two molecules; the next reward-model fit uses it."""
    try:
        return campaign.record_preference(factory, name, body.smiles_a, body.smiles_b, body.preferred)
    except InvalidSmilesError as err:
        raise _invalid_smiles(err, {"smiles_a": body.smiles_a, "smiles_b": body.smiles_b}) from None


@router.post(
    "/{name}/ratings",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.RatingRecorded,
    dependencies=[RequireKey],
)
def record_rating(name: Name, body: schemas.RatingIn, factory: Factory) -> dict[str, Any]:
    """Record a chemist's 1–5 rating of a molecule; the next reward-model fit uses it."""
    try:
        return campaign.record_rating(factory, name, body.smiles, body.rating)
    except InvalidSmilesError as err:
        raise _invalid_smiles(err, {"smiles": body.smiles}) from None
