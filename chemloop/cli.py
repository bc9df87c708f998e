"""The ``chemloop`` command line: parses arguments and calls the Python API, nothing more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from chemloop.cli_align import align_command
from chemloop.cli_bench import bench_app
from chemloop.cli_campaign import campaign_app
from chemloop.cli_common import (
    DeviceOption,
    ModelOption,
    SamplingPrecisionOption,
    console,
    one_line_command_lists,
    user_errors,
)
from chemloop.cli_compress import compress_command
from chemloop.cli_users import users_app
from chemloop.errors import ChemloopError

if TYPE_CHECKING:
    from chemloop.model.generate import SampleReport

app = typer.Typer(
    help="chemloop: AI-driven molecule design.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(bench_app, name="bench")
reward_app = typer.Typer(
    help="Reward models learned from feedback: fit, evaluate, predict.", no_args_is_help=True
)
app.add_typer(reward_app, name="reward")
app.add_typer(campaign_app, name="campaign")
app.add_typer(users_app, name="users")
app.command("compress")(compress_command)
app.command("align")(align_command)


@app.command()
@user_errors
def sample(
    num: Annotated[int, typer.Option(min=1, help="how many strings to generate")] = 1000,
    output: Annotated[
        Path | None,
        typer.Option(
            help="a .csv file: smiles, valid, canonical, nll (+ prompt, contains_prompt); a .smi file: the "
            "valid molecules' canonical SMILES, each once; an .sdf file: those molecules in 2D with their "
            "NLL; gzipped under a final .gz"
        ),
    ] = None,
    scaffold: Annotated[
        str | None,
        typer.Option(help="decorate this scaffold at its '*' attachment points (one point: grow a fragment)"),
    ] = None,
    link: Annotated[
        str | None, typer.Option(help="link two fragments with one '*' each, written FRAG1*.*FRAG2")
    ] = None,
    model: ModelOption = "prior",
    seed: int = 0,
    batch_size: Annotated[int, typer.Option(min=1)] = 1024,
    temperature: Annotated[float, typer.Option(min=0.0)] = 1.0,
    top_k: Annotated[int, typer.Option(min=0, help="0 keeps every token")] = 0,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1.0,
    unique: Annotated[
        bool,
        typer.Option("--unique/--keep-repeats", help="under a prompt: draw again where a product repeats"),
    ] = True,
    device: DeviceOption = "auto",
    precision: SamplingPrecisionOption = "auto",
) -> None:
    """Sample molecules from a model, or decorate a scaffold or link fragments with it; print
    validity, uniqueness, the share that contains the prompt, and throughput."""
    from chemloop.api import load_model, sample_to_csv
    from chemloop.model.inference import resolve_sampling_precision

    if scaffold is not None and link is not None:
        raise ChemloopError("give --scaffold or --link, not both")
    lm = load_model(model, device)
    prompted = scaffold is not None or link is not None
    if prompted and not lm.writes_random_spellings:
        console.print(
            f"note: {model} learned canonical SMILES only; a prompt starts mid-molecule, which a model "
            "trained on random spellings writes far better"
        )
    report = sample_to_csv(
        lm,
        num,
        output,
        scaffold=scaffold,
        fragments=link,
        seed=seed,
        batch_size=batch_size,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        precision=precision,
        **({"unique": unique} if prompted else {}),
    )
    summary = report.summary()
    how = resolve_sampling_precision(precision, lm.device)
    contains = (
        "" if report.prompt is None else f"{summary['contains_prompt']:.3f} of the valid contain the prompt, "
    )
    console.print(
        f"{summary['generated']} strings on {lm.device}: validity {summary['validity']:.3f}, "
        f"uniqueness {summary['uniqueness']:.3f}, {contains}{summary['valid_per_s']:.0f} valid molecules/s "
        f"({how}; {summary['sampling_s']:.1f} s sampling, {summary['total_s']:.1f} s with RDKit checks)"
    )
    if report.repeats:
        console.print(f"repeats drawn again: {report.repeats} (--keep-repeats keeps them)")
    if report.withheld:
        console.print(f"withheld: {report.withheld} (the dual-use guard, docs/guard.md)")
    if output:
        console.print(f"wrote {output}")
    else:
        _show_some(report)


SHOWN_WITHOUT_OUTPUT = 10


def _show_some(report: SampleReport) -> None:
    """Without --output, a few of the valid molecules drawn, so that a first run shows molecules."""
    valid = [m for m in report.molecules if m.valid][:SHOWN_WITHOUT_OUTPUT]
    if not valid:
        return
    table = Table("canonical SMILES", "NLL")
    for molecule in valid:
        table.add_row(molecule.canonical, f"{molecule.nll:.1f}")
    console.print(table)
    console.print(
        f"the first {len(valid)} valid molecules; --output FILE writes all {len(report.molecules)} strings"
    )


@app.command()
@user_errors
def pretrain(
    data: Annotated[str, typer.Option(help="'moses' or a .smi/.csv/.sdf file, gzipped or not")] = "moses",
    out: Annotated[Path, typer.Option(help="run folder (becomes a checkpoint)")] = Path("runs/pretrain"),
    column: Annotated[str | None, typer.Option(help="SMILES column of a CSV file")] = None,
    skip_invalid: Annotated[bool, typer.Option(help="drop rows RDKit cannot parse")] = False,
    standardize: Annotated[
        bool, typer.Option(help="largest fragment, canonical SMILES with stereo and charges, no duplicates")
    ] = True,
    holdout_fraction: Annotated[
        float, typer.Option(help="held out by a seeded hash, never trained on")
    ] = 0.05,
    n_layer: int = 4,
    n_head: int = 4,
    n_embd: int = 128,
    block_size: int = 128,
    dropout: float = 0.0,
    batch_size: Annotated[int, typer.Option(help="molecules per step per process")] = 128,
    max_steps: int = 2000,
    max_minutes: Annotated[float | None, typer.Option(help="stop and save after this")] = None,
    lr: float = 1e-3,
    min_lr: float = 1e-4,
    warmup_steps: int = 200,
    weight_decay: float = 0.1,
    grad_clip: float = 1.0,
    randomize: Annotated[
        bool, typer.Option(help="a fresh random SMILES spelling per molecule and epoch")
    ] = True,
    val_size: int = 2000,
    eval_interval: int = 250,
    seed: int = 0,
    device: DeviceOption = "auto",
    precision: Annotated[
        str, typer.Option(help="bf16, fp32 or auto (bf16 where the CPU/GPU has bf16 units)")
    ] = "auto",
    compile: Annotated[bool, typer.Option(help="torch.compile the model")] = False,
    resume: Annotated[bool, typer.Option(help="continue the run in --out")] = False,
    init_from: Annotated[
        str | None,
        typer.Option(
            help="start from this model (shipped name or folder): its weights, vocabulary and "
            "architecture (--n-layer etc. ignored), a fresh optimizer"
        ),
    ] = None,
) -> None:
    """Pretrain a SMILES GPT (MOSES by default), or continue one on a corpus (--init-from). Under
    torchrun it trains with DDP."""
    from pydantic import ValidationError

    from chemloop.train.pretrain import PretrainConfig
    from chemloop.train.pretrain import pretrain as run_pretrain

    options = {k: v for k, v in locals().items() if k in PretrainConfig.model_fields}
    try:
        config = PretrainConfig(**options)
    except ValidationError as err:
        raise ChemloopError(f"invalid pretrain options: {err}") from None
    columns = [
        TextColumn("pretrain"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  val {task.fields[val]}  {task.fields[tps]} tok/s"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("steps", total=config.max_steps, loss="-", val="-", tps="-")

        def show(row: dict) -> None:
            fields = {"loss": row["train_loss"], "tps": row["tokens_per_s"]}
            if row["val_nll"] != "":
                fields["val"] = row["val_nll"]
            bar.update(task, completed=row["step"], **fields)

        folder = run_pretrain(config, progress=show)
    console.print(f"checkpoint and metrics in {folder}")


@app.command()
@user_errors
def finetune(
    data: Annotated[str, typer.Option(help="your molecules: a .smi/.csv/.sdf file, gzipped or not")],
    out: Annotated[Path, typer.Option(help="run folder (becomes a checkpoint)")],
    model: Annotated[str, typer.Option(help="the prior to start from: a shipped name or a folder")] = "prior",
    column: Annotated[str | None, typer.Option(help="SMILES column of a CSV file")] = None,
    epochs: Annotated[int, typer.Option(help="most epochs (early stopping usually ends sooner)")] = 30,
    patience: Annotated[int, typer.Option(help="epochs without a better held-out NLL before stopping")] = 10,
    max_minutes: Annotated[float | None, typer.Option(help="stop after this (best epoch kept)")] = None,
    val_fraction: Annotated[float, typer.Option(help="molecules held out for early stopping")] = 0.1,
    lr: float = 1e-4,
    batch_size: int = 32,
    samples: Annotated[int, typer.Option(help="molecules sampled for the report (0: none)")] = 1000,
    seed: int = 0,
    device: DeviceOption = "auto",
    precision: Annotated[str, typer.Option(help="bf16, fp32 or auto")] = "auto",
) -> None:
    """Fine-tune a prior on your own molecules (a series): the result is a model for --model anywhere."""
    from chemloop.config_files import validate
    from chemloop.train.finetune import REPORT, FinetuneConfig
    from chemloop.train.finetune import finetune as run_finetune

    options = {k: v for k, v in locals().items() if k in FinetuneConfig.model_fields}
    config = validate(FinetuneConfig, options, "finetune options")

    def show(row: dict) -> None:
        console.print(
            f"epoch {row['epoch']}: held-out NLL {row['heldout_nll']:.2f} (best epoch {row['best_epoch']})"
        )

    report = run_finetune(config, progress=show)
    table = Table(title=f"fine-tuned on {report['molecules']} molecules in {report['seconds']:.0f} s")
    for column_name in ("", "held-out NLL", "validity", "NN Tanimoto", "with scaffold", "with ring system"):
        table.add_column(column_name)
    for label, nll, found in (
        ("before", report["heldout_nll_before"], report["before"]),
        ("after", report["heldout_nll_after"], report["after"]),
    ):
        table.add_row(
            label,
            f"{nll:.2f}",
            *(
                "-" if found.get(key) is None else f"{found[key]:.2f}"
                for key in ("validity", "nearest_neighbour_tanimoto", "with_scaffold", "with_ring_system")
            ),
        )
    console.print(table)
    if report["added_tokens"]:
        console.print(f"tokens new to the model, learned from this data: {', '.join(report['added_tokens'])}")
    console.print(f"checkpoint in {config.out}; report in {config.out / REPORT}")


@app.command()
@user_errors
def optimize(
    output: Annotated[Path, typer.Option(help="run folder")],
    config: Annotated[
        Path | None, typer.Option(help=r"TOML run config (\[run], \[\[score.components]])")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="continue the run in --output (a --config may raise its budget)")
    ] = False,
) -> None:
    """Steer the prior towards a score with RL; log every oracle call."""
    from chemloop.rl.run import load_config, resume_config
    from chemloop.rl.run import optimize as run_optimize

    if config is None and not resume:
        raise ChemloopError("give --config FILE.toml (or --resume to continue a run in --output)")
    run_config = load_config(config) if config else None
    budget = (resume_config(output, run_config) if resume else run_config).run.budget
    columns = [
        TextColumn("optimize"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "mean {task.fields[mean]} best {task.fields[best]} valid {task.fields[valid]} "
            "scaffolds {task.fields[scaffolds]}"
        ),
    ]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("calls", total=budget, mean="-", best="-", valid="-", scaffolds="-")

        def show(progress) -> None:
            bar.update(
                task,
                completed=progress.calls,
                mean=f"{progress.step.mean_score:.3f}",
                best=f"{progress.best:.3f}",
                valid=f"{progress.step.validity:.2f}",
                scaffolds=progress.scaffolds,
            )

        folder = run_optimize(run_config, output, progress=show, resume=resume)
    summary = json.loads((folder / "summary.json").read_text())
    number = {k: "-" if v is None else f"{v:.3f}" for k, v in summary.items() if isinstance(v, float | None)}
    console.print(
        f"{summary['oracle_calls']} oracle calls in {summary['steps']} steps "
        f"({summary['seconds_this_invocation']:.0f} s, stopped by {summary['stopped_by']}): "
        f"best {number['best']}, "
        f"top-10 mean {number['top10_mean']}, {summary['unique_scaffolds']} scaffolds, "
        f"validity of the last batch {number['last_step_validity']}"
    )
    console.print(f"oracle log, top molecules and agent in {folder}; report: {folder / 'report.html'}")


@app.command()
def mcp(
    db: Annotated[
        str | None,
        typer.Option(help="campaign database URL (default: $CHEMLOOP_DB or sqlite:///chemloop.db)"),
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="folder for jobs (optimize, propose)")] = Path("runs/mcp"),
    model: Annotated[str, typer.Option(help="the model that sample and new optimize jobs use")] = "prior",
) -> None:
    """An MCP server on stdin/stdout: chemloop's tools for LLM assistants (Claude Desktop, IDE agents)."""
    from chemloop.serve.mcp_server import build_server
    from chemloop.services.settings import ServeSettings

    try:
        server = build_server(ServeSettings.from_env(db_url=db, runs_dir=runs_dir, model=model))
    except ChemloopError as err:  # to stderr: stdout is the protocol stream
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    server.run("stdio")


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0: all)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    db: Annotated[str | None, typer.Option(help="campaign database URL (default: $CHEMLOOP_DB)")] = None,
    runs_dir: Annotated[Path, typer.Option(help="folder for jobs (optimize, propose)")] = Path("runs/serve"),
    model: Annotated[str, typer.Option(help="the model that /api/sample and new jobs use")] = "prior",
) -> None:
    """The HTTP API (spec at /openapi.json) and the web app; writes need $CHEMLOOP_API_KEY."""
    from chemloop.serve.app import serve as run_server

    def echo(line: str) -> None:  # unwrapped: the key must stay on one line to be copied
        console.print(line, soft_wrap=True, markup=False, highlight=False)

    run_server(host=host, port=port, db_url=db, runs_dir=runs_dir, model=model, echo=echo)


FeedbackOption = Annotated[Path, typer.Option(help="feedback CSV (see --kind for its columns)")]
KindOption = Annotated[
    str,
    typer.Option(
        help="values (smiles,value[,std]) | preferences (smiles_a,smiles_b,preferred) "
        "| ratings (smiles,rating)"
    ),
]


ParentFormsOption = Annotated[
    bool,
    typer.Option(
        "--parent-forms/--as-written",
        help="learn the parent compound of each molecule (largest fragment, neutralized), or its SMILES",
    ),
]


def _reward_config(**options):
    from pydantic import ValidationError

    from chemloop.config_files import validation_problems
    from chemloop.reward.model import RewardConfig

    try:
        return RewardConfig(**options)
    except ValidationError as err:
        raise ChemloopError(f"invalid reward model options: {validation_problems(err)}") from None


@reward_app.command("fit")
@user_errors
def reward_fit(
    data: FeedbackOption,
    kind: KindOption,
    output: Annotated[Path, typer.Option(help="folder for reward_model.safetensors and .json")],
    features: Annotated[str, typer.Option(help="fingerprints | prior")] = "fingerprints",
    ensemble: Annotated[int, typer.Option(help="members, each on a bootstrap resample")] = 5,
    epochs: Annotated[int, typer.Option(help="passes over the training rows")] = 100,
    parent_forms: ParentFormsOption = True,
    seed: int = 0,
) -> None:
    """Fit a reward model (an ensemble of MLPs) on measured values, preferences or ratings."""
    from chemloop.reward.data import read_feedback
    from chemloop.reward.model import RewardModel

    config = _reward_config(
        kind=kind, features=features, ensemble=ensemble, epochs=epochs, parent_forms=parent_forms, seed=seed
    )
    feedback = read_feedback(data, kind)
    model = RewardModel.fit(feedback, config)
    model.save(output)
    console.print(
        f"{config.ensemble} members on {len(feedback)} {kind} rows ({features} features), "
        f"{model.metadata['seconds']:.1f} s; saved in {output}"
    )


@reward_app.command("evaluate")
@user_errors
def reward_evaluate(
    data: FeedbackOption,
    kind: KindOption,
    folds: Annotated[int, typer.Option(help="cross-validation folds")] = 5,
    features: Annotated[str, typer.Option(help="fingerprints | prior | both (compare them)")] = "both",
    ensemble: Annotated[int, typer.Option(help="members, each on a bootstrap resample")] = 5,
    epochs: Annotated[int, typer.Option(help="passes over the training rows")] = 100,
    parent_forms: ParentFormsOption = True,
    seed: int = 0,
    output: Annotated[Path | None, typer.Option(help="JSON file for the results")] = None,
) -> None:
    """Cross-validate a reward model: Spearman and RMSE, or pairwise accuracy for preferences."""
    from chemloop.reward.data import read_feedback
    from chemloop.reward.evaluate import compare_features, format_table
    from chemloop.reward.features import FEATURE_KINDS

    kinds = FEATURE_KINDS if features == "both" else (features,)
    config = _reward_config(
        kind=kind, features=kinds[0], ensemble=ensemble, epochs=epochs, parent_forms=parent_forms, seed=seed
    )
    feedback = read_feedback(data, kind)

    def show(features: str, fold: int, metrics: dict) -> None:
        console.print(f"{features} fold {fold}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))

    result = compare_features(feedback, config, folds=folds, seed=seed, features=kinds, progress=show)
    console.print(format_table(result))
    if len(kinds) > 1:
        console.print(f"winner on {result['primary']}: {result['winner']}")
    if output:
        output.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {output}")


@reward_app.command("predict")
@user_errors
def reward_predict(
    model: Annotated[Path, typer.Option(help="reward model folder (from `chemloop reward fit`)")],
    smiles: Annotated[Path, typer.Option(help=".smi file, or .csv with a smiles column")],
    output: Annotated[Path, typer.Option(help="CSV file: smiles, mean, std")],
    skip_invalid: Annotated[bool, typer.Option(help="leave out rows RDKit cannot parse")] = False,
) -> None:
    """Predict with a reward model: the ensemble's mean and standard deviation per molecule."""
    from chemloop.data.corpus import load_corpus
    from chemloop.reward.model import RewardModel, write_predictions

    reward = RewardModel.load(model)
    corpus = load_corpus(smiles, skip_invalid=skip_invalid)
    mean, std = reward.predict(corpus.smiles)
    write_predictions(output, corpus.smiles, mean, std)
    skipped = f"; {len(corpus.skipped)} invalid rows left out" if corpus.skipped else ""
    console.print(f"{len(corpus)} predictions ({reward.config.kind} model) in {output}{skipped}")


one_line_command_lists(app)  # last: every command above is registered

if __name__ == "__main__":  # `torchrun -m chemloop.cli pretrain ...`
    app()
