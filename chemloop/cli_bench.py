"""``chemloop bench …``: benchmarks with fixed protocols (thin: parses options, runs the benchmark,
renders its table, writes its JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from chemloop.cli_common import DeviceOption, ModelOption, SamplingPrecisionOption, console, user_errors
from chemloop.config_files import read_toml
from chemloop.errors import ChemloopError

bench_app = typer.Typer(help="Benchmarks with fixed protocols.", no_args_is_help=True)


def _save(result: dict, output: Path | None) -> None:
    """Write a benchmark's results as JSON where asked, and say where."""
    if output:
        output.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {output}")


def _earlier_result(output: Path) -> dict:
    """A benchmark's earlier results at ``output``, to resume from."""
    try:
        return json.loads(output.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ChemloopError(f"cannot resume from {output}: {err}") from None


@bench_app.command("moses")
@user_errors
def bench_moses(
    model: ModelOption = "moses",
    smiles: Annotated[Path | None, typer.Option(help="evaluate this SMILES file instead of a model")] = None,
    num: Annotated[int, typer.Option(min=1, help="molecules to sample")] = 30000,
    seed: int = 0,
    output: Annotated[Path, typer.Option(help="JSON file for the results")] = Path("moses_bench.json"),
    device: DeviceOption = "auto",
    n_jobs: Annotated[int, typer.Option(min=1, help="processes for RDKit work")] = 2,
) -> None:
    """MOSES distribution metrics against the MOSES test sets, beside published baselines."""
    from chemloop.api import bench_moses as run_bench
    from chemloop.bench.moses_reference import format_table

    result = run_bench(model=model, smiles_file=smiles, num=num, seed=seed, device=device, n_jobs=n_jobs)
    console.print(format_table(result["metrics"], label=result["label"]))
    _save(result, output)


@bench_app.command("pmo")
@user_errors
def bench_pmo(
    tasks: Annotated[
        str, typer.Option(help="comma-separated PMO tasks, or 'all' (those that can run here)")
    ] = "all",
    budget: Annotated[int, typer.Option(min=1, help="unique oracle calls per run")] = 10_000,
    seeds: Annotated[int, typer.Option(min=1, help="runs per task")] = 3,
    first_seed: Annotated[int, typer.Option(min=0, help="seeds run: first-seed, first-seed+1, …")] = 0,
    settings: Annotated[
        Path | None, typer.Option(help=r"TOML whose \[run] table overrides the optimizer settings")
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="folder for every run's optimize output")] = Path("runs/pmo"),
    output: Annotated[Path, typer.Option(help="JSON file for the results")] = Path("bench_pmo.json"),
) -> None:
    """The PMO benchmark (Gao et al. 2022): AUC top-10 per task over seeds, beside published REINVENT."""
    from chemloop.bench.pmo import bench_pmo as run_bench
    from chemloop.bench.pmo_reference import format_table
    from chemloop.score.oracles.pmo import available_tasks

    chosen = available_tasks() if tasks == "all" else [t.strip() for t in tasks.split(",") if t.strip()]
    overrides = read_toml(settings, "settings").get("run", {}) if settings is not None else {}

    def show(run) -> None:
        console.print(
            f"{run.task} seed {run.seed}: AUC top-10 {run.auc_top10:.3f}, best {run.best:.3f}, "
            f"{run.oracle_calls} calls, {run.seconds:.0f} s"
        )

    result = run_bench(
        chosen,
        budget=budget,
        seeds=seeds,
        runs_dir=runs_dir,
        run=overrides,
        progress=show,
        output=output,
        first_seed=first_seed,
    )
    console.print(format_table(result["summary"], budget))
    console.print(f"wrote {output}")


@bench_app.command("campaign")
@user_errors
def bench_campaign(
    task: Annotated[str, typer.Option(help="the PMO oracle that plays the lab")] = "osimertinib_mpo",
    rounds: Annotated[int, typer.Option(min=1, help="design-make-test rounds")] = 6,
    batch: Annotated[int, typer.Option(min=1, help="molecules measured per round")] = 12,
    noise: Annotated[float, typer.Option(min=0.0, help="std of Gaussian noise added to each score")] = 0.0,
    seed: Annotated[int, typer.Option(help="first seed")] = 0,
    repeats: Annotated[int, typer.Option(min=1, help="seeds run: seed, seed+1, …")] = 1,
    seed_molecules: Annotated[int, typer.Option(min=5, help="measured MOSES molecules to start")] = 10,
    reference_size: Annotated[
        int, typer.Option(min=100, help="MOSES test molecules that define the top-1% threshold")
    ] = 10_000,
    candidates: Annotated[
        int | None, typer.Option(min=10, help="molecules generated per propose (and the baselines' pools)")
    ] = None,
    rl_steps: Annotated[int | None, typer.Option(min=0, help="agent updates per propose")] = None,
    settings: Annotated[
        Path | None,
        typer.Option(
            help=r"TOML whose \[campaign], \[reward] and \[run] tables override the defaults, and whose "
            r"\[score] table adds constraints and terms beside the learned reward"
        ),
    ] = None,
    output: Annotated[Path, typer.Option(help="JSON file for the results")] = Path("bench_campaign.json"),
    series: Annotated[
        str | None,
        typer.Option(
            help="a corpus file: run the series protocol on its 3 largest heterocyclic series instead"
        ),
    ] = None,
    series_count: Annotated[int, typer.Option(min=1, help="series run with --series")] = 3,
    resume: Annotated[
        bool, typer.Option(help="with --series: keep the runs already in --output and run only the rest")
    ] = False,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            help="keep each campaign's database here: run the same command again and a stopped "
            "campaign continues from its last measured round"
        ),
    ] = None,
    lab_measures: Annotated[
        str,
        typer.Option(
            help="what the simulated lab scores: 'compound' (each molecule's parent, largest fragment "
            "neutralized, as an assay measures it) or 'as-written' (the SMILES, as PMO scores it)"
        ),
    ] = "compound",
) -> None:
    """A simulated campaign (a PMO oracle is the lab) beside random, greedy and MOSES-screening baselines;
    with --series FILE, campaigns inside chemical series of that corpus beside random, greedy and
    screening picks."""
    from chemloop.bench.campaign import bench_campaign as run_bench
    from chemloop.bench.campaign import format_table

    overrides = read_toml(settings, "settings") if settings is not None else {}
    campaign = dict(overrides.get("campaign", {}))
    if candidates is not None:
        campaign["candidates"] = candidates
    if rl_steps is not None:
        campaign["rl_steps"] = rl_steps
    if series is not None:
        from chemloop.bench.series_campaign import bench_series_campaign

        earlier = _earlier_result(output) if resume and output.exists() else None
        result = bench_series_campaign(
            series,
            series_count=series_count,
            seeds=list(range(seed, seed + repeats)),
            rounds=rounds,
            batch=batch,
            seed_molecules=seed_molecules,
            campaign=campaign,
            reward=overrides.get("reward", {}),
            run=overrides.get("run", {}),
            score=overrides.get("score"),
            reference_size=reference_size,
            progress=console.print,
            on_run=lambda partial: _save(partial, output),
            resume=earlier,
            work_dir=work_dir,
            lab_measures=lab_measures,
        )
        console.print(result["summary"])
        _save(result, output)
        return
    result = run_bench(
        task=task,
        rounds=rounds,
        batch=batch,
        seeds=list(range(seed, seed + repeats)),
        noise=noise,
        seed_molecules=seed_molecules,
        reference_size=reference_size,
        campaign=campaign,
        reward=overrides.get("reward", {}),
        run=overrides.get("run", {}),
        score=overrides.get("score"),
        progress=console.print,
        work_dir=work_dir,
        lab_measures=lab_measures,
    )
    console.print(format_table(result))
    _save(result, output)


@bench_app.command("sampling")
@user_errors
def bench_sampling(
    model: ModelOption = "prior",
    num: Annotated[int, typer.Option(min=1, help="molecules per run")] = 10_000,
    batch_size: Annotated[int, typer.Option(min=1)] = 1024,
    repeats: Annotated[int, typer.Option(min=1, help="runs; the median is reported")] = 3,
    device: DeviceOption = "auto",
    precision: SamplingPrecisionOption = "auto",
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """Sampling throughput of a model: valid molecules per second (median of repeats); several
    formats (--precision fp32,int8) are timed side by side."""
    from chemloop.api import load_model
    from chemloop.bench.sampling import sampling_throughput

    lm = load_model(model, device)
    result = sampling_throughput(lm, num=num, batch_size=batch_size, repeats=repeats, precision=precision)
    console.print(f"{result['device']}: {repeats} runs of {num} per format, interleaved, batch {batch_size}")
    for name, row in result["precisions"].items():
        ratio = "-" if row["ratio_to_first"] is None else f"{row['ratio_to_first']:.2f}x"
        console.print(
            f"{name}: median {row['median_valid_per_s']:.0f} valid molecules/s "
            f"({row['median_molecules_per_s']:.0f} strings/s, validity {row['median_validity']:.3f}), {ratio}"
        )
    _save(result, output)


@bench_app.command("prior")
@user_errors
def bench_prior(
    model: Annotated[str, typer.Option(help="checkpoint folder, or the name of a shipped prior")],
    data: Annotated[
        str | None, typer.Option(help="corpus file (default: the one in the model's pretrain_config.json)")
    ] = None,
    holdout_fraction: Annotated[
        float | None, typer.Option(help="between 0 and 1 (default: the model's pretrain config)")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="split seed (default: the model's pretrain config, else 0)")
    ] = None,
    num: Annotated[int, typer.Option(min=2, help="molecules sampled per model")] = 10_000,
    sample_seed: Annotated[int, typer.Option(help="seeds the samples, the floor and the spellings")] = 0,
    temperature: Annotated[float, typer.Option(min=0.05, max=5.0, help="sampling temperature")] = 1.0,
    top_p: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="nucleus sampling: top tokens holding this probability"),
    ] = 1.0,
    compare: Annotated[
        list[str] | None, typer.Option(help="another model to measure against the same split (repeatable)")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
    device: DeviceOption = "auto",
    precision: SamplingPrecisionOption = "float",
    n_jobs: Annotated[int, typer.Option(min=1, help="processes for RDKit work")] = 2,
) -> None:
    """A prior against the held-out split of its corpus: validity, novelty, FCD beside its floor,
    stereo, charges, size and the random-spelling NLL gap, each against its target."""
    from chemloop.bench.prior_metrics import bench_prior as run_bench
    from chemloop.bench.prior_metrics import format_table

    result = run_bench(
        model,
        data,
        holdout_fraction,
        seed,
        num=num,
        sample_seed=sample_seed,
        temperature=temperature,
        top_p=top_p,
        compare=compare or (),
        device=device,
        precision=precision,
        n_jobs=n_jobs,
        progress=console.print,
    )
    console.print(format_table(result))
    console.print("all targets met" if result["passed"] else "some targets missed")
    _save(result, output)


@bench_app.command("serve")
@user_errors
def bench_serve(
    requests: Annotated[int, typer.Option(min=1, help="score requests timed (after 2 warm-up ones)")] = 30,
    batch: Annotated[int, typer.Option(min=1, help="molecules per request")] = 100,
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """Scoring throughput through the HTTP API (loopback) beside in-process, and request latency."""
    from chemloop.bench.serve import bench_serve as run_bench
    from chemloop.bench.serve import format_table

    result = run_bench(requests=requests, batch=batch)
    console.print(format_table(result))
    _save(result, output)


@bench_app.command("guard")
@user_errors
def bench_guard(
    reference: Annotated[
        str, typer.Option(help="ordinary molecules that must pass: 'moses:test' or a .smi/.csv/.sdf file")
    ] = "moses:test",
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """The dual-use guard: share withheld of the scheduled agents, of their analogues, of a reference set."""
    from chemloop.bench.guard import bench_guard as run_bench
    from chemloop.data.corpus import load_corpus

    corpus = load_corpus(reference, skip_invalid=True)
    result = run_bench(corpus.smiles, corpus.source)
    named, analogues, ref = result["scheduled"], result["analogues"], result["reference"]
    console.print(f"scheduled agents: {named['withheld']} of {named['molecules']} withheld")
    console.print(f"analogues: {analogues['withheld']} of {analogues['molecules']} withheld")
    for name, family in analogues["families"].items():
        console.print(f"  {name}: {family['withheld']} of {family['molecules']}")
    console.print(f"{ref['name']}: {ref['withheld']} of {ref['molecules']} withheld ({ref['share']:.4%})")
    for target, met in result["targets"].items():
        console.print(f"{target}: {'met' if met else 'NOT MET'}")
    _save(result, output)


@bench_app.command("prompting")
@user_errors
def bench_prompting(
    model: ModelOption = "prior",
    num: Annotated[int, typer.Option(min=1, help="molecules per prompt, and unprompted")] = 1000,
    seed: int = 0,
    batch_size: Annotated[int, typer.Option(min=1)] = 1024,
    device: DeviceOption = "auto",
    precision: SamplingPrecisionOption = "auto",
    temperature: Annotated[float, typer.Option(min=0.05, help="temperature, prompted and not")] = 1.0,
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """Scaffold decoration (5 drug scaffolds) and linker design (3 drugs cut in two) by prompting a
    model: validity, uniqueness, the share containing the prompt, and the cost beside unprompted."""
    from chemloop.api import load_model
    from chemloop.bench.prompting import bench_prompting as run_bench
    from chemloop.bench.prompting import format_table

    lm = load_model(model, device)
    result = run_bench(
        lm,
        model,
        num=num,
        seed=seed,
        batch_size=batch_size,
        precision=precision,
        temperature=temperature,
        progress=console.print,
    )
    console.print(format_table(result))
    console.print("all targets met" if result["passed"] else "some targets missed")
    _save(result, output)


@bench_app.command("compress")
@user_errors
def bench_compress(
    model: ModelOption = "prior",
    variants: Annotated[
        str,
        typer.Option(
            help="comma-separated: fp32, autocast, bf16, int8, int8-weight, magnitude:S, sparsegpt:S, mlp:S, "
            "heads:S, heads-mlp:S, distill:SIZE, each optionally +int8"
        ),
    ] = "fp32,autocast,bf16,int8,int8-weight,magnitude:0.5,sparsegpt:0.5,mlp:0.25,mlp:0.5,mlp:0.5+int8",
    include: Annotated[
        list[Path] | None, typer.Option(help="a compressed checkpoint folder to measure too (repeatable)")
    ] = None,
    num: Annotated[int, typer.Option(min=2, help="samples per variant: validity, unique@10k, FCD")] = 10_000,
    nll_molecules: Annotated[int, typer.Option(min=1, help="held-out molecules scored for the NLL")] = 2000,
    speed_num: Annotated[int, typer.Option(min=1, help="molecules per timed run")] = 2000,
    repeats: Annotated[int, typer.Option(min=1, help="timed rounds, every variant once a round")] = 3,
    batch_size: Annotated[int, typer.Option(min=1)] = 1024,
    precision: Annotated[str, typer.Option(help="bf16, fp32 or auto (bf16 where the chip has it)")] = "auto",
    calibration_molecules: Annotated[int, typer.Option(min=16, help="for SparseGPT and structured")] = 2048,
    calibration: Annotated[
        str | None, typer.Option(help="calibration corpus (default: the model's training split)")
    ] = None,
    distill_minutes: Annotated[float, typer.Option(help="training time of each distill:SIZE student")] = 10.0,
    work_dir: Annotated[
        Path | None, typer.Option(help="keep the variants' checkpoints here (and reuse those already there)")
    ] = None,
    heldout: Annotated[
        str | None,
        typer.Option(
            help="held-out molecules: a corpus file or moses:test (default: the model's heldout.smi)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seeds the samples, the NLL set and calibration")] = 0,
    rl_tasks: Annotated[
        str,
        typer.Option(
            help="comma-separated PMO tasks (e.g. zaleplon_mpo,perindopril_mpo): AUC top-10 of RL runs "
            "starting from each float variant (hours: runs are kept in --work-dir and resumed)"
        ),
    ] = "",
    rl_seeds: Annotated[int, typer.Option(min=1, help="RL runs per task and variant")] = 3,
    rl_budget: Annotated[int, typer.Option(min=1, help="oracle calls per RL run")] = 10_000,
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """Compressed variants of a model side by side: weights size, validity, unique@10k, FCD to the
    held-out split, held-out NLL, valid molecules/s (median of interleaved rounds), and with
    --rl-tasks the PMO AUC of RL runs starting from each variant."""
    from chemloop.bench.compress import bench_compress as run_bench
    from chemloop.bench.compress import format_table

    result = run_bench(
        model,
        variants=variants,
        include=include or (),
        num=num,
        nll_molecules=nll_molecules,
        speed_num=speed_num,
        batch_size=batch_size,
        repeats=repeats,
        precision=precision,
        seed=seed,
        calibration_molecules=calibration_molecules,
        distill_minutes=distill_minutes,
        work_dir=work_dir,
        heldout_source=heldout,
        calibration_source=calibration,
        rl_tasks=[t.strip() for t in rl_tasks.split(",") if t.strip()],
        rl_seeds=rl_seeds,
        rl_budget=rl_budget,
        progress=console.print,
    )
    console.print(format_table(result))
    _save(result, output)


@bench_app.command("align")
@user_errors
def bench_align(
    model: ModelOption = "prior",
    constitution: Annotated[
        Path | None, typer.Option(help="constitution TOML (default: the shipped medicinal-chemistry one)")
    ] = None,
    pairs: Annotated[
        int, typer.Option(min=2, help="pairs of the model's samples the rule judge decides")
    ] = 1000,
    samples: Annotated[int, typer.Option(min=1, help="molecules sampled per arm for the metrics")] = 10_000,
    rl_steps: Annotated[int, typer.Option(min=0, help="agent updates towards the reward model")] = 100,
    beta: Annotated[float, typer.Option(help="DPO's β")] = 0.1,
    nll_weight: Annotated[float, typer.Option(help="DPO: weight of the preferred molecule's NLL")] = 1.0,
    epochs: Annotated[int, typer.Option(min=1, help="DPO: most epochs")] = 20,
    lr: Annotated[float, typer.Option(help="DPO: learning rate")] = 5e-5,
    dpo_rounds: Annotated[
        int, typer.Option(min=1, help="DPO: rounds of pairs judged on the model as it then is (on-policy)")
    ] = 1,
    invalid_pairs: Annotated[
        bool, typer.Option(help="each sampled string that is no molecule loses a pair (beyond --pairs)")
    ] = False,
    invalid_samples: Annotated[
        int, typer.Option(min=0, help="with --invalid-pairs: strings sampled per round for invalid ones")
    ] = 0,
    invalid_share: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=0.99, help="with --invalid-pairs: share of the loss their pairs carry together"
        ),
    ] = None,
    fcd: Annotated[
        bool, typer.Option(help="FCD of each arm's samples to the model's held-out split (needs its corpus)")
    ] = True,
    seed: int = 0,
    device: DeviceOption = "auto",
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """A constitution as the only feedback: DPO on rule-judged pairs of samples against a preference
    reward model + RL on the same pairs; validity, violations, KL to the model, FCD to its held-out
    split and time of each."""
    from chemloop.bench.align import bench_align as run_bench
    from chemloop.bench.align import format_table
    from chemloop.config_files import validate
    from chemloop.rl.dpo import DPOSettings

    dpo = validate(
        DPOSettings, {"beta": beta, "nll_weight": nll_weight, "epochs": epochs, "lr": lr}, "DPO options"
    )
    result = run_bench(
        model,
        constitution=constitution,
        pairs=pairs,
        samples=samples,
        rl_steps=rl_steps,
        dpo=dpo,
        dpo_rounds=dpo_rounds,
        invalid_pairs=invalid_pairs,
        invalid_samples=invalid_samples,
        invalid_share=invalid_share,
        seed=seed,
        device=device,
        fcd=fcd,
        progress=console.print,
    )
    console.print(format_table(result))
    _save(result, output)
