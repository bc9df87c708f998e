"""Background jobs: an optimize run in a child process, its progress, results, cancel and restart."""

import json
import time

import pytest

from chemloop.errors import ChemloopError
from chemloop.jobs import JobManager
from chemloop.rl.run import OptimizeConfig


def _config(model: str, budget: int, **run) -> OptimizeConfig:
    return OptimizeConfig.model_validate(
        {
            "run": {"budget": budget, "batch_size": 16, "model": model, "seed": 1, **run},
            "score": {"components": [{"type": "qed"}]},
        }
    )


@pytest.mark.slow
def test_optimize_job_runs_to_the_end_and_its_files_can_be_fetched(tmp_path, tiny_run):
    jobs = JobManager(tmp_path / "jobs")
    job = jobs.start_optimize(_config(str(tiny_run), budget=40))
    assert job.status == "running"
    job = jobs.wait(job.id, timeout=120)
    assert job.status == "done", job.error
    summary = json.loads(jobs.file(job.id, "summary.json").read_text())
    assert job.progress["oracle_calls"] == summary["oracle_calls"] > 0
    assert job.progress["budget"] == 40
    assert "top.csv" in job.to_dict()["files"]
    assert jobs.file(job.id, "top.csv").read_text().startswith("rank,smiles,score")
    for escape in ("../job.json", "/etc/passwd", "..", ".progress.json", "sub/top.csv", "missing.csv"):
        with pytest.raises(ChemloopError):
            jobs.file(job.id, escape)
    # A new manager over the same folder (a restarted server) still lists the finished job.
    assert JobManager(tmp_path / "jobs").get(job.id).status == "done"


@pytest.mark.slow
def test_second_job_waits_and_cancel_stops_a_running_one(tmp_path, tiny_run):
    jobs = JobManager(tmp_path / "jobs", max_running=1)
    # The tiny model soon stops finding new molecules; a long patience keeps it busy until cancelled.
    first = jobs.start_optimize(_config(str(tiny_run), budget=100_000, max_steps=100_000, patience=100_000))
    second = jobs.start_optimize(_config(str(tiny_run), budget=20))
    assert (first.status, second.status) == ("running", "queued")
    deadline = time.monotonic() + 60
    while not first.progress and time.monotonic() < deadline:  # let it take a step or two
        time.sleep(0.2)
    assert jobs.cancel(first.id).status == "cancelled"
    assert jobs.get(second.id).status == "running"  # the queue moved on
    assert jobs.wait(second.id, timeout=120).status == "done"
    assert jobs.get(first.id).status == "cancelled"


def test_failed_job_reports_the_error(tmp_path):
    jobs = JobManager(tmp_path / "jobs")
    job = jobs.wait(jobs.start_optimize(_config("no-such-model", budget=10)).id, timeout=120)
    assert job.status == "failed"
    assert "no-such-model" in job.error


def test_unknown_job_id_is_named(tmp_path):
    with pytest.raises(ChemloopError, match="nope"):
        JobManager(tmp_path).get("nope")
