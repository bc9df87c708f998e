"""What every part of the command line shares: the console and the user-error handler."""

from __future__ import annotations

import functools

import typer
from rich.console import Console

from chemloop.errors import ChemloopError

console = Console()


def user_errors(command):
    """Print a :class:`ChemloopError` as one clear line and exit with status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ChemloopError as err:
            console.print(f"[bold red]error:[/] {err}")
            raise typer.Exit(2) from None

    return wrapper
