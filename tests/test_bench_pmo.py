import csv
import json

import pytest
from typer.testing import CliRunner

from chemloop.bench.pmo_auc import top_k_auc
from chemloop.cli import app
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint

runner = CliRunner()


@pytest.mark.slow
def test_bench_pmo_runs_each_seed_and_scores_the_oracle_log(tmp_path):
    out = tmp_path / "pmo.json"
    args = ["bench", "pmo", "--tasks", "qed", "--budget", "60", "--seeds", "2"]
    result = runner.invoke(app, [*args, "--runs-dir", str(tmp_path / "runs"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "REINVENT (published)" in result.output
    data = json.loads(out.read_text())
    assert [(r["task"], r["seed"]) for r in data["runs"]] == [("qed", 0), ("qed", 1)]
    for run in data["runs"]:
        with (tmp_path / "runs" / "qed" / f"seed{run['seed']}" / "oracle_calls.csv").open() as handle:
            scores = [float(r["score"]) for r in csv.DictReader(handle)]
        assert len(scores) == run["oracle_calls"] == 60 and run["stopped_by"] == "budget"
        assert run["auc_top10"] == top_k_auc(scores, 60)  # the summary is computed from the log
    aucs = [r["auc_top10"] for r in data["runs"]]
    assert abs(data["summary"]["qed"]["mean"] - sum(aucs) / 2) < 1e-12
    assert data["run_settings"]["sigma"] == 500.0  # Augmented Memory's PMO settings by default


@pytest.mark.slow
def test_more_seeds_on_the_same_runs_dir_reuse_the_finished_runs(tmp_path, monkeypatch):
    from chemloop.bench import pmo

    runs, started = tmp_path / "runs", []
    real = pmo.optimize

    def counted(config, folder, resume=False):
        started.append(config.run.seed)
        return real(config, folder, resume=resume)

    monkeypatch.setattr(pmo, "optimize", counted)
    first = pmo.bench_pmo(["qed"], budget=30, seeds=1, runs_dir=runs)
    second = pmo.bench_pmo(["qed"], budget=30, seeds=2, runs_dir=runs)
    assert started == [0, 1]  # seed 0 ran once
    reread, original = second["runs"][0], first["runs"][0]
    assert reread.pop("seconds") == round(original.pop("seconds"), 1) and reread == original
    later = pmo.bench_pmo(["qed"], budget=30, seeds=1, first_seed=2, runs_dir=runs)
    assert started == [0, 1, 2] and [r["seed"] for r in later["runs"]] == [2]
    earlier = pmo.bench_pmo(["qed"], budget=30, seeds=2, runs_dir=runs)  # reread: nothing runs
    assert started == [0, 1, 2] and pmo.merge_results([earlier, later])["summary"]["qed"]["seeds"] == 3
    with pytest.raises(ChemloopError, match="other settings"):
        pmo.bench_pmo(["qed"], budget=30, seeds=1, runs_dir=runs, run={"lr": 1e-3})
    assert not reread["resumed"]


@pytest.mark.slow
def test_a_run_stopped_part_way_resumes_where_it_stopped(tmp_path):
    from chemloop.bench import pmo

    runs = tmp_path / "runs"
    folder = runs / "qed" / "seed0"
    # As if killed after its first saved state: the config names a budget of 60, the log holds 30.
    config = pmo.pmo_config("qed", 60, 0)
    pmo.optimize(config.model_copy(update={"run": config.run.model_copy(update={"budget": 30})}), folder)
    (folder / "summary.json").unlink()
    (folder / "config.json").write_text(config.model_dump_json())
    logged = (folder / "oracle_calls.csv").read_text().splitlines()
    result = pmo.bench_pmo(["qed"], budget=60, seeds=1, runs_dir=runs)
    run = result["runs"][0]
    assert run["resumed"] and run["oracle_calls"] == 60
    assert (folder / "oracle_calls.csv").read_text().splitlines()[: len(logged)] == logged  # kept, not rerun
    assert run["model_weights"] == checkpoint.weights_digest("prior")
    # A newer chemloop may ship other weights under the same name: such a run is not reread...
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "model_weights_sha256": "0" * 16}))
    with pytest.raises(ChemloopError, match="other weights of model 'prior'"):
        pmo.bench_pmo(["qed"], budget=60, seeds=1, runs_dir=runs)
    # ...nor resumed
    (folder / "summary.json").unlink()
    (folder / "model_weights.json").write_text(json.dumps({"model": "prior", "sha256": "0" * 16}))
    with pytest.raises(ChemloopError, match="started with other weights"):
        pmo.bench_pmo(["qed"], budget=60, seeds=1, runs_dir=runs)
    (folder / "config.json").write_text(pmo.pmo_config("qed", 60, 1).model_dump_json())  # another run's
    with pytest.raises(ChemloopError, match="other settings"):
        pmo.bench_pmo(["qed"], budget=60, seeds=1, runs_dir=runs)


@pytest.mark.slow
def test_a_run_folder_with_the_older_seconds_key_is_reread(tmp_path):
    from chemloop.bench import pmo

    runs = tmp_path / "runs"
    pmo.bench_pmo(["qed"], budget=30, seeds=1, runs_dir=runs)
    path = runs / "qed" / "seed0" / "summary.json"
    summary = json.loads(path.read_text())
    summary["seconds_this_session"] = summary.pop("seconds_this_invocation")  # its name until 2026-12
    path.write_text(json.dumps(summary))
    reread = pmo.bench_pmo(["qed"], budget=30, seeds=1, runs_dir=runs)
    assert reread["runs"][0]["seconds"] == summary["seconds_this_session"]


@pytest.mark.slow
def test_bench_pmo_settings_override_and_bad_task(tmp_path):
    (tmp_path / "s.toml").write_text("[run]\nupdate = 'reinforce_kl'\nbatch_size = 16\n")
    out = tmp_path / "pmo.json"
    args = [
        "bench",
        "pmo",
        "--tasks",
        "qed",
        "--budget",
        "20",
        "--seeds",
        "1",
        "--settings",
        str(tmp_path / "s.toml"),
    ]
    result = runner.invoke(app, [*args, "--runs-dir", str(tmp_path / "runs"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["run_settings"]["update"] == "reinforce_kl"
    bad = runner.invoke(app, ["bench", "pmo", "--tasks", "qed,celecoxib", "--runs-dir", str(tmp_path / "r2")])
    assert bad.exit_code == 2 and "'celecoxib'" in bad.output
    (tmp_path / "typo.toml").write_text("[run]\nsigmaa = 3\n")
    typo = runner.invoke(
        app,
        [
            "bench",
            "pmo",
            "--tasks",
            "qed",
            "--settings",
            str(tmp_path / "typo.toml"),
            "--runs-dir",
            str(tmp_path / "r3"),
        ],
    )
    assert typo.exit_code == 2 and "run.sigmaa" in typo.output


def _result(task: str, aucs: list[float], lr: float = 1e-4, machine: str = "laptop") -> dict:
    runs = [
        {
            "task": task,
            "seed": seed,
            "auc_top10": auc,
            "top10_mean": auc,
            "best": auc,
            "oracle_calls": 10,
            "finished_early": False,
            "stopped_by": "budget",
            "seconds": 1.0,
        }
        for seed, auc in enumerate(aucs)
    ]
    return {"budget": 10, "run_settings": {"lr": lr}, "runs": runs, "machine": machine}


def test_results_of_split_benchmarks_merge_into_one_table():
    from chemloop.bench.pmo import merge_results

    merged = merge_results([_result("qed", [0.9, 0.7]), _result("median1", [0.3])])
    assert merged["summary"]["qed"]["mean"] == pytest.approx(0.8) and merged["summary"]["qed"]["seeds"] == 2
    assert merged["sum"] == pytest.approx(1.1)
    assert merged["machine"] == "laptop"  # where the runs ran, not where they were merged
    two = merge_results([_result("qed", [0.9]), _result("median1", [0.3], machine="H100 box")])
    assert two["machine"] == "laptop; H100 box"
    even = merge_results([_result("qed", [0.9, 0.7]), _result("median1", [0.3])], complete_seeds=True)
    assert even["summary"]["qed"]["mean"] == pytest.approx(0.9)  # seed 1 dropped: median1 lacks it
    assert even["sum"] == pytest.approx(1.2)
    later = _result("median1", [0.0, 0.2, 0.4])
    later["runs"] = later["runs"][1:]  # seeds 1 and 2, run after seed 0 of every task
    shared = merge_results([_result("qed", [0.9, 0.7]), later], complete_seeds=True)
    assert shared["summary"]["qed"]["mean"] == pytest.approx(0.7)  # seed 1: the only one both have
    assert shared["summary"]["median1"]["mean"] == pytest.approx(0.2) and shared["seeds"] == 1
    with pytest.raises(ChemloopError, match="different settings"):
        merge_results([_result("qed", [0.9]), _result("median1", [0.3], lr=1e-3)])
    by_alias, by_name = _result("qed", [0.9]), _result("median1", [0.3])
    by_alias["run_settings"]["model"], by_name["run_settings"]["model"] = "zinc", "prior"
    assert merge_results([by_alias, by_name])["sum"] == pytest.approx(1.2)  # one prior, two names
    by_name["run_settings"]["model"] = "moses"
    with pytest.raises(ChemloopError, match="different settings"):
        merge_results([by_alias, by_name])
    with pytest.raises(ChemloopError, match="qed seed 0 more than once"):
        merge_results([_result("qed", [0.9, 0.7]), _result("qed", [0.9])])
    # A setting added since a result was written ran at its default there: same method.
    newer = _result("median1", [0.3])
    newer["run_settings"]["augment_whole_memory"] = False
    assert merge_results([_result("qed", [0.9]), newer])["run_settings"]["augment_whole_memory"] is False
    newer["run_settings"]["augment_whole_memory"] = True
    with pytest.raises(ChemloopError, match="different settings"):
        merge_results([_result("qed", [0.9]), newer])


def test_seed_spread_of_a_paired_sum_by_hand(tmp_path):
    """bench/pmo_paired.py --spread: √Σ 2·s², a task with one seed taking the median s."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "pmo_paired", Path(__file__).parents[1] / "bench/pmo_paired.py"
    )
    paired = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paired)
    results = tmp_path / "spread.json"
    # qed: seeds 0.9, 0.7 → s = 0.1414; median1: 0.3, 0.5, 0.7 → s = 0.2; drd2: one seed
    runs = _result("qed", [0.9, 0.7])["runs"] + _result("median1", [0.3, 0.5, 0.7])["runs"]
    runs += _result("drd2", [0.5])["runs"]
    results.write_text(json.dumps({**_result("qed", []), "runs": runs}))
    median = (0.02**0.5 + 0.2) / 2
    expected = (2 * 0.02 + 2 * 0.04 + 2 * median**2) ** 0.5
    assert paired.seed_spread([results], ["qed", "median1", "drd2"]) == pytest.approx(expected)
    single = tmp_path / "single.json"
    single.write_text(json.dumps(_result("qed", [0.9])))
    with pytest.raises(SystemExit, match="at least two seeds"):
        paired.seed_spread([single], ["qed"])


def _bench_script(name: str):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / f"bench/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sign_test_of_paired_runs_by_hand():
    """bench/pmo_paired.py: two-sided exact sign test over the pairs that differ."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "pmo_paired", Path(__file__).parents[1] / "bench/pmo_paired.py"
    )
    paired = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paired)
    assert paired.sign_test(7, 0) == pytest.approx(2 / 2**7)  # all seven higher
    assert paired.sign_test(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 2**10)  # symmetric
    assert paired.sign_test(8, 2) == paired.sign_test(2, 8)
    assert paired.sign_test(5, 5) == 1.0 and paired.sign_test(0, 0) == 1.0


def test_paired_runs_of_other_weights_are_named():
    paired = _bench_script("pmo_paired")
    run = {"task": "qed", "seed": 0}
    base = {
        ("qed", 0): ({**run, "model_weights": "a" * 16}, {}),
        ("drd2", 0): ({**run, "model_weights": ""}, {}),
    }
    new = {
        ("qed", 0): ({**run, "model_weights": "b" * 16}, {}),
        ("drd2", 0): ({**run, "model_weights": "b"}, {}),
    }
    assert paired.pairs_of_other_weights(base, new, [("qed", 0), ("drd2", 0)]) == ["qed seed 0"]
    # A pair that compares two models (a compressed copy against the prior) differs by design.
    base[("qed", 0)] = (base[("qed", 0)][0], {"model": "prior"})
    new[("qed", 0)] = (new[("qed", 0)][0], {"model": "runs/prior-sparsegpt-0.5"})
    assert paired.pairs_of_other_weights(base, new, [("qed", 0), ("drd2", 0)]) == []


def test_pmo_table_leaves_marked_tasks_out_of_both_sums():
    """bench/pmo_table.py --exclude-from-sum: the sums, ours and REINVENT's, skip the same tasks."""
    from chemloop.bench.pmo import merge_results
    from chemloop.bench.pmo_reference import REINVENT

    table = _bench_script("pmo_table")
    merged = merge_results([_result("qed", [0.9, 0.7]), _result("median1", [0.3]), _result("drd2", [0.5])])
    sums = table.comparable_sums(merged["summary"], frozenset({"median1"}))
    assert sums["tasks"] == 2 and sums["chemloop"] == pytest.approx(0.8 + 0.5)
    assert sums["reinvent"] == pytest.approx(REINVENT["qed"][0] + REINVENT["drd2"][0])
    markdown = table.markdown_table(merged, frozenset({"median1"}))
    assert "| median1 † |" in markdown and "| **sum, 2 tasks without †** |" in markdown
    assert "| qed | 0.800 ± 0.141 |" in markdown and "| drd2 | 0.500 (1 of 2 seeds) |" in markdown
    with pytest.raises(SystemExit, match="not in these results: jnk3"):
        table.comparable_sums(merged["summary"], frozenset({"jnk3"}))


def test_pmo_table_sets_earlier_runs_beside_and_names_tasks_below_reinvent():
    """bench/pmo_table.py --beside: a column of earlier runs, our difference to them and their sum;
    a task counts as below REINVENT when it falls short by more than REINVENT's published std."""
    from chemloop.bench.pmo import merge_results
    from chemloop.bench.pmo_reference import REINVENT

    table = _bench_script("pmo_table")
    qed_mean, qed_std = REINVENT["qed"]
    drd2_mean, drd2_std = REINVENT["drd2"]
    merged = merge_results(
        [_result("qed", [qed_mean - 2 * qed_std - 0.01]), _result("drd2", [drd2_mean - 0.5 * drd2_std])]
    )
    assert table.below_reinvent(merged["summary"]) == ["qed"]
    assert table.below_reinvent(merged["summary"], frozenset({"qed"})) == []
    earlier = merge_results([_result("qed", [0.5, 0.7]), _result("drd2", [0.25])])
    markdown = table.markdown_table(merged, beside=earlier, beside_label="MOSES prior")
    assert "| MOSES prior | Δ MOSES prior |" in markdown
    qed_row = next(line for line in markdown.splitlines() if line.startswith("| qed |"))
    ours = merged["summary"]["qed"]["mean"]
    assert f"| 0.600 ± 0.141 | {ours - 0.6:+.3f} |" in qed_row
    total = ours + merged["summary"]["drd2"]["mean"]
    assert f"| **0.850** | **{total - 0.85:+.3f}** |" in markdown.splitlines()[-1]
    only_qed = merge_results([_result("qed", [0.6])])
    assert "| — | — |" in table.markdown_table(merged, beside=only_qed, beside_label="x")


def test_machine_description_names_cpu_and_cores():
    import os

    from chemloop.bench.machine import bf16_units, cpu_name, describe

    text = describe()
    assert cpu_name() in text and f"{os.cpu_count()} cores" in text and "Python" in text
    assert f"({bf16_units()})" in text and bf16_units() in ("AMX", "AVX-512 BF16", "no bf16 units")


def test_isomer_runs_of_files_before_the_published_form_are_read_as_corrected():
    from chemloop.bench.pmo import ISOMER_FORM, merge_results

    older = _result("zaleplon_mpo", [0.55, 0.54])  # written before files recorded the isomer form
    newer = {**_result("zaleplon_mpo", [0.40]), "isomer_form": ISOMER_FORM}
    newer["runs"][0]["seed"] = 5
    merged = merge_results([older, _result("qed", [0.9]), newer])
    assert merged["summary"]["zaleplon_mpo_corrected"]["seeds"] == 2
    assert merged["summary"]["zaleplon_mpo"] == pytest.approx(
        {"mean": 0.40, "std": 0.0, "seeds": 1, "seconds": 1.0}
    )
    assert "qed" in merged["summary"] and merged["isomer_form"] == ISOMER_FORM


def test_pmo_config_records_the_spelling_the_prior_implies(tiny_run):
    from chemloop.bench.pmo import pmo_config

    assert pmo_config("qed", 100, 0, {"model": str(tiny_run)}).run.randomize is False
    assert pmo_config("qed", 100, 0, {"model": str(tiny_run), "randomize": True}).run.randomize is True


def test_calls_to_reach_is_the_first_call_whose_top10_mean_clears_the_value():
    """bench/pmo_compare.py --reach: the top-10 mean counts only once ten molecules are scored."""
    compare = _bench_script("pmo_compare")
    scores = [1.0] * 9 + [0.0, 0.5, 1.0]
    assert compare.calls_to_reach(scores, 0.9) == 10  # nine 1.0s and a 0.0: mean 0.9
    assert compare.calls_to_reach(scores, 0.95) == 11  # the 0.0 replaced by 0.5
    assert compare.calls_to_reach(scores, 1.0) == 12
    assert compare.calls_to_reach(scores, 1.01) is None
    assert compare.calls_to_reach([1.0] * 5, 0.1) is None  # fewer than ten scores: no top-10 mean
