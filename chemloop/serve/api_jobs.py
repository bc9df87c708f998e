"""Background jobs: start an optimize run, follow its progress, cancel it, download its files.

Jobs run in child processes (:class:`chemloop.jobs.JobManager`); a request only starts, reads or
stops one. The model a job starts from is the server's, never one a request names.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Path, status
from fastapi.responses import FileResponse

from chemloop.config_files import validate
from chemloop.errors import ChemloopError
from chemloop.jobs import JOB_ID, Job, JobManager
from chemloop.rl.run import OptimizeConfig, RunSection
from chemloop.serve import schemas
from chemloop.serve.api_molecules import request_score_config
from chemloop.serve.deps import Jobs, RequireKey, Settings
from chemloop.serve.errors import FieldError
from chemloop.serve.limits import job_run_settings

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobId = Annotated[str, Path(pattern=JOB_ID.pattern, description="a job id from POST /api/jobs/…")]
FILE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"  # one plain name: no separators, no leading dot
FileName = Annotated[str, Path(pattern=FILE_NAME, description="one of the job's `files`")]
# The attachment is not rendered in the browser, and an HTML report could not run script if it were.
DOWNLOAD_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
MEDIA_TYPES = {".csv": "text/csv", ".json": "application/json", ".html": "text/html", ".txt": "text/plain"}


def job_out(job: Job) -> schemas.JobOut:
    return schemas.JobOut(**job.to_dict())


def find_job(jobs: JobManager, job_id: str) -> Job:
    try:
        return jobs.get(job_id)
    except ChemloopError as err:
        raise FieldError(("path", "job_id"), job_id, str(err), status_code=404, kind="not_found") from None


def optimize_config(body: schemas.OptimizeRequest, settings) -> OptimizeConfig:
    """The layer's config from a request: the server's model, the budget within the server's cap."""
    default_budget = RunSection.model_fields["budget"].default
    run = job_run_settings(body.run.overrides(), settings, default_budget, ("body", "run"))
    score = request_score_config(body.score, ("body", "score", "components"))
    try:
        return validate(OptimizeConfig, {"run": run, "score": score.model_dump()}, "request")
    except ChemloopError as err:
        raise FieldError(("body",), None, str(err)) from None


@router.post(
    "/optimize",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.JobOut,
    dependencies=[RequireKey],
)
def start_optimize(body: schemas.OptimizeRequest, settings: Settings, jobs: Jobs) -> schemas.JobOut:
    """Start an RL optimization towards the given score; poll GET /api/jobs/{id} for progress."""
    return job_out(jobs.start_optimize(optimize_config(body, settings)))


@router.get("", response_model=list[schemas.JobOut])
def list_jobs(jobs: Jobs) -> list[schemas.JobOut]:
    """Every job this server knows, newest first."""
    return [job_out(j) for j in jobs.list()]


@router.get("/{job_id}", response_model=schemas.JobOut)
def get_job(job_id: JobId, jobs: Jobs) -> schemas.JobOut:
    """A job's status, progress and (once finished) result files."""
    return job_out(find_job(jobs, job_id))


@router.post("/{job_id}/cancel", response_model=schemas.JobOut, dependencies=[RequireKey])
def cancel_job(job_id: JobId, jobs: Jobs) -> schemas.JobOut:
    """Stop a queued or running job (a finished one is returned as it is)."""
    find_job(jobs, job_id)
    return job_out(jobs.cancel(job_id))


@router.get(
    "/{job_id}/files/{name}", response_class=FileResponse, responses={200: {"content": {"text/csv": {}}}}
)
def download(job_id: JobId, name: FileName, jobs: Jobs) -> FileResponse:
    """A result file of a job, as an attachment. Only plain names of files inside the job's folder."""
    find_job(jobs, job_id)
    try:
        path = jobs.file(job_id, name)
    except ChemloopError as err:
        raise FieldError(("path", "name"), name, str(err), status_code=404, kind="not_found") from None
    media_type = MEDIA_TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=name, headers=DOWNLOAD_HEADERS)
