"""``chemloop align``: DPO of a model on preference pairs into a new checkpoint folder (thin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chemloop.cli_common import DeviceOption, ModelOption, console, user_errors


@user_errors
def align_command(
    out: Annotated[Path, typer.Option(help="run folder (becomes a checkpoint)")],
    model: ModelOption = "prior",
    pairs: Annotated[
        str | None, typer.Option(help="CSV file with the columns preferred,other (SMILES)")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="use this campaign's stored preferences")] = None,
    db: Annotated[
        str | None,
        typer.Option(help="campaign database URL (default: $CHEMLOOP_DB or sqlite:///chemloop.db)"),
    ] = None,
    constitution: Annotated[
        str | None,
        typer.Option(
            help="a constitution TOML ('default': the shipped one); its judge decides sampled pairs"
        ),
    ] = None,
    validity: Annotated[
        bool,
        typer.Option(
            help="pairs of the model's own samples: each string that is no molecule loses to a valid "
            "one (no judge; --invalid-samples strings a round)"
        ),
    ] = False,
    judge: Annotated[str, typer.Option(help="with --constitution: 'rule', or a judge command")] = "rule",
    num_pairs: Annotated[
        int, typer.Option(help="with --constitution: pairs to decide (ties dropped)")
    ] = 1000,
    rounds: Annotated[
        int, typer.Option(help="with --constitution: judge and align this many times, on-policy")
    ] = 1,
    invalid_pairs: Annotated[
        bool,
        typer.Option(
            help="with --constitution: each sampled string that is no molecule loses a pair (beyond N)"
        ),
    ] = False,
    invalid_samples: Annotated[
        int,
        typer.Option(help="with --invalid-pairs or --validity: strings sampled per round for invalid ones"),
    ] = 0,
    invalid_share: Annotated[
        float | None,
        typer.Option(help="with --invalid-pairs: share of each round's loss their pairs carry together"),
    ] = None,
    beta: Annotated[float, typer.Option(help="pull towards the model (DPO's β; smaller: further)")] = 0.1,
    nll_weight: Annotated[
        float, typer.Option(help="add this times the preferred molecule's per-token NLL (DPO+NLL)")
    ] = 1.0,
    epochs: Annotated[int, typer.Option(help="most epochs (early stopping usually ends sooner)")] = 20,
    lr: float = 5e-5,
    batch_size: Annotated[int, typer.Option(help="pairs per step")] = 32,
    patience: Annotated[int, typer.Option(help="epochs without a lower held-out loss before stopping")] = 3,
    val_fraction: Annotated[float, typer.Option(help="pairs held out for early stopping")] = 0.1,
    samples: Annotated[int, typer.Option(help="molecules sampled for the report (0: none)")] = 1000,
    seed: int = 0,
    device: DeviceOption = "auto",
) -> None:
    """Align a model to preferences with DPO (a pair file, a campaign's preferences, or a judge under a
    constitution on the model's samples): the result is a model for --model anywhere."""
    from chemloop.api import align
    from chemloop.services.align import REPORT

    options = {k: v for k, v in locals().items() if k not in ("align", "REPORT")}

    def show(row: dict) -> None:
        where = f"round {row['round']}, epoch {row['epoch']}" if "round" in row else f"epoch {row['epoch']}"
        console.print(
            f"{where}: loss {row['train_loss']:.3f}, held-out loss {row['heldout_loss']:.3f}, "
            f"accuracy {row['heldout_likelihood_accuracy']:.2f} (best epoch {row['best_epoch']})"
        )

    report = align(progress=show, **options)
    table = Table(
        title=f"DPO on {report['pairs_used']} pairs in {report['seconds']:.0f} s (β {report['beta']})"
    )
    for name in ("", "held-out loss", "held-out accuracy", "validity", "uniqueness"):
        table.add_column(name)
    for label in ("before", "after"):
        held = report[f"heldout_{label}"]
        table.add_row(
            label,
            f"{held['loss']:.3f}",
            f"{held['likelihood_accuracy']:.3f}",
            *(_number(report.get(f"{key}_{label}")) for key in ("validity", "uniqueness")),
        )
    console.print(table)
    console.print(f"KL to the starting model on its samples: {_number(report.get('kl_to_prior'))} nats")
    console.print(f"checkpoint in {out}; report in {out / REPORT}")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
