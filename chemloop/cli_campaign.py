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
    help="Design-make-test campaigns: init, propose, import, status, judge.", no_args_is_help=True
)

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
    db: DbOption = None,
) -> None:
    """Create a campaign: objective, reward model settings, optional seed data."""
    from chemloop.loop.config import load_campaign_config
    from chemloop.services import campaigns

    result = campaigns.create(_workspace(db), name, load_campaign_config(config))
    console.print(f"campaign {name!r} created; {result['seed_measurements']} seed measurements")


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
    from chemloop.services import campaigns

    result = campaigns.propose(_workspace(db), name, batch=batch, output=output)
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
    file: Annotated[Path, typer.Argument(help="CSV: smiles,value[,std] or smiles_a,smiles_b,preferred")],
    external: Annotated[bool, typer.Option(help="accept molecules the campaign never proposed")] = False,
    db: DbOption = None,
) -> None:
    """Store measured results (or preferences) and refit the reward model."""
    from chemloop.services import campaigns

    result = campaigns.import_file(_workspace(db), name, file, external=external)
    console.print(result.get("note") or f"imported {result['imported']} {result['kind']} rows into {name!r}")


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
    table = Table(title=f"campaign {name}")
    for column in ("round", "proposed", "measured", "best", "propose s"):
        table.add_column(column, justify="right")
    for r in report["rounds"]:
        best = "-" if r["best"] is None else f"{r['best']:.3g}"
        table.add_row(
            str(r["round"]), str(r["proposed"]), str(r["measured"]), best, str(r["propose_seconds"])
        )
    console.print(table)
    best = "-" if report["best"] is None else f"{report['best']:.4g}"
    console.print(
        f"tested {report['molecules_tested']} molecules (seed {report['seed_measurements']}), best {best}; "
        f"{report['preferences']} preferences, {report['ratings']} ratings"
    )
    console.print(f"reward model: {_model_summary(report['reward_model'], report['reward_model_stale'])}")


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
    from chemloop.services import campaigns

    result = campaigns.judge(
        _workspace(db), name, pairs, constitution=constitution, command=judge_command, fresh=fresh, seed=seed
    )
    console.print(
        f"{result['judge']} judged {result['pairs']} pairs under {result['constitution']}: "
        f"{result['stored']} stored as preferences, {result['ties']} ties"
    )
    for principle, count in result["by_principle"].items():
        console.print(f"  {principle}: {count}")
