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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ChemloopError(f"invalid {source}: {problems}") from None
