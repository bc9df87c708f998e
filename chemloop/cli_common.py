"""What every part of the command line shares: the console, the user-error handler, common options."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from chemloop.errors import ChemloopError

LOG_WIDTH = 200


def make_console(terminal: bool) -> Console:
    """Markup off: what we print (paths, SMILES, messages) is text, and "[...]" in it must survive;
    the one styled line below turns markup on for itself. Outside a terminal (a log file, CI) rich
    would fit tables into 80 columns and cut their numbers to "0.…": they get room there."""
    return Console(markup=False, width=None if terminal else LOG_WIDTH)


console = make_console(terminal=sys.stdout.isatty())

ModelOption = Annotated[str, typer.Option(help="checkpoint folder, or the name of a shipped prior")]
DeviceOption = Annotated[str, typer.Option(help="'auto', 'cpu', 'cuda' or 'cuda:N'")]
SamplingPrecisionOption = Annotated[
    str,
    typer.Option(
        help="auto (bf16 where the chip has bf16 units, else int8 on a CPU with a quantized engine), "
        "int8, float (the weights: bf16 where the chip has bf16 units, else fp32), fp32 or bf16"
    ),
]


def user_errors(command):
    """Print a :class:`ChemloopError` as one clear line and exit with status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ChemloopError as err:
            # Escaped: a message such as "pip install 'chemloop[ray]'" is not markup.
            console.print(f"[bold red]error:[/] {escape(str(err))}", markup=True)
            raise typer.Exit(2) from None

    return wrapper


def one_line_command_lists(app: typer.Typer) -> None:
    """Give each command of ``app`` and of its groups, recursively, a one-line ``short_help``: its
    docstring's first paragraph with the line breaks joined. Typer's rich help prints a docstring's
    line breaks as they are in the lists of commands, which cut sentences in the middle."""
    for info in app.registered_commands:
        if info.short_help is None:
            first = (info.help or inspect.getdoc(info.callback) or "").split("\n\n")[0]
            info.short_help = " ".join(first.split())
    for group in app.registered_groups:
        if group.typer_instance is not None:
            one_line_command_lists(group.typer_instance)
