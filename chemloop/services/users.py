"""Named users for every face: add one (its key is returned once), list, remove, and tell whose a
key is. The server's shared key (``CHEMLOOP_API_KEY``) is the user ``admin``, so a setup with one
key keeps working unchanged."""

from __future__ import annotations

import getpass
import secrets
from typing import Any

from chemloop.loop import users as loop_users
from chemloop.loop.users import ADMIN, ASSISTANT, CLI, MAX_KEY_LENGTH, UnknownUserError, check_user_name
from chemloop.services.workspace import Workspace

__all__ = ["ADMIN", "ASSISTANT", "UnknownUserError", "add", "check_user_name", "exists", "list_all"]


def add(workspace: Workspace, name: str) -> str:
    """Add user ``name``; returns the new key, which is stored only as its hash: show it once."""
    return loop_users.add_user(workspace.factory, name)


def list_all(workspace: Workspace) -> list[dict[str, Any]]:
    """Every named user (name, when added); keys are never listed."""
    return loop_users.list_users(workspace.factory)


def remove(workspace: Workspace, name: str) -> None:
    """Remove user ``name``: the key and the browser sign-ins made with it stop working."""
    loop_users.remove_user(workspace.factory, name)


def exists(workspace: Workspace, name: str) -> bool:
    """Whether ``name`` is a user now (``admin``, the shared key's, always is)."""
    return name == ADMIN or loop_users.user_exists(workspace.factory, name)


def identify(workspace: Workspace, key: str, admin_key: str) -> str | None:
    """Whose key ``key`` is: ``admin`` for the server's shared key, a user's name for theirs, else None."""
    if len(key) <= MAX_KEY_LENGTH and secrets.compare_digest(key.encode(), admin_key.encode()):
        return ADMIN
    return loop_users.user_for_key(workspace.factory, key)


def command_line_user() -> str:
    """Who files stored from the command line are attributed to: ``cli:<login name>`` (the name cut
    to fit the store's 64 characters), or ``cli`` where the operating system names nobody."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no password-database entry (e.g. a bare container)
        return CLI
    return f"{CLI}:{login}"[:64] if login.strip() else CLI
