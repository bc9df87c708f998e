import csv

import pytest
from typer.testing import CliRunner

from chemloop.cli import app
from chemloop.model import checkpoint
from chemloop.rl import run

runner = CliRunner()

CONFIG = """
[run]
budget = 150
batch_size = 32
seed = 1

[[score.components]]
type = "python"
path = "objective.py"
function = "score"
weight = 1.0

[[score.components]]
type = "qed"
"""


@pytest.mark.slow
def test_optimize_writes_the_oracle_log_and_agent(tmp_path):
    (tmp_path / "objective.py").write_text(
        "def score(smiles):\n    return [s.count('N') / 5 for s in smiles]\n"
    )
    (tmp_path / "run.toml").write_text(CONFIG)
    out = tmp_path / "out"
    result = runner.invoke(app, ["optimize", "--config", str(tmp_path / "run.toml"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "oracle_calls.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 150  # exactly the budget of unique calls
    assert [int(r["call"]) for r in rows] == list(range(1, 151))
    assert len({r["smiles"] for r in rows}) == 150
    assert list(rows[0]) == [
        "call",
        "smiles",
        "score",
        "objective_raw",
        "qed_raw",
        "objective",
        "qed",
        "source",
    ]
    assert (out / "agent" / "model.safetensors").exists() and (out / "top.csv").exists()
    report = (out / "report.html").read_text()
    with (out / "top.csv").open() as handle:
        best = next(csv.DictReader(handle))["smiles"]
    assert "150 oracle calls" in report and "<polyline" in report
    assert best in report  # the top molecule is listed
    again = runner.invoke(app, ["optimize", "--config", str(tmp_path / "run.toml"), "--output", str(out)])
    assert again.exit_code == 2 and "already holds a run" in " ".join(again.output.split())


def test_bad_config_key_is_named(tmp_path):
    (tmp_path / "bad.toml").write_text("[run]\nbudgett = 5\n[[score.components]]\ntype = 'qed'\n")
    result = runner.invoke(
        app, ["optimize", "--config", str(tmp_path / "bad.toml"), "--output", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "run.budgett" in result.output


def test_example_configs_are_valid():
    from chemloop.rl.run import load_config
    from chemloop.score.scorer import Scorer

    assert load_config("examples/qed.toml").run.budget == 3000
    plugin = load_config("examples/plugin.toml")
    scores = [r.score for r in Scorer(plugin.score)(["Nc1ncc(-c2ccccc2)cn1", "CCO", "C1CC"])]
    assert scores[0] > scores[1] > 0 and scores[2] == 0  # the aminopyrimidine wins; invalid scores 0


@pytest.mark.slow
def test_optimize_stops_at_the_target_score(tmp_path):
    from chemloop.rl.run import OptimizeConfig, optimize

    config = OptimizeConfig.model_validate(
        {
            "run": {"budget": 5000, "batch_size": 32, "target_score": 0.2},
            "score": {"components": [{"type": "qed"}]},
        }
    )
    optimize(config, tmp_path / "run")
    with (tmp_path / "run" / "oracle_calls.csv").open() as handle:
        scores = sorted((float(r["score"]) for r in csv.DictReader(handle)), reverse=True)
    assert len(scores) < 5000 and sum(scores[:10]) / 10 >= 0.2


def _qed_config(budget: int, **run):
    from chemloop.rl.run import OptimizeConfig

    return OptimizeConfig.model_validate(
        {
            "run": {"budget": budget, "batch_size": 16, "seed": 3, **run},
            "score": {"components": [{"type": "qed"}]},
        }
    )


def _calls(folder):
    with (folder / "oracle_calls.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_resume_after_a_kill_continues_the_oracle_log_without_duplicates(tmp_path):
    from chemloop.rl.run import optimize

    class Killed(Exception):
        pass

    def kill_at_step_3(progress):
        if progress.step.step == 3:
            raise Killed  # after step 3's calls are logged; the saved state is from step 2

    out = tmp_path / "run"
    with pytest.raises(Killed):
        optimize(_qed_config(200, checkpoint_every=2), out, progress=kill_at_step_3)
    before = _calls(out)
    assert 0 < len(before) <= 3 * 16
    optimize(None, out, resume=True)
    after = _calls(out)
    assert after[: len(before)] == before  # nothing logged earlier is rewritten
    assert [int(r["call"]) for r in after] == list(range(1, 201))
    assert len({r["smiles"] for r in after}) == 200  # no molecule scored twice
    with (out / "steps.csv").open() as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle)]
    assert steps == list(range(1, len(steps) + 1))  # step 3 was redone from the step-2 state, once


@pytest.mark.slow
def test_resume_may_raise_the_budget_but_not_change_the_objective(tmp_path):
    from chemloop.errors import ChemloopError
    from chemloop.rl.run import OptimizeConfig, optimize

    out = tmp_path / "run"
    optimize(_qed_config(60), out)
    optimize(_qed_config(120), out, resume=True)
    assert len(_calls(out)) == 120 and len({r["smiles"] for r in _calls(out)}) == 120
    with pytest.raises(ChemloopError, match="run.lr"):
        optimize(_qed_config(200, lr=1e-3), out, resume=True)
    other = OptimizeConfig.model_validate({"run": {"budget": 200}, "score": {"components": [{"type": "mw"}]}})
    with pytest.raises(ChemloopError, match="score"):
        optimize(other, out, resume=True)
    assert len(_calls(out)) == 120  # refused resumes leave the log as it was


@pytest.mark.slow
def test_resume_from_the_command_line(tmp_path):
    (tmp_path / "run.toml").write_text(
        "[run]\nbudget = 40\nbatch_size = 16\n[[score.components]]\ntype = 'qed'\n"
    )
    out = tmp_path / "out"
    assert (
        runner.invoke(
            app, ["optimize", "--config", str(tmp_path / "run.toml"), "--output", str(out)]
        ).exit_code
        == 0
    )
    (tmp_path / "more.toml").write_text(
        "[run]\nbudget = 80\nbatch_size = 16\n[[score.components]]\ntype = 'qed'\n"
    )
    result = runner.invoke(
        app, ["optimize", "--config", str(tmp_path / "more.toml"), "--output", str(out), "--resume"]
    )
    assert result.exit_code == 0, result.output
    assert len(_calls(out)) == 80
    missing = runner.invoke(app, ["optimize", "--output", str(tmp_path / "nothing"), "--resume"])
    assert missing.exit_code == 2 and "no run to resume" in missing.output


@pytest.mark.slow
def test_molecules_past_the_budget_are_not_learned_from(tmp_path, monkeypatch):
    """The budget runs out inside the first batch: only the scored molecules reach the update."""
    from chemloop.rl.agent import Agent
    from chemloop.rl.run import optimize

    updated = []
    real = Agent._update

    def spy(self, fresh_ids, fresh_rewards, replay, **kwargs):
        updated.append(len(fresh_ids))
        return real(self, fresh_ids, fresh_rewards, replay, **kwargs)

    monkeypatch.setattr(Agent, "_update", spy)
    out = optimize(_qed_config(5, batch_size=32, augment_rounds=0, diversity_bucket=None), tmp_path / "run")
    assert len(_calls(out)) == 5
    with (out / "steps.csv").open() as handle:
        [step] = list(csv.DictReader(handle))
    assert 5 <= updated[0] < 32  # the 5 scored molecules, invalid ones (score 0) and repeats of them
    assert float(step["mean_score"]) > 0.3  # QED of the scored ones, not diluted by zeros for the rest


def test_plateau_counts_steps_that_leave_the_best_scores_unchanged(monkeypatch):
    from types import SimpleNamespace

    from chemloop.rl import run

    monkeypatch.setattr(run, "PLATEAU_TOP", 3)
    monkeypatch.setattr(run, "PLATEAU_AFTER_CALLS", 4)
    calls = [SimpleNamespace(score=s) for s in (0.2, 0.5, float("nan"))]
    plateau = run.Plateau(calls)
    assert plateau.best == [0.5, 0.2, 0.0]  # an unscorable molecule counts as 0
    plateau.update([SimpleNamespace(score=0.0)], total=4)
    assert plateau.steps == 0  # not counted before more than 4 calls
    plateau.update([SimpleNamespace(score=0.0)], total=5)
    plateau.update([], total=5)
    assert plateau.steps == 2  # a tie with the lowest of the best is no change
    plateau.update([SimpleNamespace(score=0.1)], total=6)
    assert plateau.steps == 0 and plateau.best == [0.5, 0.2, 0.1]


def test_plateau_calls_counts_new_molecules_not_steps(monkeypatch):
    from types import SimpleNamespace

    from chemloop.rl import run

    monkeypatch.setattr(run, "PLATEAU_TOP", 2)
    monkeypatch.setattr(run, "PLATEAU_AFTER_CALLS", 0)
    by_calls = run.RunSection(plateau_calls=5)
    plateau = run.Plateau([SimpleNamespace(score=0.9), SimpleNamespace(score=0.8)])
    for total in range(3, 7):  # four steps of one molecule each, none in the best two
        plateau.update([SimpleNamespace(score=0.1)], total=total)
    assert (plateau.steps, plateau.calls) == (4, 4) and not plateau.reached(by_calls)
    plateau.update([], total=6)  # a step with nothing new counts as a step, not as a molecule
    assert (plateau.steps, plateau.calls) == (5, 4) and not plateau.reached(by_calls)
    assert plateau.reached(run.RunSection(plateau=5))
    plateau.update([SimpleNamespace(score=0.2)] * 3, total=9)
    assert plateau.calls == 7 and plateau.reached(by_calls)
    plateau.update([SimpleNamespace(score=0.85)], total=10)  # into the best two: both counts restart
    assert (plateau.steps, plateau.calls) == (0, 0) and not plateau.reached(by_calls)


@pytest.mark.slow
def test_a_run_on_a_plateau_stops_before_the_budget(tmp_path, monkeypatch):
    import json

    from chemloop.rl import run

    monkeypatch.setattr(run, "PLATEAU_AFTER_CALLS", 50)
    (tmp_path / "flat.py").write_text("def score(smiles):\n    return [0.5 for _ in smiles]\n")
    flat = {"type": "python", "path": str(tmp_path / "flat.py"), "function": "score"}
    config = run.OptimizeConfig.model_validate(
        {"run": {"budget": 1000, "batch_size": 16, "seed": 2, "plateau": 2}, "score": {"components": [flat]}}
    )
    out = run.optimize(config, tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    # Every score ties, so once 100 molecules fill the best 100, two more steps end the run.
    assert summary["stopped_by"] == "plateau"
    assert 100 <= summary["oracle_calls"] < 150


@pytest.mark.parametrize(
    ("trained_on_random", "setting", "expected"),
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_random_spellings_follow_the_prior_unless_set(
    tmp_path, tiny_run, trained_on_random, setting, expected
):
    prior = checkpoint.load(tiny_run)
    folder = tmp_path / "prior"
    checkpoint.save(folder, prior.model, prior.tokenizer, {"randomized_smiles": trained_on_random})
    agent = run._make_agent(run.RunSection(model=str(folder), randomize=setting))
    assert agent.randomize is expected and agent.memory.randomize is expected
