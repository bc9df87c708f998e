"""``chemloop bench pmo``: the PMO benchmark protocol on chemloop's optimizer.

Gao et al., "Sample Efficiency Matters" (NeurIPS 2022): each task gets a budget of unique
oracle calls (10,000), several seeds, and is scored by the AUC of the top-10 average over
calls (``chemloop.bench.pmo_auc``). Every run is an ordinary ``optimize`` run folder, so
its oracle log and report can be inspected afterwards.
"""

from __future__ import annotations

import functools
import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chemloop.bench.machine import describe
from chemloop.bench.pmo_auc import top_k_auc
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.rl.oracle_log import read_scores
from chemloop.rl.run import (
    OptimizeConfig,
    RunSection,
    optimize,
    parse_config,
)
from chemloop.rl.settings import agent_precision
from chemloop.score.oracles.pmo import CORRECTED_SUFFIX, ISOMER_TASKS, oracle

# The benchmark runs `[run]`'s defaults (chemloop.rl.settings: the agent's settings measured here)
# with PMO's protocol on top: the budget decides, not a step count, and runs stop as PMO's REINVENT
# does once its 100 best scores stay the same for 5 steps (mol_opt --patience 5).
PMO_PROTOCOL: dict[str, Any] = {"max_steps": 1_000_000, "plateau": 5}


@dataclass
class PmoRun:
    task: str
    seed: int
    auc_top10: float
    top10_mean: float
    best: float
    oracle_calls: int
    finished_early: bool
    stopped_by: str  # budget, plateau, patience, ...: see chemloop.rl.run
    seconds: float
    resumed: bool = False  # continued after a stop: ``seconds`` counts from the resume only
    model_weights: str = ""  # sha256 (16 digits) of the model's weights; empty in runs before 2026-12-06


# Result files record how the isomer term was scored. Files without the field were written while
# the corrected form was the only one (before 2026-12-03): their isomer-task runs are read as
# "<task>_corrected", so they never share a row with runs of the published form.
ISOMER_FORM = "published (TDC 0.3.6)"


def pmo_config(task: str, budget: int, seed: int, run: dict[str, Any] | None = None) -> OptimizeConfig:
    """The optimize config of one benchmark run: the task's oracle alone, as PMO scores it."""
    settings = {**PMO_PROTOCOL, **(run or {}), "budget": budget, "seed": seed}
    if settings.get("randomize") is None:  # resolved and recorded, so result files say what ran
        settings["randomize"] = _writes_random_spellings(settings.get("model", RunSection().model))
    settings["precision"] = agent_precision(settings.get("precision", RunSection().precision))
    data = {"run": settings, "score": {"components": [{"type": "pmo", "params": {"task": task}}]}}
    return parse_config(data, f"for PMO task {task}")


def run_task(task: str, seed: int, budget: int, folder: Path, run: dict[str, Any] | None = None) -> PmoRun:
    """One benchmark run in ``folder``; a finished run with the same config there is read, not rerun.

    So ``--seeds 3`` after ``--seeds 1`` on the same ``--runs-dir`` runs only seeds 1 and 2, and
    a run that was stopped part-way (a killed process, a restarted machine) resumes from its last
    saved state, as ``chemloop optimize --resume`` does.
    """
    oracle(task)  # an unknown task or a missing extra fails here, before any work
    config = pmo_config(task, budget, seed, run)
    state = _run_state(folder, config)
    if state != "finished":
        optimize(config, folder, resume=state == "unfinished")
    # The run's own clock, so a fresh run and a reread one report the same seconds.
    summary = json.loads((folder / "summary.json").read_text())
    seconds = summary.get("seconds_this_invocation", summary.get("seconds_this_session"))  # older name
    scores = read_scores(folder / "oracle_calls.csv")
    finished_early = len(scores) < budget
    top10 = sorted(scores, reverse=True)[:10]
    return PmoRun(
        task=task,
        seed=seed,
        auc_top10=top_k_auc(scores, budget, k=10, freq=100, finished=finished_early),
        top10_mean=sum(top10) / len(top10) if top10 else 0.0,
        best=max(scores, default=0.0),
        oracle_calls=len(scores),
        finished_early=finished_early,
        stopped_by=summary.get("stopped_by", "unknown"),  # runs before commit 6acf96f did not record it
        seconds=seconds,
        resumed=summary.get("resumed", False),
        model_weights=summary.get("model_weights_sha256", ""),
    )


def _run_state(folder: Path, config: OptimizeConfig) -> str:
    """``new``, ``unfinished`` or ``finished`` for a run of ``config`` in ``folder``.

    Raises for a run of other settings, or of other weights behind the same model name (a newer
    shipped prior): it is someone's result, never overwritten nor counted as this one.
    """
    if not (folder / "config.json").exists():  # nothing, or killed before its first step
        return "new"
    stored = parse_config(json.loads((folder / "config.json").read_text()), str(folder / "config.json"))
    if stored != config:
        raise ChemloopError(f"{folder} holds a run with other settings; choose another --runs-dir")
    if not (folder / "summary.json").exists():
        return "unfinished"  # a resume checks the model's weights itself
    recorded = json.loads((folder / "summary.json").read_text()).get("model_weights_sha256")
    if recorded and recorded != checkpoint.weights_digest(config.run.model):
        raise ChemloopError(
            f"{folder} holds a run made with other weights of model {config.run.model!r}; "
            "choose another --runs-dir"
        )
    return "finished"


@functools.cache
def _writes_random_spellings(model: str) -> bool:
    return checkpoint.load(model).writes_random_spellings


def summarize(runs: list[PmoRun]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of AUC top-10 per task, and the mean wall time."""
    summary = {}
    for task in dict.fromkeys(r.task for r in runs):
        aucs = [r.auc_top10 for r in runs if r.task == task]
        summary[task] = {
            "mean": statistics.fmean(aucs),
            "std": statistics.stdev(aucs) if len(aucs) > 1 else 0.0,
            "seeds": len(aucs),
            "seconds": statistics.fmean(r.seconds for r in runs if r.task == task),
        }
    return summary


def bench_pmo(
    tasks: list[str],
    budget: int = 10_000,
    seeds: int = 3,
    runs_dir: str | Path = "runs/pmo",
    run: dict[str, Any] | None = None,
    progress: Callable[[PmoRun], None] | None = None,
    output: str | Path | None = None,
    first_seed: int = 0,
) -> dict:
    """Run every task for ``seeds`` seeds from ``first_seed``; return per-run results and the summary.

    With ``output``, the JSON is rewritten after every run, so a stopped benchmark keeps
    the runs it finished. ``first_seed`` lets a benchmark grow a seed at a time: one seed of every
    task first, the next seeds later, the outputs joined by ``merge_results``.
    """
    if not tasks:
        raise ChemloopError("no PMO tasks given")
    for task in tasks:
        oracle(task)
    runs_dir = Path(runs_dir)
    settings = pmo_config(tasks[0], budget, 0, run).run.model_dump()
    results: list[PmoRun] = []
    for task in tasks:
        for seed in range(first_seed, first_seed + seeds):
            results.append(run_task(task, seed, budget, runs_dir / task / f"seed{seed}", run))
            if progress:
                progress(results[-1])
            if output is not None:
                Path(output).write_text(json.dumps(_result(results, budget, seeds, settings), indent=2))
    return _result(results, budget, seeds, settings)


def merge_results(results: list[dict], complete_seeds: bool = False) -> dict:
    """One result from several ``bench_pmo`` results (a benchmark split over processes).

    All must share the optimizer settings and budget: a table compares one method. With
    ``complete_seeds``, only the seeds that every task reached are kept, so a benchmark
    stopped part-way through a seed still compares tasks on equal terms.
    """
    if not results:
        raise ChemloopError("no PMO results to merge")
    first = results[0]
    for result in results[1:]:
        if (_settings(result), result["budget"]) != (_settings(first), first["budget"]):
            raise ChemloopError("PMO results with different settings or budgets cannot share a table")
    # Runs from before commit 6acf96f (2026-12-01) did not record what stopped them.
    runs = [
        PmoRun(**{"stopped_by": "unknown", **r, "task": _task_as_scored(r["task"], result)})
        for result in results
        for r in result["runs"]
    ]
    seen: set[tuple[str, int]] = set()
    for run in runs:  # a run reread by two processes would otherwise count twice in its task's mean
        if (run.task, run.seed) in seen:
            raise ChemloopError(f"PMO results hold {run.task} seed {run.seed} more than once")
        seen.add((run.task, run.seed))
    if complete_seeds:
        tasks = dict.fromkeys(r.task for r in runs)
        shared = set.intersection(*({r.seed for r in runs if r.task == t} for t in tasks))
        runs = [r for r in runs if r.seed in shared]
    seeds = max((len({r.seed for r in runs if r.task == t}) for t in {r.task for r in runs}), default=0)
    # The machines the runs ran on, not the one that merges them.
    machine = "; ".join(dict.fromkeys(r.get("machine", "unknown") for r in results))
    return _result(runs, first["budget"], seeds, _settings(first), machine)


def _task_as_scored(task: str, result: dict) -> str:
    """An isomer task of a file without ``isomer_form`` ran the corrected form (see ISOMER_FORM)."""
    if "isomer_form" not in result and task in ISOMER_TASKS:
        return task + CORRECTED_SUFFIX
    return task


def merge_result_files(paths: list[Path], complete_seeds: bool = False) -> dict:
    """:func:`merge_results` of ``chemloop bench pmo`` output files."""
    return merge_results([json.loads(Path(p).read_text()) for p in paths], complete_seeds)


def _settings(result: dict) -> dict:
    """A result's optimizer settings with today's defaults filled in.

    A setting added after a result was written is absent from it, and its default is what ran. A
    model named by an alias (``zinc``) is named as the prior it stands for.
    """
    settings = RunSection.model_validate(result["run_settings"]).model_dump()
    return {**settings, "model": checkpoint.ALIASES.get(settings["model"], settings["model"])}


def _result(runs: list[PmoRun], budget: int, seeds: int, settings: dict, machine: str | None = None) -> dict:
    summary = summarize(runs)
    return {
        "machine": machine or describe(),
        "isomer_form": ISOMER_FORM,
        "budget": budget,
        "seeds": seeds,
        "run_settings": settings,
        "runs": [asdict(r) for r in runs],
        "summary": summary,
        "sum": sum(s["mean"] for s in summary.values()),
    }
