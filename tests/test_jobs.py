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


SERVER = """
import sys, time
from chemloop.jobs import JobManager
from chemloop.rl.run import OptimizeConfig
config = OptimizeConfig.model_validate({
    "run": {"budget": 10**6, "batch_size": 16, "model": sys.argv[2], "patience": 10**6},
    "score": {"components": [{"type": "qed"}]},
})
jobs = JobManager(sys.argv[1])
jobs.start_optimize(config)
time.sleep(600)
"""


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return open(f"/proc/{pid}/stat").read().split()[2] != "Z"


@pytest.mark.slow
def test_a_job_ends_when_its_server_is_killed(tmp_path, tiny_run):
    """SIGKILL leaves the server no chance to clean up: the job process must notice by itself."""
    import signal
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "jobs"), str(tiny_run)])
    try:
        deadline = time.monotonic() + 120
        record = None
        while time.monotonic() < deadline:
            records = list((tmp_path / "jobs").glob("*/job.json"))
            record = json.loads(records[0].read_text()) if records else None
            if record and record.get("pid"):
                break
            time.sleep(0.2)
        assert record and record["status"] == "running", record
        child = record["pid"]
        assert _pid_alive(child)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 15
        while _pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _pid_alive(child), "the job outlived its server"
    finally:
        server.kill()
    # The restarted server reports the job as stopped with it.
    job = JobManager(tmp_path / "jobs").list()[0]
    assert job.status == "failed" and "server stopped" in job.error


@pytest.mark.parametrize("stored", [True, False])
def test_a_propose_interrupted_by_a_restart_is_done_if_its_round_was_stored(tmp_path, stored):
    from datetime import UTC, datetime, timedelta

    from chemloop.loop.campaign import init_campaign
    from chemloop.loop.config import CampaignConfig
    from chemloop.loop.store import Campaign, Round, connect, session_scope

    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    factory = connect(db_url)
    init_campaign(factory, "demo", CampaignConfig())
    started = datetime.now(UTC) - timedelta(minutes=1)
    folder = tmp_path / "jobs" / "0123456789ab"
    folder.mkdir(parents=True)
    record = {
        "id": "0123456789ab",
        "kind": "propose",
        "status": "running",
        "created": started.isoformat(),
        "params": {"campaign": "demo", "batch": None},
        "pid": 999_999_999,
    }
    (folder / "job.json").write_text(json.dumps(record))
    if stored:
        with session_scope(factory) as session:
            campaign = session.query(Campaign).filter_by(name="demo").one()
            session.add(Round(campaign_id=campaign.id, number=1, acquisition="ucb"))
    job = JobManager(tmp_path / "jobs", db_url=db_url).get("0123456789ab")
    assert job.status == ("done" if stored else "failed"), job.error
    assert ("round 1 was stored" in job.error) if stored else ("server stopped" in job.error)


def test_a_fit_waiting_for_its_turn_covers_later_imports(tmp_path):
    jobs = JobManager(tmp_path / "jobs", max_running=0)  # jobs wait, never run
    first = jobs.start_fit("sqlite:///unused.db", "demo", "import")
    assert jobs.start_fit("sqlite:///unused.db", "demo", "import").id == first.id  # it reads the data later
    other = jobs.start_fit("sqlite:///unused.db", "other", "create")
    assert other.id != first.id and (other.kind, other.params) == ("create", {"campaign": "other"})
    shown = jobs.get(first.id).to_dict()
    assert shown["status"] == "queued" and shown["started"] is None and shown["elapsed_s"] is None
    assert shown["remaining_s"] is None and shown["progress"] == {}
    with pytest.raises(ChemloopError, match="unknown fit job kind 'optimize'"):
        jobs.start_fit("sqlite:///unused.db", "demo", "optimize")
    assert jobs.cancel(first.id).status == "cancelled"
    assert jobs.start_fit("sqlite:///unused.db", "demo", "import").id != first.id


@pytest.mark.parametrize("stored", [True, False])
def test_a_fit_interrupted_by_a_restart_is_done_if_its_model_was_stored(tmp_path, stored):
    from datetime import UTC, datetime, timedelta

    from chemloop.loop import campaign
    from chemloop.loop.config import CampaignConfig
    from chemloop.loop.results import read_results
    from chemloop.loop.store import connect
    from chemloop.reward.data import CsvTable

    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    factory = connect(db_url)
    molecules = ["CCO", "c1ccccc1O", "CCN(CC)CC", "c1ccc2ccccc2c1", "Clc1ccccc1", "CCCCCCCC"]
    seed = read_results(
        CsvTable("seed.csv", ["smiles", "value"], [[s, str(i)] for i, s in enumerate(molecules)])
    )
    config = CampaignConfig.model_validate(
        {"reward": {"ensemble": 2, "hidden": 8, "epochs": 2, "cv_folds": 0}}
    )
    campaign.init_campaign(factory, "demo", config, seed=seed, fit_reward=False)
    started = datetime.now(UTC) - timedelta(minutes=1)
    folder = tmp_path / "jobs" / "0123456789ab"
    folder.mkdir(parents=True)
    record = {
        "id": "0123456789ab",
        "kind": "create",
        "status": "running",
        "created": started.isoformat(),
        "started": started.isoformat(),
        "params": {"campaign": "demo"},
        "pid": 999_999_999,
    }
    (folder / "job.json").write_text(json.dumps(record))
    if stored:
        campaign.refit(factory, "demo")
    job = JobManager(tmp_path / "jobs", db_url=db_url).get("0123456789ab")
    assert job.status == ("done" if stored else "failed"), job.error
    assert ("reward model was stored" in job.error) if stored else ("server stopped" in job.error)
    assert job.started == started.isoformat()  # its timing survives the restart
