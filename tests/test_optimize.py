import csv

from typer.testing import CliRunner

from chemloop.cli import app

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
    assert list(rows[0]) == ["call", "smiles", "score", "objective_raw", "qed_raw", "objective", "qed"]
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


def test_example_config_is_valid():
    from chemloop.rl.run import load_config

    assert load_config("examples/qed.toml").run.budget == 3000


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
