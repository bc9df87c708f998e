"""The configuration reference, generated from the config models and the component registry.

    python -m chemloop.config_reference > docs/configuration.md

Each key's type, default and meaning come from a pydantic field (its ``description``), each
component's parameters from its function's signature, so the reference cannot drift from the
code; ``tests/test_docs.py`` fails when the checked-in file differs. A field without a
description stops the generation: every key gets a meaning.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from chemloop.bench.pmo import pmo_config
from chemloop.loop.config import CampaignSection, RewardSection
from chemloop.rl.run import OptimizeConfig, RunSection
from chemloop.rl.settings import AgentSettings
from chemloop.score.config import ComponentConfig, ScoreConfig
from chemloop.score.registry import available_components, get_component
from chemloop.score.transforms import TRANSFORMS

BUILTIN_COMPONENTS = "chemloop.score.components."
_BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def toml_value(value: Any) -> str:
    """``value`` as it is written in TOML (``none`` for an absent optional value)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def type_name(annotation: Any) -> str:
    """A short, readable name of a field's type: ``int``, ``float | none``, ``"a" | "b"``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "none"
    if origin in (list, tuple):
        return f"list of {type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        return "table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field: FieldInfo) -> str:
    parts = [
        f"{sign} {toml_value(getattr(item, bound))}"
        for item in field.metadata
        for bound, sign in _BOUNDS.items()
        if getattr(item, bound, None) is not None
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(table)" if isinstance(field.default_factory, type) else toml_value(field.default_factory())
    if field.default is PydanticUndefined:
        return "required"
    return toml_value(field.default)


def model_table(model: type[BaseModel], first: tuple[str, ...] = ()) -> str:
    """One row per field of ``model``: key, type (with bounds), default, meaning; ``first`` leads."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    fields = model.model_fields
    for name in [*first, *(n for n in fields if n not in first)]:
        field = fields[name]
        if not field.description:
            raise ValueError(f"{model.__name__}.{name} has no description: add one to its Field")
        meaning = field.description.replace("|", "\\|")
        lines.append(
            f"| `{name}` | {type_name(field.annotation)}{_bounds(field)} | `{_default(field)}` | {meaning} |"
        )
    return "\n".join(lines)


def _parameters(function: Any) -> str:
    """A component's or transform's keyword parameters (after the molecules or value it takes)."""
    parameters = list(inspect.signature(function).parameters.values())[1:]
    shown = [
        f"`{p.name}`" if p.default is inspect.Parameter.empty else f"`{p.name} = {toml_value(p.default)}`"
        for p in parameters
    ]
    return ", ".join(shown) if shown else "—"


def components_table() -> str:
    """The built-in scoring components: name, ``params`` keys (with defaults), what they score."""
    lines = ["| `type` | `params` | what it scores |", "|---|---|---|"]
    for name in available_components():
        found = get_component(name)
        if not found.function.__module__.startswith(BUILTIN_COMPONENTS):
            continue  # an installed plugin's component is not part of chemloop's reference
        slow = (
            " Slow: only in optimize jobs and campaigns, not in a request that waits." if found.slow else ""
        )
        lines.append(f"| `{name}` | {_parameters(found.function)} | {found.description}{slow} |")
    return "\n".join(lines)


def transforms_table() -> str:
    """The transforms a component's ``transform`` table may name, with their parameters."""
    lines = ["| `type` | parameters | shape |", "|---|---|---|"]
    for name, function in TRANSFORMS.items():
        doc = (function.__doc__ or "").strip().splitlines()[0]
        lines.append(f"| `{name}` | {_parameters(function)} | {doc} |")
    return "\n".join(lines)


def reference() -> str:
    """The whole of docs/configuration.md."""
    benchmark, default = pmo_config("qed", 10_000, 0).run.model_dump(), RunSection().model_dump()
    agent_keys = list(AgentSettings.model_fields)
    # A precision of auto is recorded as what the chip runs (bf16 or fp32), not as a benchmark setting.
    pmo_defaults = ", ".join(
        f"`{k} = {toml_value(v)}`"
        for k, v in benchmark.items()
        if v != default[k] and k not in ("budget", "precision")
    )
    sections = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m chemloop.config_reference > docs/configuration.md`; "
        "do not edit by hand. -->",
        "",
        "Every file below is TOML, validated once when it is read: an unknown key, a value out of "
        "range or a misspelt component parameter is an error that names the key, before any work "
        "starts. Paths (`path`, `seed_data`) are relative to the file that names them.",
        "",
        "## Run config: `chemloop optimize --config FILE.toml`",
        "",
        "Examples: `examples/qed.toml`, `examples/plugin.toml`, `examples/docking.toml`. "
        "A resumed run (`--resume`) may change only the keys that decide when it stops: "
        "`budget`, `max_steps`, `target_score`, `checkpoint_every`, `patience`, `plateau`, `plateau_calls`.",
        "",
        model_table(OptimizeConfig),
        "",
        "### `[run]`",
        "",
        f"The agent's keys (`{agent_keys[0]}` to `{agent_keys[-1]}`) and their defaults are the same in "
        "`chemloop bench pmo` and in a campaign's `[run]`: the settings measured on the PMO benchmark "
        "([benchmarks/pmo.md](benchmarks/pmo.md)). A quarter of each batch is graph-GA offspring "
        "of the memory (`ga_share`); 0 turns it off.",
        "",
        model_table(RunSection, first=("budget", "max_steps", "seed", "model")),
        "",
        "### `[score]`",
        "",
        model_table(ScoreConfig),
        "",
        "### `[[score.components]]`",
        "",
        "One table per component. `type` names a built-in component (below), a component "
        "registered by an installed plugin package, `python` (a function in a file) or `command` "
        "(a program: SMILES on stdin, a JSON list of numbers on stdout). See docs/components.md.",
        "",
        model_table(ComponentConfig),
        "",
        "### Built-in components (`type`, and the keys of `params`)",
        "",
        components_table(),
        "",
        "### Transforms (`transform = { type = …, … }`)",
        "",
        transforms_table(),
        "",
        "## Campaign config: `chemloop campaign init NAME --config FILE.toml`",
        "",
        "Example: `examples/campaign/campaign.toml`. `[score]` is optional and takes the keys of "
        "the run config's `[score]` (constraints such as `filter = true` components, or terms "
        "added to the learned reward). In a campaign its `neutralize` defaults to `true`: components "
        "score each compound's neutral form, as the reward model learns parent compounds.",
        "",
        "### `[campaign]`",
        "",
        model_table(CampaignSection),
        "",
        "### `[reward]`",
        "",
        model_table(RewardSection),
        "",
        "### `[run]`",
        "",
        "Optional: the agent's settings in `propose`, the keys of the run config's `[run]` from "
        f"`{agent_keys[0]}` to `{agent_keys[-1]}` with the same defaults. The other keys of a run "
        "(`budget`, `max_steps`, `seed`, `model`, the stopping rules) are errors here: `propose` takes "
        "`campaign.rl_steps` updates from `campaign.model` with `campaign.seed`. `campaign.rl_batch_size`, "
        "when set, overrides `batch_size` for propose alone.",
        "",
        "## Benchmark settings: `--settings FILE.toml`",
        "",
        "- `chemloop bench pmo --settings`: a `[run]` table (keys as above) that overrides the "
        "benchmark's settings. The benchmark runs `[run]`'s defaults with PMO's protocol (and the "
        f"spelling its prior implies, recorded with the results): {pmo_defaults}. "
        "Examples: `bench/pmo_settings/`.",
        "- `chemloop bench campaign --settings`: `[campaign]` and `[reward]` tables (keys as above).",
        "",
    ]
    return "\n".join(sections)


if __name__ == "__main__":
    print(reference(), end="")
