"""Progress of long campaign operations: stages and fractions, the refit's and propose's reports, and
a job's elapsed time and estimate of the time left."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rdkit import Chem
from rdkit.Chem import QED

from chemloop.jobs import Job
from chemloop.loop import campaign, campaign_reads
from chemloop.loop.config import CampaignConfig
from chemloop.loop.progress import Progress, Stages
from chemloop.loop.results import read_results
from chemloop.loop.store import connect
from chemloop.reward.data import CsvTable

SERIES = [
    "CCO",
    "c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "CCN(CC)CC",
    "c1ccc2ccccc2c1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "O=C(O)c1ccccc1O",
    "CN1CCC[C@H]1c1cccnc1",
    "Clc1ccccc1",
    "CCCCCCCC",
]


def _seed_rows():
    lines = [[s, str(round(10 * QED.qed(Chem.MolFromSmiles(s)), 3))] for s in SERIES]
    return read_results(CsvTable("seed.csv", ["smiles", "value"], lines))


def test_stages_weigh_the_fraction_by_their_costs_and_nest():
    reports: list[Progress] = []
    stages = Stages(reports.append, {"refit": 1.0, "fine-tuning": 1.0, "RL": 2.0})
    stages.step("fine-tuning", 1, 2, "epochs")
    stages.step("RL", 3, 4, "steps")
    inner = stages.within("refit")
    inner(Progress("cross-validating", 1, 2, "folds", 0.5))
    assert [r.fraction for r in reports] == [0.375, 0.875, 0.125]
    assert reports[0].words() == "fine-tuning: 1/2 epochs"
    assert reports[2].words() == "cross-validating: 1/2 folds"  # the inner stage's own words
    assert Progress("sampling candidates", 0, 1, "", 0.2).words() == "sampling candidates"
    Stages(None, {"x": 1.0}).step("x", 1)  # no listener: nothing happens, nothing fails
    assert Stages(None, {"x": 1.0}).within("x") is None


def test_a_refit_reports_each_fold_then_the_fit(tmp_path):
    factory = connect(f"sqlite:///{tmp_path / 'c.db'}")
    reward = {"ensemble": 2, "hidden": 16, "epochs": 5, "cv_folds": 3}
    config = CampaignConfig.model_validate({"reward": reward})
    campaign.init_campaign(factory, "series", config, seed=_seed_rows(), fit_reward=False)
    assert campaign_reads.status(factory, "series")["reward_model"] is None  # fit_reward=False: not fitted
    reports: list[Progress] = []
    quality = campaign.refit(factory, "series", progress=reports.append)
    assert quality is not None and quality["folds"] == 3
    cv = [r for r in reports if r.stage.startswith("cross-validating")]
    assert [(r.done, r.total, r.unit) for r in cv] == [(n, 3, "folds") for n in range(4)]
    assert reports[-1].stage == "fitting the reward model" and reports[-1].fraction == 1.0
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[0] == 0.0


@pytest.mark.slow
def test_propose_reports_its_stages_in_order(tmp_path):
    factory = connect(f"sqlite:///{tmp_path / 'c.db'}")
    config = CampaignConfig.model_validate(
        {
            "campaign": {
                "batch": 3,
                "candidates": 60,
                "rl_steps": 2,
                "rl_batch_size": 8,
                "finetune_epochs": 2,
            },
            "reward": {"ensemble": 2, "hidden": 16, "epochs": 5, "cv_folds": 2},
        }
    )
    # Not fitted at creation: propose finds the reward model stale and refits it first.
    campaign.init_campaign(factory, "series", config, seed=_seed_rows(), fit_reward=False)
    reports: list[Progress] = []
    proposed = campaign.propose(factory, "series", progress=reports.append)
    assert proposed.round == 1
    stages = list(dict.fromkeys(r.stage for r in reports))
    assert stages == [
        "cross-validating the reward model",
        "fitting the reward model",
        "fine-tuning on the measured molecules",
        "RL towards the reward",
        "sampling candidates",
        "predicting and choosing the batch",
    ]
    assert [r.words() for r in reports if r.stage == "RL towards the reward"] == [
        "RL towards the reward: 0/2 steps",
        "RL towards the reward: 1/2 steps",
        "RL towards the reward: 2/2 steps",
    ]
    assert "fine-tuning on the measured molecules: 2/2 epochs" in [r.words() for r in reports]
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def _job(tmp_path, status="running", elapsed=30.0, fraction=None, previous=None, finished=None) -> Job:
    folder = tmp_path / "0123456789ab"
    folder.mkdir(exist_ok=True)
    if fraction is not None:
        (folder / "progress.json").write_text(json.dumps({"fraction": fraction, "message": "RL: 3/10 steps"}))
    started = datetime.now(UTC) - timedelta(seconds=elapsed)
    job = Job("0123456789ab", "propose", status, started.isoformat(), folder, {"campaign": "c"})
    job.started, job.finished, job.previous_seconds = started.isoformat(), finished, previous
    return job


def test_time_left_comes_from_the_steps_done_or_the_previous_job(tmp_path):
    remaining, basis = _job(tmp_path, fraction=0.25).remaining()
    assert basis == "steps" and remaining == pytest.approx(90, abs=1)  # 30 s for a quarter: 90 s more
    # The previous propose of this campaign took 200 s: while little is done, that is the better guide.
    remaining, basis = _job(tmp_path, fraction=0.25, previous=200.0).remaining()
    assert basis == "previous job" and remaining == pytest.approx(150)
    remaining, basis = _job(tmp_path, fraction=0.75, previous=200.0).remaining()
    assert basis == "steps" and remaining == pytest.approx(10, abs=1)
    assert _job(tmp_path, fraction=0.01).remaining() == (None, None)  # too little done to tell
    assert _job(tmp_path, status="queued", fraction=0.5).remaining() == (None, None)
    shown = _job(tmp_path, fraction=0.25).to_dict()
    assert shown["progress"]["message"] == "RL: 3/10 steps" and shown["elapsed_s"] == pytest.approx(30, abs=1)
    assert shown["estimate_from"] == "steps" and shown["remaining_s"] == pytest.approx(90, abs=1)
    start = datetime.now(UTC) - timedelta(seconds=100)
    done = _job(tmp_path, status="done", fraction=1.0, finished=(start + timedelta(seconds=64)).isoformat())
    done.started = start.isoformat()
    assert done.elapsed() == pytest.approx(64) and done.to_dict()["remaining_s"] is None
