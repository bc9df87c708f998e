"""``chemloop campaign …``: the design-make-test loop from the command line (thin: parses
options, calls :mod:`chemloop.services.campaigns`, renders)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chemloop.cli_common import console, user_errors

campaign_app = typer.Typer(
    help="Design-make-test campaigns: init, propose, import, status, export, judge.", no_args_is_help=True
)

SmilesColumn = Annotated[
    str | None, typer.Option(help="the file's SMILES column, where its header is not recognised")
]
ValueColumn = Annotated[
    str | None, typer.Option(help="the file's value column (e.g. pIC50), where its header is not recognised")
]
SkipBadRows = Annotated[
    bool,
    typer.Option(help="store the good rows and list the bad ones (default: any bad row stores nothing)"),
]
BadRows = Annotated[
    Path | None, typer.Option(help="with --skip-bad-rows: write the rows left out (row, problem, cells) here")
]

DbOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL (default: $CHEMLOOP_DB or sqlite:///chemloop.db)")
]


def _workspace(db: str | None):
    from chemloop.services.workspace import Workspace

    return Workspace.from_env(db)


@campaign_app.command("init")
@user_errors
def init(
    name: str,
    config: Annotated[
        Path, typer.Option(help=r"campaign TOML (\[campaign], \[reward], \[\[score.components]])")
    ],
    seed: Annotated[
        Path | None,
        typer.Option(help="seed results, CSV or SD file (instead of the config's seed_data): SMILES,pIC50"),
    ] = None,
    assay_name: Annotated[str, typer.Option(help="what the values measure, e.g. 'pIC50 EGFR'")] = "value",
    unit: Annotated[str, typer.Option(help="the values' unit, e.g. 'log units', 'nM', '%'")] = "",
    direction: Annotated[str, typer.Option(help="which values are better: higher or lower")] = "higher",
    smiles_column: SmilesColumn = None,
    value_column: ValueColumn = None,
    skip_bad_rows: SkipBadRows = False,
    bad_rows: BadRows = None,
    db: DbOption = None,
) -> None:
    """Create a campaign: its assay, objective, reward model settings, optional seed data."""
    from chemloop.loop.assay import check_assay
    from chemloop.loop.columns import ColumnChoice
    from chemloop.loop.config import load_campaign_config
    from chemloop.reward.data import feedback_file
    from chemloop.services import campaigns, users

    loaded = load_campaign_config(config)
    result = campaigns.create(
        _workspace(db),
        name,
        loaded,
        feedback_file(seed) if seed is not None else None,
        assay=check_assay(assay_name, unit, direction),
        columns=ColumnChoice(smiles_column, value_column),
        skip_bad_rows=skip_bad_rows,
        user=users.command_line_user(),
    )
    console.print(f"campaign {name!r} created; {result['seed_measurements']} seed measurements")
    _report_skipped(result.get("skipped", []), seed or loaded.campaign.seed_data, bad_rows)
    _report_left_out(result.get("left_out", []))


def _report_left_out(left_out: list[dict]) -> None:
    """Say which rows held nothing new (no result yet, or one stored already), grouped by why."""
    rows_by_reason: dict[str, list[int]] = {}
    for item in left_out:
        rows_by_reason.setdefault(item["message"], []).append(item["row"])
    for reason, rows in rows_by_reason.items():
        shown = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
        console.print(
            f"left out {len(rows)} row(s), {reason}: row{'s' if len(rows) > 1 else ''} {shown}", markup=False
        )


def _report_skipped(skipped: list[dict], source: Path | None, bad_rows: Path | None) -> None:
    """List the rows --skip-bad-rows left out, and write them to ``bad_rows`` when asked."""
    from chemloop.reward.data import feedback_file
    from chemloop.services.campaigns import bad_rows_csv

    if skipped:
        console.print(f"left out {len(skipped)} bad row(s):", markup=False)
        for item in skipped:
            console.print(f"  row {item['row']}: {item['message']}", markup=False)
    if bad_rows is not None and source is not None:
        reasons = [(item["row"], item["message"]) for item in skipped]
        bad_rows.write_text(bad_rows_csv(feedback_file(source), reasons))
        console.print(f"wrote {len(skipped)} bad row(s) to {bad_rows}", markup=False)


@campaign_app.command("propose")
@user_errors
def propose(
    name: str,
    output: Annotated[Path, typer.Option(help="CSV of the proposed molecules")],
    batch: Annotated[
        int | None, typer.Option(min=1, help="molecules to propose (default: the config's)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Fine-tune the agent on the current reward, generate, and choose a batch to make and test."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from chemloop.services import campaigns

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:  # shown on a terminal only
        task = bar.add_task("starting", total=1.0)

        def report(progress) -> None:
            bar.update(task, completed=progress.fraction, description=progress.words())

        result = campaigns.propose(_workspace(db), name, batch=batch, output=output, progress=report)
    table = Table(title=f"{name}: round {result.round} ({result.seconds:.0f} s)")
    for column in ("#", "smiles", "predicted", "±", "priority"):
        table.add_column(column)
    for rank, (s, m, sd, p) in enumerate(
        zip(result.smiles, result.predicted_mean, result.predicted_std, result.priority, strict=True), start=1
    ):
        table.add_row(
            str(rank), s, "-" if m is None else f"{m:.3g}", "-" if sd is None else f"{sd:.2g}", f"{p:.3g}"
        )
    console.print(table)
    console.print(f"wrote {output}")


@campaign_app.command("import")
@user_errors
def import_(
    name: str,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or SD file: smiles,value[,std] (censored values: <5), or smiles_a,smiles_b,preferred"
        ),
    ],
    external: Annotated[bool, typer.Option(help="accept molecules the campaign never proposed")] = False,
    smiles_column: SmilesColumn = None,
    value_column: ValueColumn = None,
    skip_bad_rows: SkipBadRows = False,
    bad_rows: BadRows = None,
    db: DbOption = None,
) -> None:
    """Store measured results (or preferences) and refit the reward model."""
    from chemloop.loop.columns import ColumnChoice
    from chemloop.services import campaigns, users

    result = campaigns.import_file(
        _workspace(db),
        name,
        file,
        external=external,
        columns=ColumnChoice(smiles_column, value_column),
        skip_bad_rows=skip_bad_rows,
        user=users.command_line_user(),
    )
    console.print(result.get("note") or f"imported {result['imported']} {result['kind']} rows into {name!r}")
    _report_skipped(result.get("skipped", []), file, bad_rows)
    _report_left_out(result.get("left_out", []))


@campaign_app.command("status")
@user_errors
def status(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    db: DbOption = None,
) -> None:
    """Rounds, molecules tested, best measured value per round, reward model quality."""
    from chemloop.services import campaigns

    report = campaigns.status(_workspace(db), name)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    assay = report["assay"]
    table = Table(title=f"campaign {name}")
    for column in ("round", "proposed", "measured", "best", "propose s"):
        table.add_column(column, justify="right")
    for r in report["rounds"]:
        best = "-" if r["best"] is None else r["best_bound"] or f"{r['best']:.3g}"
        table.add_row(
            str(r["round"]), str(r["proposed"]), str(r["measured"]), best, str(r["propose_seconds"])
        )
    console.print(table)
    best = (
        "-"
        if report["best"] is None
        else (report["best_bound"] or f"{report['best']:.4g}")
        + (f" {assay['unit']}" if assay["unit"] else "")
    )
    console.print(f"assay: {_assay_line(assay)}", markup=False)
    console.print(
        f"tested {report['molecules_tested']} molecules (seed {report['seed_measurements']}), best {best}; "
        f"{report['preferences']} preferences, {report['ratings']} ratings"
    )
    console.print(f"reward model: {_model_summary(report['reward_model'], report['reward_model_stale'])}")
    if report["reward_model"] and report["reward_model"].get("folds"):
        from chemloop.services.analysis import quality_in_words

        console.print(quality_in_words(report["reward_model"]))


@campaign_app.command("export")
@user_errors
def export(
    name: str,
    output: Annotated[Path, typer.Option(help="the file to write")],
    format_: Annotated[str, typer.Option("--format", help="csv or sdf")] = "csv",
    round_: Annotated[
        int | None, typer.Option("--round", min=0, help="one round only (0: seed data)")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the campaign's molecules (id, compound id, SMILES, round, measured and predicted values,
    properties, why each was proposed) as CSV or SDF, for a lab notebook or an order. Fill in its
    `measured` column as results come back and import the file (again, as more come in): rows
    without a value yet, and results stored before, are left out."""
    from chemloop.services.export import export_campaign

    found = export_campaign(_workspace(db), name, format_, round_)
    output.write_text(found.content)
    withheld = f"; {found.withheld} withheld by the dual-use guard" if found.withheld else ""
    console.print(f"wrote {found.molecules} molecules to {output}{withheld}")


def _assay_line(assay: dict) -> str:
    """``pIC50 EGFR (log units), higher is better``."""
    unit = f" ({assay['unit']})" if assay["unit"] else ""
    return f"{assay['name']}{unit}, {assay['direction']} is better"


def _model_summary(quality: dict | None, stale: bool) -> str:
    """One line: what the latest reward model was fitted on and how well it cross-validates."""
    if quality is None:
        return "not fitted yet (it needs a few measured values, or preferences)"
    line = f"fitted on {quality['measurements']} rows"
    if quality.get("folds"):
        metrics = [
            f"{name} {m['mean']:.2f} ± {m['std']:.2f}"
            for name, m in quality.items()
            if isinstance(m, dict) and "mean" in m
        ]
        line += f"; {quality['folds']}-fold CV: " + ", ".join(metrics)
    return line + ("; new feedback since: the next propose refits it" if stale else "")


@campaign_app.command("judge")
@user_errors
def judge(
    name: str,
    pairs: Annotated[int, typer.Option(min=1, help="pairs to judge")] = 200,
    constitution: Annotated[
        Path | None, typer.Option(help="constitution TOML (default: the shipped medicinal-chemistry one)")
    ] = None,
    judge_command: Annotated[
        str | None,
        typer.Option(help="an external judge: a command speaking chemloop-judge/1 JSON (default: the rules)"),
    ] = None,
    fresh: Annotated[
        int | None,
        typer.Option(min=0, help="fresh samples of the campaign's model to pair (default: 2 × pairs)"),
    ] = None,
    seed: int = 0,
    db: DbOption = None,
) -> None:
    """AI feedback: judge pairs under a constitution; store the decided ones as sourced preferences."""
    from chemloop.services import campaign_feedback

    result = campaign_feedback.judge(
        _workspace(db), name, pairs, constitution=constitution, command=judge_command, fresh=fresh, seed=seed
    )
    console.print(
        f"{result['judge']} judged {result['pairs']} pairs under {result['constitution']}: "
        f"{result['stored']} stored as preferences, {result['ties']} ties"
    )
    for principle, count in result["by_principle"].items():
        console.print(f"  {principle}: {count}")


@campaign_app.command("archive")
@user_errors
def archive(
    name: str,
    undo: Annotated[bool, typer.Option("--undo", help="bring an archived campaign back")] = False,
    db: DbOption = None,
) -> None:
    """Archive a campaign: hidden from the web app's list, no more propose or import (--undo: back)."""
    from chemloop.services import campaigns

    if undo:
        campaigns.unarchive(_workspace(db), name)
        console.print(f"campaign {name!r} is active again")
    else:
        campaigns.archive(_workspace(db), name)
        console.print(
            f"campaign {name!r} archived (chemloop campaign archive {name!r} --undo brings it back)"
        )


@campaign_app.command("delete")
@user_errors
def delete(
    name: str,
    yes: Annotated[
        bool, typer.Option("--yes", help="confirm: every row of the campaign goes, no undo")
    ] = False,
    db: DbOption = None,
) -> None:
    """Delete a campaign and everything it holds, in one transaction (needs --yes)."""
    from chemloop.services import campaigns

    if not yes:
        console.print(f"deleting {name!r} removes all its rounds, results, feedback and notes; add --yes")
        raise typer.Exit(1)
    result = campaigns.delete_campaign(_workspace(db), name, name)
    console.print(f"campaign {name!r} deleted ({sum(result['rows'].values())} rows)")
