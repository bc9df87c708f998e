"""What the campaign dashboard shows to lead a chemist through a round: the campaign's jobs in the
background with their progress (create's first reward-model fit, a propose, the refit after an
import), and the next step (make and test the round just proposed, upload its results, propose
the next one). A cancel button for a running job posts here too.

The page polls each running job's resource (``GET /api/jobs/{id}``, from ``static/job-progress.js``)
and reloads itself when the job finishes; without JavaScript it refreshes every few seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import parent_smiles
from chemloop.jobs import ACTIVE, FINISHED, JOB_ID, Job
from chemloop.loop.assay import Assay
from chemloop.serve.deps import Work, require_key
from chemloop.serve.web.best import round_best_texts
from chemloop.serve.web.templating import error_page, path
from chemloop.services import campaigns, jobs
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.errors import FieldError
from chemloop.services.workspace import Workspace

router = APIRouter()

JOBS_SHOWN = 5  # the campaign's latest jobs listed under its rounds
TITLES = {  # what each kind of job is doing, as the chemist reads it
    "create": "Fitting the first reward model on the seed results",
    "import": "Refitting the reward model on the new results",
    "propose": "Proposing the next round",
}


def duration(seconds: float | None) -> str:
    """``95`` → "1 min 35 s" (the same words as job-progress.js writes)."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def timing_words(found: dict[str, Any]) -> str:
    """E.g. "1 min 05 s elapsed · about 2 min 10 s left (from the previous job)"."""
    if found["status"] == "queued":
        return "waiting for another job to finish"
    parts = [f"{duration(found['elapsed_s'])} elapsed"] if found["elapsed_s"] is not None else []
    if found["status"] == "running":
        if found["remaining_s"] is None:
            parts.append("estimating the time left")
        else:
            basis = " (from the previous job)" if found["estimate_from"] == "previous job" else ""
            parts.append(f"about {duration(found['remaining_s'])} left{basis}")
    return " · ".join(parts)


def job_view(job: Job) -> dict[str, Any]:
    """One job as the page shows it: title, status, progress in words and as a percentage (None: not
    known yet), timing in words, the URL the page polls, and its error if it failed."""
    found = jobs.job_out(job).model_dump()
    fraction = found["progress"].get("fraction")
    running = found["status"] == "running"
    return found | {
        "title": TITLES.get(job.kind, job.kind),
        "words": found["progress"].get("message") or ("starting" if running else ""),
        "percent": round(100 * fraction) if isinstance(fraction, int | float) else None,
        "timing": timing_words(found),
        "took": duration(found["elapsed_s"]) if found["status"] in FINISHED else "",
        "poll": path("api", "jobs", job.id),
        "cancel": path("campaigns", job.params.get("campaign", ""), "jobs", job.id, "cancel"),
    }


def next_step(
    report: dict[str, Any],
    table: list[dict[str, Any]],
    busy: bool,
    assay: Assay | None = None,
    outside: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the chemist does next, from the campaign's ``report`` (its status) and molecule ``table``:

    - ``working``: a job runs; its progress is the next thing to watch;
    - ``first``: no round yet: propose the first;
    - ``make``: the latest round is proposed and nothing of it measured: make and test its
      ``molecules`` (by rank; each with ``outside_trust``: why it lies outside the trust region, from
      ``outside``, or None, and ``parent``: the neutral parent to make where the proposal is written
      as an ion, or None), then upload the results;
    - ``measured``: results of the latest round are in: propose the next (or upload the rest); its
      ``best`` as :func:`chemloop.serve.web.best.best_text` writes it (a ">8" among them).
    """
    assay = assay or Assay()
    if busy:
        return {"state": "working"}
    if not report["rounds"]:
        return {"state": "first", "seed": report["seed_measurements"]}
    latest = max(report["rounds"], key=lambda r: r["round"])
    if latest["measured"] == 0:
        proposed = [m for m in table if m["round"] == latest["round"] and m["rank"] is not None]
        # Stored proposals passed the dual-use guard when they were made; checked again on the way out.
        shown = sorted((m for m in proposed if not is_withheld(m["smiles"])), key=lambda m: m["rank"])
        shown = [
            m | {"outside_trust": (outside or {}).get(m["smiles"]), "parent": _parent_if_other(m["smiles"])}
            for m in shown
        ]
        return {
            "state": "make",
            "round": latest["round"],
            "molecules": shown,
            "unit": assay.unit,
        }
    best = round_best_texts(table, assay, [latest["round"]])[latest["round"]]
    return {"state": "measured", "unit": assay.unit, **latest, "best": best}


def _parent_if_other(smiles: str) -> str | None:
    """The parent compound to make (largest fragment, neutral), where the proposal is written otherwise."""
    parent = parent_smiles(smiles)
    return parent if parent != smiles else None


def round_guide(
    workspace: Workspace,
    name: str,
    report: dict[str, Any],
    table: list[dict[str, Any]],
    assay: Assay | None = None,
) -> dict[str, Any]:
    """The dashboard's context for its job and next-step blocks: ``jobs`` (the latest, newest
    first), ``active`` (those queued or running), ``working`` and ``next_step``."""
    found = campaigns.campaign_jobs(workspace, name)
    active = [job_view(j) for j in found if j.status in ACTIVE]
    latest = max(report["rounds"], key=lambda r: r["round"], default=None)
    making = latest is not None and latest["measured"] == 0 and not active  # the cards say where each lies
    outside = campaigns.outside_trust_region(workspace, name, latest["round"]) if making else None
    step = next_step(report, table, bool(active), assay, outside)
    # The round's file for the lab (the grid's export of that round), as CSV and as SDF.
    downloads = {}
    if step["state"] == "make":
        downloads = {
            f: path("campaigns", name, "export", round=step["round"], format=f) for f in ("csv", "sdf")
        }
    return {
        "jobs": [job_view(j) for j in found[:JOBS_SHOWN]],
        "active": active,
        "working": bool(active),
        "next_step": step,
        "downloads": downloads,
    }


JobId = Annotated[str, PathParam(pattern=JOB_ID.pattern)]


@router.post(
    "/campaigns/{name}/jobs/{job_id}/cancel", dependencies=[Depends(require_key)], response_model=None
)
def cancel(request: Request, workspace: Work, name: str, job_id: JobId) -> HTMLResponse | RedirectResponse:
    """Stop one of the campaign's queued or running jobs, then back to its dashboard. What a job
    stored before it was stopped stays (a cancelled refit leaves the results; the next propose
    refits)."""
    try:
        campaigns.require(workspace, name)
        job = jobs.find_job(workspace, job_id)
    except (UnknownCampaignError, FieldError) as err:
        return error_page(request, 404, str(err))
    if job.params.get("campaign") != name:
        return error_page(request, 404, f"campaign {name!r} has no job {job_id!r}")
    jobs.cancel_job(workspace, job_id)
    return RedirectResponse(path("campaigns", name), status_code=303)
