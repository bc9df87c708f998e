"""Named users: each has a name and a key of their own, so feedback, notes and uploads say who
stored them. The server's shared key (``CHEMLOOP_API_KEY``) keeps working as the user ``admin``.

Keys are stored as their SHA-256, never as themselves. A key here is 32 random bytes the server
made (``secrets.token_urlsafe``), never a password a person chose: nobody can guess 2^256 values,
so a slow salted hash (scrypt, PBKDF2) would add nothing against guessing, while a plain digest
finds the user of a request's key with one indexed lookup instead of one slow hash per stored user.
A copy of the database holds no usable key.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chemloop.errors import ChemloopError
from chemloop.loop.store import USER_NAME_PATTERN, User, session_scope

ADMIN = "admin"  # who the server's shared key signs in as
ASSISTANT = "assistant"  # who an LLM assistant's notes (MCP) are by
# Who the command line stored a file as: "cli:<login name>" (a user name never holds ':'), or this
# alone when the login name is unknown; reserved, so no named user reads as the command line.
CLI = "cli"
RESERVED = frozenset({ADMIN, ASSISTANT, CLI})
NAME_RULE = "1–64 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_KEY_LENGTH = 512  # a longer credential is no key of ours: not hashed, not looked up


class UnknownUserError(ChemloopError):
    """A user name the database does not hold."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def check_user_name(name: str) -> str:
    """``name`` if a new user may take it, else a :class:`ChemloopError` stating the rule."""
    if not re.fullmatch(USER_NAME_PATTERN, name):
        raise ChemloopError(f"user name {name[:80]!r}: use {NAME_RULE}")
    if name.lower() in RESERVED:
        raise ChemloopError(f"user name {name!r} is reserved; choose another")
    return name


def add_user(factory: sessionmaker[Session], name: str) -> str:
    """Store user ``name`` with a new random key; returns the key (shown once, stored only hashed)."""
    check_user_name(name)
    key = secrets.token_urlsafe(32)
    try:
        with session_scope(factory) as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise ChemloopError(f"user {name!r} already exists; remove it first to issue a new key")
            session.add(User(name=name, key_sha256=key_digest(key)))
    except IntegrityError:  # the same name added by a concurrent command
        raise ChemloopError(f"user {name!r} already exists; remove it first to issue a new key") from None
    return key


def list_users(factory: sessionmaker[Session]) -> list[dict]:
    """Every named user by name, with when they were added (never their key)."""
    with session_scope(factory) as session:
        rows = session.execute(select(User.name, User.created).order_by(User.name)).all()
    return [{"name": name, "created": created.isoformat()} for name, created in rows]


def remove_user(factory: sessionmaker[Session], name: str) -> None:
    """Remove user ``name``: the key stops working at once, sign-ins with it included. What the user
    stored stays, under the name."""
    with session_scope(factory) as session:
        if session.execute(delete(User).where(User.name == name)).rowcount == 0:
            known = ", ".join(session.scalars(select(User.name).order_by(User.name))) or "none"
            raise UnknownUserError(f"no user named {name[:80]!r}; known: {known}")


def user_for_key(factory: sessionmaker[Session], key: str) -> str | None:
    """The name of the user whose key ``key`` is, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    with session_scope(factory) as session:
        return session.scalar(select(User.name).where(User.key_sha256 == key_digest(key)))


def user_exists(factory: sessionmaker[Session], name: str) -> bool:
    with session_scope(factory) as session:
        return session.scalar(select(User.id).where(User.name == name)) is not None
