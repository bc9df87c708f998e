"""``bench campaign``: the simulated campaign and its three baselines, with tiny settings."""

import json

import pytest
from typer.testing import CliRunner

from chemloop.bench.campaign import METHODS, bench_campaign
from chemloop.cli import app
from chemloop.errors import ChemloopError

TINY_CAMPAIGN = {"candidates": 100, "rl_steps": 1, "rl_batch_size": 16}
TINY_REWARD = {"ensemble": 2, "hidden": 32, "epochs": 20, "cv_folds": 0}
PROGRESS: list[str] = []  # what the module's run said


@pytest.fixture(scope="module")
def result():
    return bench_campaign(
        task="osimertinib_mpo",
        rounds=2,
        batch=3,
        seed_molecules=5,
        reference_size=200,
        noise=0.05,
        campaign=TINY_CAMPAIGN,
        reward=TINY_REWARD,
        run={"augment_rounds": 0},
        progress=PROGRESS.append,
    )


@pytest.mark.slow
def test_every_method_measures_the_same_budget_with_honest_counts(result):
    assert 0.0 <= result["threshold"] <= 1.0 and result["reference_size"] == 200
    assert result["run_settings"]["augment_rounds"] == 0  # the [run] table reached the agent settings
    json.dumps(result)  # serializable as it is
    assert "cores" in result["machine"]  # where it ran, for the docs
    (run,) = result["runs"]
    seed = set(run["seed_molecules"])
    assert len(seed) == 5
    for method in METHODS:
        r = run["methods"][method]
        designed = [m["smiles"] for m in r["molecules"]]
        assert len(designed) == len(set(designed)) == 2 * 3 and not seed & set(designed)
        assert r["measured"] == 5 + 2 * 3
        assert [sum(m["round"] == n for m in r["molecules"]) for n in (1, 2)] == [3, 3]
        best = r["best_so_far"]
        assert len(best) == 3 and all(a <= b for a, b in zip(best, best[1:], strict=False))
        assert best[-1] == r["best_measured"] >= max(m["value"] for m in r["molecules"])
        assert r["top1_hits"] == sum(m["score"] >= result["threshold"] for m in r["molecules"])
        top = max(r["molecules"], key=lambda m: m["value"])
        assert r["best_in_top1"] == (top["score"] >= result["threshold"])
        assert all(0.0 <= m["score"] <= 1.0 for m in r["molecules"])
    rounds = [line.strip().split(":")[0] for line in PROGRESS if "round" in line]
    assert rounds == ["round 1/2", "round 2/2"]  # chemloop's rounds, as they end
    # The noise of a molecule is fixed: a molecule two methods measured reads the same value.
    values = {}
    for r in run["methods"].values():
        for m in r["molecules"]:
            assert values.setdefault(m["smiles"], m["value"]) == m["value"]


def test_bad_settings_fail_before_any_work():
    with pytest.raises(ChemloopError, match="unknown methods"):
        bench_campaign(methods=["chemloop", "oracle"])
    with pytest.raises(ChemloopError, match="unknown PMO task"):
        bench_campaign(task="nope", reference_size=100)
    with pytest.raises(ChemloopError, match="rl_step"):
        bench_campaign(campaign={"rl_step": 1})
    with pytest.raises(ChemloopError, match="ga_share"):
        bench_campaign(run={"ga_share": 2.0})


def test_cli_runs_and_writes_json(tmp_path, monkeypatch):
    import chemloop.bench.campaign as module

    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return {
            "task": kwargs["task"],
            "rounds": 1,
            "batch": 2,
            "seed_molecules": 5,
            "noise": 0.0,
            "threshold": 0.5,
            "reference_size": 100,
            "runs": [
                {
                    "seed": 0,
                    "methods": {
                        "chemloop": {
                            "best_so_far": [0.1, 0.6],
                            "top1_hits": 1,
                            "best_in_top1": True,
                            "best_designed_score": 0.6,
                            "seconds": 1.0,
                        }
                    },
                }
            ],
        }

    monkeypatch.setattr(module, "bench_campaign", fake)
    (tmp_path / "s.toml").write_text("[reward]\nensemble = 2\n")
    out = tmp_path / "b.json"
    args = ["bench", "campaign", "--rounds", "1", "--batch", "2", "--candidates", "50", "--rl-steps", "0"]
    outcome = CliRunner().invoke(app, [*args, "--settings", str(tmp_path / "s.toml"), "--output", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert "0.100 0.600" in outcome.output and json.loads(out.read_text())["threshold"] == 0.5
    assert seen["campaign"] == {"candidates": 50, "rl_steps": 0} and seen["reward"] == {"ensemble": 2}
    assert seen["seeds"] == [0] and seen["task"] == "osimertinib_mpo"


@pytest.mark.slow
def test_a_kept_campaign_continues_from_its_last_measured_round(tmp_path, monkeypatch):
    import chemloop.bench.campaign as module

    options = {
        "task": "osimertinib_mpo",
        "batch": 3,
        "seed_molecules": 5,
        "reference_size": 200,
        "campaign": TINY_CAMPAIGN,
        "reward": TINY_REWARD,
        "run": {"augment_rounds": 0},
        "methods": ["chemloop"],
        "work_dir": tmp_path,
    }
    first = bench_campaign(rounds=1, **options)["runs"][0]["methods"]["chemloop"]
    proposed, real_propose, real_import = [], module.propose, module.import_results
    monkeypatch.setattr(module, "propose", lambda *a, **k: proposed.append(1) or real_propose(*a, **k))

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # the session ends after round 2's propose, before its results

    monkeypatch.setattr(module, "import_results", stopped)
    with pytest.raises(KeyboardInterrupt):
        bench_campaign(rounds=2, **options)
    assert len(proposed) == 1  # round 1 was kept, round 2 proposed
    monkeypatch.setattr(module, "import_results", real_import)
    second = bench_campaign(rounds=2, **options)["runs"][0]["methods"]["chemloop"]
    assert len(proposed) == 1  # round 2's stored proposals were measured, not proposed again
    assert [m for m in second["molecules"] if m["round"] == 1] == first["molecules"]
    assert second["measured"] == 5 + 2 * 3 and second["seconds"] > first["seconds"] > 0
    with pytest.raises(ChemloopError, match="other settings"):
        bench_campaign(rounds=2, **{**options, "campaign": {**TINY_CAMPAIGN, "candidates": 120}})
    with pytest.raises(ChemloopError, match="whose lab measured compound; use another work folder"):
        bench_campaign(rounds=2, lab_measures="as-written", **options)


def test_the_lab_measures_the_compound_whatever_its_charge_state_or_salt():
    """A phenolate and a benzylammonium chloride are the phenol and the amine to an assay; scored as
    written (PMO's way), QED rates the charged forms lower."""
    from chemloop.bench.campaign import _Lab

    written = ["[O-]c1ccccc1", "C[NH+](C)Cc1ccccc1.[Cl-]"]
    parents = ["Oc1ccccc1", "CN(C)Cc1ccccc1"]
    compound, as_written = _Lab("qed", 0.0, 0), _Lab("qed", 0.0, 0, "as-written")
    assert compound.score(written) == compound.score(parents) == as_written.score(parents)
    assert all(w < p for w, p in zip(as_written.score(written), as_written.score(parents), strict=True))
    with pytest.raises(ChemloopError, match="lab_measures 'parent' is not one of compound, as-written"):
        bench_campaign(task="qed", lab_measures="parent")
