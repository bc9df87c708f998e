"""Background jobs for every face: start an optimize run, read a job, its result rows and files,
cancel it. Jobs run in child processes (:class:`chemloop.jobs.JobManager`); an operation only
starts, reads or stops one. A job's model is the workspace's, never one a request names."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Any

from chemloop.config_files import validate
from chemloop.errors import ChemloopError
from chemloop.jobs import Job
from chemloop.rl.run import OptimizeConfig, RunSection
from chemloop.services import molecules, schemas
from chemloop.services.errors import FieldError, Loc, check_at_most
from chemloop.services.scoring import request_score_config
from chemloop.services.settings import ServeSettings
from chemloop.services.workspace import Workspace

# What a finished job's result is, by job kind: the top molecules, the proposed batch.
RESULT_FILES = {"optimize": "top.csv", "propose": "proposals.csv"}
DEFAULT_BUDGET: int = RunSection.model_fields["budget"].default


def job_out(job: Job) -> schemas.JobOut:
    return schemas.JobOut(**job.to_dict())


def find_job(workspace: Workspace, job_id: str, loc: Loc = ("path", "job_id")) -> Job:
    try:
        return workspace.jobs.get(job_id)
    except ChemloopError as err:
        raise FieldError(loc, job_id, str(err), kind="not_found") from None


def job_file(workspace: Workspace, job_id: str, name: str) -> Path:
    """A result file of a job, by plain name (nothing outside the job's folder)."""
    find_job(workspace, job_id)
    try:
        return workspace.jobs.file(job_id, name)
    except ChemloopError as err:
        raise FieldError(("path", "name"), name, str(err), kind="not_found") from None


def run_settings(
    options: dict[str, Any], settings: ServeSettings, default_budget: int, loc: Loc
) -> dict[str, Any]:
    """The ``[run]`` table of a job a client asked for: its options, the budget within the server's
    cap (``default_budget`` if it named none), and the server's model (a client never names one)."""
    run = dict(options)
    run.setdefault("budget", min(default_budget, settings.max_budget))
    check_at_most((*loc, "budget"), run["budget"], settings.max_budget, "oracle calls")
    return {**run, "model": settings.model}


def optimize_config(
    request: schemas.OptimizeRequest, settings: ServeSettings, default_budget: int = DEFAULT_BUDGET
) -> OptimizeConfig:
    """The optimize config of a request: the server's model, the budget within the server's cap."""
    run = run_settings(request.run.overrides(), settings, default_budget, ("body", "run"))
    score = request_score_config(request.score, ("body", "score", "components"))
    try:
        return validate(OptimizeConfig, {"run": run, "score": score.model_dump()}, "request")
    except ChemloopError as err:
        raise FieldError(("body",), None, str(err)) from None


def start_optimize(
    workspace: Workspace,
    request: schemas.OptimizeRequest,
    settings: ServeSettings,
    default_budget: int = DEFAULT_BUDGET,
) -> schemas.JobOut:
    """Queue an RL optimization towards the request's score."""
    config = optimize_config(request, settings, default_budget)
    prompt = config.run.prompt
    if prompt is not None:  # one the model cannot write is refused now, not when the job starts
        molecules.checked_prompt_text(workspace.model(), prompt.text, prompt.kind, ("body", "run", "prompt"))
    return job_out(workspace.jobs.start_optimize(config))


def list_jobs(workspace: Workspace) -> list[schemas.JobOut]:
    """Every job of the workspace, newest first."""
    return [job_out(j) for j in workspace.jobs.list()]


def cancel_job(workspace: Workspace, job_id: str, loc: Loc = ("path", "job_id")) -> schemas.JobOut:
    """Stop a queued or running job (a finished one is returned as it is)."""
    find_job(workspace, job_id, loc)
    return job_out(workspace.jobs.cancel(job_id))


def job_result(workspace: Workspace, job_id: str, top: int, loc: Loc = ("path", "job_id")) -> dict[str, Any]:
    """A job as :func:`job_out` gives it and, once it is done, its first ``top`` result rows
    (``result``: the top molecules of an optimize run, the batch of a propose round)."""
    job = find_job(workspace, job_id, loc)
    found = job_out(job).model_dump()
    name = RESULT_FILES.get(job.kind)
    if job.status == "done" and name is not None:
        found["result"] = read_rows(workspace.jobs.file(job.id, name), top)
    return found


def read_rows(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a CSV file, numbers as numbers (an empty or non-finite cell: None)."""
    with path.open(newline="") as handle:
        rows = itertools.islice(csv.DictReader(handle), limit)
        return [{k: _cell(v) for k, v in row.items()} for row in rows]


def _cell(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if math.isfinite(value) else None
    return text
