"""Reading TOML configs: one place for how files are read, paths resolved and errors worded."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from chemloop.errors import ChemloopError

Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: Path, what: str) -> dict:
    """The TOML at ``path`` as a dict, with plugin paths made relative to the file."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ChemloopError(f"cannot read {what} {path}: {err}") from None
    for entry in (data.get("score") or {}).get("components", []):
        if isinstance(entry, dict) and "path" in entry:
            entry["path"] = str((path.parent / entry["path"]).resolve())
    return data


def validate(model: type[Model], data: dict, source: str) -> Model:
    """Validate ``data`` as ``model``; the error names every bad key by its dotted path."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ChemloopError(f"invalid {source}: {validation_problems(err)}") from None


def validation_problems(err: ValidationError, empty_key: str = "") -> str:
    """Every bad key of ``err`` by its dotted path (``empty_key`` for the whole input), with its
    problem; a key that may take one of several types gets one entry, its problems joined by "or"."""
    problems: dict[str, list[str]] = {}
    for e in err.errors():
        key = ".".join(str(part) for part in e["loc"] if not _is_union_member(part)) or empty_key
        problems.setdefault(key, []).append(e["msg"])
    return "; ".join(f"{key}: {' or '.join(msgs)}" for key, msgs in problems.items())


def _is_union_member(part: object) -> bool:
    """Whether a part of pydantic's error location names a member of a union (``constrained-float``,
    ``literal['auto']``) rather than a key: keys are identifiers or list positions."""
    return isinstance(part, str) and not part.isidentifier()
