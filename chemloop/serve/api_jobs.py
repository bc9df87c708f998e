"""Background jobs: start an optimize run, follow its progress, cancel it, download its files.

Each endpoint calls an operation of :mod:`chemloop.services.jobs`; the model a job starts from is
the server's, never one a request names.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Path, status
from fastapi.responses import FileResponse

from chemloop.jobs import JOB_ID
from chemloop.serve.deps import RequireKey, Settings, Work
from chemloop.services import jobs, schemas

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobId = Annotated[str, Path(pattern=JOB_ID.pattern, description="a job id from POST /api/jobs/…")]
FILE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"  # one plain name: no separators, no leading dot
FileName = Annotated[str, Path(pattern=FILE_NAME, description="one of the job's `files`")]
# The attachment is not rendered in the browser, and an HTML report could not run script if it were.
DOWNLOAD_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
MEDIA_TYPES = {".csv": "text/csv", ".json": "application/json", ".html": "text/html", ".txt": "text/plain"}


@router.post(
    "/optimize",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.JobOut,
    dependencies=[RequireKey],
)
def start_optimize(body: schemas.OptimizeRequest, settings: Settings, workspace: Work) -> schemas.JobOut:
    """Start an RL optimization towards the given score; poll GET /api/jobs/{id} for progress."""
    return jobs.start_optimize(workspace, body, settings)


@router.get("", response_model=list[schemas.JobOut])
def list_jobs(workspace: Work) -> list[schemas.JobOut]:
    """Every job this server knows, newest first."""
    return jobs.list_jobs(workspace)


@router.get("/{job_id}", response_model=schemas.JobOut)
def get_job(job_id: JobId, workspace: Work) -> schemas.JobOut:
    """A job's status, progress and (once finished) result files."""
    return jobs.job_out(jobs.find_job(workspace, job_id))


@router.post("/{job_id}/cancel", response_model=schemas.JobOut, dependencies=[RequireKey])
def cancel_job(job_id: JobId, workspace: Work) -> schemas.JobOut:
    """Stop a queued or running job (a finished one is returned as it is)."""
    return jobs.cancel_job(workspace, job_id)


@router.get(
    "/{job_id}/files/{name}", response_class=FileResponse, responses={200: {"content": {"text/csv": {}}}}
)
def download(job_id: JobId, name: FileName, workspace: Work) -> FileResponse:
    """A result file of a job, as an attachment. Only plain names of files inside the job's folder."""
    path = jobs.job_file(workspace, job_id, name)
    media_type = MEDIA_TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=name, headers=DOWNLOAD_HEADERS)
