"""The error every operation raises for a value it refuses: where the value was, what it was, why.

A face renders it its own way: the HTTP API as FastAPI's validation body (``kind`` picks the status
code), MCP as a tool error, the web app on the page that sent the value.
"""

from __future__ import annotations

from typing import Any

from chemloop.errors import ChemloopError

Loc = tuple[str | int, ...]


def problem(loc: Loc, message: str, value: Any = None, kind: str = "value_error") -> dict[str, Any]:
    """One refused value, in the shape of a pydantic validation error."""
    return {"loc": list(loc), "msg": message, "input": value, "type": kind}


class FieldError(ChemloopError):
    """A refused input value: where it was (``loc``), what it was, and why.

    ``kind`` says what went wrong (``value_error``, ``invalid_smiles``, ``not_found``, ``exists``,
    ``busy``, ...); ``also`` adds more problems of the same input (every invalid SMILES of a list);
    ``retry_after`` (seconds) marks a refusal that passes if the caller waits. ``summary``, where
    given, is the error's text (what a command line prints) in place of the first problem's message.
    """

    def __init__(
        self,
        loc: Loc,
        value: Any,
        message: str,
        kind: str = "value_error",
        also: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
        summary: str | None = None,
    ):
        super().__init__(summary or message)
        self.kind = kind
        self.retry_after = retry_after
        self.problems = [problem(loc, message, value, kind), *(also or [])]


def check_at_most(loc: Loc, value: int, limit: int, what: str) -> None:
    """Refuse ``value`` (a count or a number) above the server's ``limit``, naming the field."""
    if value > limit:
        raise FieldError(
            loc, value, f"{'.'.join(map(str, loc))}: {value} {what} is above this server's limit of {limit}"
        )
