"""The scoring section of a run config, validated once (pydantic) with errors naming the key.

[[score.components]]
type = "qed"                 # a registered component, or "python" for a plugin file
weight = 1.0
[[score.components]]
type = "mw"
transform = { type = "double_sigmoid", low = 250, high = 450 }
[[score.components]]
type = "python"
path = "my_objective.py"
function = "score"           # list[str] -> list[float]
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chemloop.errors import ChemloopError
from chemloop.score.registry import get_component
from chemloop.score.transforms import TRANSFORMS

PLUGIN_TYPES = ("python", "command")


class ComponentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        description="registered component name, or 'python' (a plugin file) or 'command' (a plugin program)"
    )
    name: str | None = Field(None, description="column label in logs (default: the type)")
    weight: float = Field(1.0, ge=0, description="weight in the aggregate")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the component")
    transform: dict[str, Any] | None = Field(
        None,
        description="maps the raw value onto [0, 1]: {type = 'sigmoid', low = …, high = …}; none: used as is",
    )
    filter: bool = Field(False, description="a transformed score below 0.5 zeroes the aggregate")
    path: Path | None = Field(None, description="python plugin: file exporting the function")
    function: str = Field("score", description="python plugin: function name")
    command: list[str] | None = Field(None, description="command plugin: argv; SMILES on stdin, JSON out")
    batch_size: int = Field(100, ge=1, description="command plugin: molecules per process")
    processes: int = Field(2, ge=1, description="command plugin: batches run at once")
    timeout: float = Field(600, gt=0, description="command plugin: seconds per batch")

    @model_validator(mode="after")
    def _known(self) -> ComponentConfig:
        if self.type == "python" and self.path is None:
            raise ValueError("component type 'python' needs a 'path'")
        if self.type == "command" and not self.command:
            raise ValueError("component type 'command' needs a 'command' (a list of arguments)")
        if self.type not in PLUGIN_TYPES:
            found = get_component(self.type)  # raises naming the unknown component
            try:  # a misspelt or missing parameter fails when the config loads, not mid-run
                inspect.signature(found.function).bind([], **self.params)
            except TypeError as err:
                raise ValueError(f"params of component {self.type!r}: {err}") from None
            if found.check is not None:
                try:
                    found.check(**self.params)
                except ChemloopError as err:
                    raise ValueError(f"params of component {self.type!r}: {err}") from None
        if self.transform is not None:
            kind = self.transform.get("type")
            if kind not in TRANSFORMS:
                raise ValueError(f"unknown transform {kind!r}; choose from {', '.join(TRANSFORMS)}")
            params = {k: v for k, v in self.transform.items() if k != "type"}
            try:  # bad parameter names or values fail here, not mid-run
                TRANSFORMS[kind](0.5, **params)
            except (TypeError, ValueError, ZeroDivisionError) as err:
                raise ValueError(f"transform {kind!r} of component {self.type!r}: {err}") from None
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.type == "python" and self.path:
            return self.path.stem
        if self.type == "command" and self.command:
            return Path(self.command[-1]).stem
        return self.type


class ScoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    components: list[ComponentConfig] = Field(
        min_length=1, description="the scoring components, one [[score.components]] table each"
    )
    aggregate: Literal["geometric", "arithmetic"] = Field(
        "geometric", description="how the transformed scores combine: weighted geometric or arithmetic mean"
    )
    neutralize: bool = Field(
        False,
        description="components score each molecule's neutral form (carboxylates, phenolates, ammoniums "
        "uncharged), so that the protonation state a model writes (ZINC's pH-7 forms) gains nothing; "
        "molecules are still stored and counted as written. Off: scored as written, as PMO does",
    )

    @property
    def weighted(self) -> bool:
        """Whether any non-filter component carries weight (filters alone score 1 or 0)."""
        return sum(c.weight for c in self.components if not c.filter) > 0

    @model_validator(mode="after")
    def _unique_labels(self) -> ScoreConfig:
        labels = [c.label for c in self.components]
        duplicates = sorted({x for x in labels if labels.count(x) > 1})
        if duplicates:
            raise ValueError(f"component labels must be unique; give 'name' to: {', '.join(duplicates)}")
        return self
