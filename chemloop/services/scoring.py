"""Scoring by component name, for every face: a request's components become a
:class:`~chemloop.score.config.ScoreConfig` under the limits of a request from outside, and its
molecules are scored in the caller's compute pool.

Requests from the network go through :func:`score_config` with ``allow_plugins=False``: a
component that runs code (``python`` files, external ``command``s) can only come from a
server-side config, never from a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from chemloop.config_files import validation_problems
from chemloop.errors import ChemloopError
from chemloop.score.config import PLUGIN_TYPES, ScoreConfig
from chemloop.score.registry import get_component
from chemloop.score.scorer import WITHHELD, Scorer
from chemloop.services import schemas
from chemloop.services.compute import ComputeLimitError, Run, call_here
from chemloop.services.errors import FieldError, Loc, check_at_most, problem

# Parameters only a server-side config may set: those that read or write files, and those that pick
# where or how widely work runs (a Ray address, worker counts).
SERVER_ONLY_PARAMS = frozenset(
    {"path", "receptor", "poses_dir", "cache_dir", "model", "directory"}
    | {"backend", "ray_address", "workers", "cpus_per_call"}
)
# Upper bounds on numeric parameters from the network, so one request cannot ask for gigabytes
# (a 10^8-bit fingerprint per molecule) or hours (exhaustiveness, timeouts).
NETWORK_BOUNDS = {"bits": 16384, "radius": 6, "exhaustiveness": 32, "timeout": 600}


def score_config(
    components: Sequence[str | dict[str, Any]], allow_plugins: bool = False, allow_slow: bool = True
) -> ScoreConfig:
    """A scoring config from component names (``"qed"``) or tables (``{"type": "mw", ...}``).

    With ``allow_plugins=False`` (every request from the network) a component that would run
    code or touch a path is refused; with ``allow_slow=False`` (a request answered while the
    client waits) so is a slow one such as docking, which belongs in a background job.
    """
    if not components:
        raise ChemloopError("name at least one scoring component")
    tables = [{"type": c} if isinstance(c, str) else dict(c) for c in components]
    if not allow_plugins:
        for table in tables:
            if table.get("type") in PLUGIN_TYPES:
                raise ChemloopError(
                    f"component type {table['type']!r} runs code and is allowed only in server-side configs"
                )
            params = table.get("params") or {}
            reserved = sorted(SERVER_ONLY_PARAMS & set(params))
            if reserved:
                raise ChemloopError(
                    f"component {table.get('type')!r}: parameter {reserved[0]!r} names a file or the "
                    "server's resources and is allowed only in server-side configs"
                )
            for key, bound in NETWORK_BOUNDS.items():
                value = params.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and value > bound:
                    raise ChemloopError(
                        f"component {table.get('type')!r}: parameter {key!r} = {value} is above the "
                        f"limit {bound} for requests"
                    )
    try:
        config = ScoreConfig(components=tables)
    except ValidationError as err:
        raise ChemloopError(f"invalid scoring components: {validation_problems(err, 'components')}") from None
    for c in config.components:
        if c.type not in PLUGIN_TYPES and not allow_slow and get_component(c.type).slow:
            raise ChemloopError(
                f"component {c.type!r} takes seconds or more per molecule: use it in an optimize job "
                "or a campaign, not in a request that waits for its answer"
            )
    return config


def score_molecules(
    smiles: Sequence[str],
    components: Sequence[str | dict[str, Any]] | ScoreConfig,
    allow_plugins: bool = False,
) -> list[dict[str, Any]]:
    """Score each SMILES: aggregate, every component's raw and transformed value, and the reason for
    a zero or missing score. An invalid SMILES scores 0 with the reason; it does not raise. A molecule
    the dual-use guard withholds scores 0 with the reason, its SMILES left blank."""
    config = components if isinstance(components, ScoreConfig) else score_config(components, allow_plugins)
    return [
        {
            "smiles": "" if r.reason == WITHHELD else r.smiles,  # never shown, not even echoed
            "canonical": r.canonical,
            "score": r.score,
            "raw": r.raw,
            "transformed": r.transformed,
            "reason": r.reason,
        }
        for r in Scorer(config)(list(smiles))
    ]


def request_score_config(
    score: schemas.ScoreIn, loc: Loc = ("body", "components"), allow_slow: bool = True
) -> ScoreConfig:
    """The ScoreConfig of a request's components and aggregate; a refused component is named by its
    index under ``loc``."""
    tables = [c.model_dump(exclude_unset=True) for c in score.components]
    try:
        config = score_config(tables, allow_plugins=False, allow_slow=allow_slow)
    except ChemloopError as err:
        for i, table in enumerate(tables):  # find the culprit (only on this error path)
            try:
                score_config([table], allow_plugins=False, allow_slow=allow_slow)
            except ChemloopError as one:
                raise FieldError((*loc, i), table, str(one)) from None
        raise FieldError(loc, tables, str(err)) from None
    return config.model_copy(update={"aggregate": score.aggregate})


def invalid_smiles(loc: Loc, bad: list[tuple[int, str]]) -> FieldError:
    """One error naming every invalid SMILES of a list by its index."""
    (i, first), rest = bad[0], bad[1:]
    also = [problem((*loc, j), f"invalid SMILES: {s!r}", s, "invalid_smiles") for j, s in rest]
    return FieldError((*loc, i), first, f"invalid SMILES: {first!r}", kind="invalid_smiles", also=also)


def score_request(
    request: schemas.ScoreRequest, max_molecules: int, run: Run = call_here, refuse_invalid: bool = True
) -> schemas.ScoreResponse:
    """Score a request's molecules (through ``run``: the server's worker processes). An invalid
    SMILES fails the request naming its index, or with ``refuse_invalid=False`` scores 0 with the
    reason. Components that take seconds per molecule (docking) are refused: the caller waits."""
    check_at_most(("body", "smiles"), len(request.smiles), max_molecules, "molecules")
    config = request_score_config(request, allow_slow=False)
    try:
        results = run(score_molecules, request.smiles, config)
    except ComputeLimitError:
        raise
    except Exception as err:
        if not any(c.params or c.transform for c in request.components):
            raise  # a bug, not the request's fault: let it surface with its traceback
        # Parameters and transforms are data from the request: a component failing on them (an
        # unknown alert catalogue, a value it cannot use) is the request's error, named as such.
        message = str(err) if isinstance(err, ChemloopError) else repr(err)
        raise FieldError(
            ("body", "components"), None, f"a component failed with the given params or transform: {message}"
        ) from None
    # The scorer parses each SMILES once; an invalid one comes back with canonical None.
    bad = [
        (i, r["smiles"]) for i, r in enumerate(results) if r["canonical"] is None and r["reason"] != WITHHELD
    ]
    if bad and refuse_invalid:
        raise invalid_smiles(("body", "smiles"), bad)
    return schemas.ScoreResponse(components=[c.label for c in config.components], results=results)
