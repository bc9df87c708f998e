"""``chemloop users …``: named users of the web app and the HTTP API (thin: parses, calls
:mod:`chemloop.services.users`, prints). A key is printed once, when it is made; the database
keeps only its hash."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chemloop.cli_common import console, user_errors

users_app = typer.Typer(
    help="Named users: each signs in with a key of their own; what they record carries their name.",
    no_args_is_help=True,
)

DbOption = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL (default: $CHEMLOOP_DB or sqlite:///chemloop.db)")
]


def _workspace(db: str | None):
    from chemloop.services.workspace import Workspace

    return Workspace.from_env(db)


@users_app.command("add")
@user_errors
def add(name: str, db: DbOption = None) -> None:
    """Add a user and print their new key (once: only its hash is stored)."""
    from chemloop.services import users

    key = users.add(_workspace(db), name)
    console.print(f"user {name!r} added. Their key (shown once; store it safely):")
    typer.echo(key)


@users_app.command("list")
@user_errors
def list_(db: DbOption = None) -> None:
    """Every named user and when they were added (the server's own key signs in as 'admin')."""
    from chemloop.services import users

    found = users.list_all(_workspace(db))
    if not found:
        console.print("no named users yet (add one with: chemloop users add NAME)")
        return
    table = Table(title="users")
    table.add_column("name")
    table.add_column("added")
    for user in found:
        table.add_row(user["name"], user["created"][:16].replace("T", " "))
    console.print(table)


@users_app.command("remove")
@user_errors
def remove(name: str, db: DbOption = None) -> None:
    """Remove a user: their key and sign-ins stop working; what they stored keeps their name."""
    from chemloop.services import users

    users.remove(_workspace(db), name)
    console.print(f"user {name!r} removed")
