"""Molecule endpoints: sample, score, depict, properties, and the list of scoring components.

Endpoints are plain ``def``: FastAPI runs them in its thread pool, so RDKit and torch work never
blocks the event loop. Scoring goes through :func:`chemloop.molecules.score_molecules` with
``allow_plugins=False``, like every request from the network.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from chemloop.chem.mol import InvalidSmilesError
from chemloop.errors import ChemloopError
from chemloop.model.generate import sample
from chemloop.molecules import depict_svg, properties, score_config, score_molecules
from chemloop.score.config import ScoreConfig
from chemloop.score.registry import available_components
from chemloop.score.transforms import TRANSFORMS
from chemloop.serve import schemas
from chemloop.serve.compute import ComputePool
from chemloop.serve.deps import BUSY_RESPONSE, ComputeSlot, Model, Settings
from chemloop.serve.errors import FieldError, problem
from chemloop.serve.limits import check_at_most

router = APIRouter(prefix="/api", tags=["molecules"])
_sampling = threading.Lock()  # one sampling run at a time: each already uses every core

QuerySmiles = Annotated[str, Query(min_length=1, max_length=schemas.MAX_SMILES_LENGTH, examples=["CCO"])]
# Depictions are pure functions of the query: cacheable, and an SVG may not run anything.
SVG_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def request_score_config(
    score: schemas.ScoreIn, loc: tuple = ("body", "components"), allow_slow: bool = True
) -> ScoreConfig:
    """The layer's ScoreConfig for a request's components; a refused one is named by its index."""
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


def invalid_smiles(loc: tuple, bad: list[tuple[int, str]]) -> FieldError:
    """One 422 naming every invalid SMILES of a list by its index."""
    (i, first), rest = bad[0], bad[1:]
    also = [problem((*loc, j), f"invalid SMILES: {s!r}", s, "invalid_smiles") for j, s in rest]
    return FieldError((*loc, i), first, f"invalid SMILES: {first!r}", kind="invalid_smiles", also=also)


def _has_request_params(score: schemas.ScoreIn) -> bool:
    return any(c.params or c.transform for c in score.components)


def score_request(
    body: schemas.ScoreRequest, max_molecules: int, compute: ComputePool
) -> schemas.ScoreResponse:
    """Score a request's molecules in ``compute``'s worker processes."""
    check_at_most(("body", "smiles"), len(body.smiles), max_molecules, "molecules")
    config = request_score_config(body, allow_slow=False)  # the client waits: no docking here
    try:
        results = compute.run(score_molecules, body.smiles, config)
    except ChemloopError:
        raise
    except Exception as err:
        if not _has_request_params(body):
            raise  # a bug, not the request's fault: let it be a 500 with a traceback in the log
        # Parameters and transforms are data from the request: a component failing on them is a 4xx.
        raise FieldError(
            ("body", "components"), None, f"a component failed with the given params or transform: {err!r}"
        ) from None
    # The scorer parses each SMILES once; an invalid one comes back with canonical None.
    bad = [(i, r["smiles"]) for i, r in enumerate(results) if r["canonical"] is None]
    if bad:
        raise invalid_smiles(("body", "smiles"), bad)
    return schemas.ScoreResponse(components=[c.label for c in config.components], results=results)


@router.post(
    "/score", response_model=schemas.ScoreResponse, dependencies=[ComputeSlot], responses=BUSY_RESPONSE
)
def score(body: schemas.ScoreRequest, settings: Settings, request: Request) -> schemas.ScoreResponse:
    """Score molecules with named components: aggregate, each component's raw and transformed value."""
    return score_request(body, settings.max_molecules, request.app.state.compute)


@router.post(
    "/sample", response_model=schemas.SampleResponse, dependencies=[ComputeSlot], responses=BUSY_RESPONSE
)
def sample_molecules(body: schemas.SampleRequest, settings: Settings, model: Model) -> dict[str, Any]:
    """Sample SMILES from the server's chemical language model (the same seed gives the same strings)."""
    check_at_most(("body", "num"), body.num, settings.max_samples, "molecules")
    start = time.perf_counter()
    with _sampling:
        report = sample(
            model, body.num, seed=body.seed, temperature=body.temperature, top_k=body.top_k, top_p=body.top_p
        )
    return {
        "molecules": [m.__dict__ for m in report.molecules],
        "validity": report.validity,
        "uniqueness": report.uniqueness,
        "seconds": round(time.perf_counter() - start, 3),
    }


@router.get("/molecules/depict", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def depict(
    smiles: QuerySmiles,
    width: Annotated[int, Query(ge=50, le=2000)] = 300,
    height: Annotated[int, Query(ge=50, le=2000)] = 220,
) -> Response:
    """An SVG drawing of the molecule."""
    try:
        svg = depict_svg(smiles, width, height)
    except InvalidSmilesError:
        raise FieldError(
            ("query", "smiles"), smiles, f"invalid SMILES: {smiles!r}", kind="invalid_smiles"
        ) from None
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)


@router.get("/molecules/properties", response_model=schemas.Properties)
def molecule_properties(smiles: QuerySmiles) -> dict[str, Any]:
    """Properties of one molecule (MW, cLogP, TPSA, HBD/HBA, QED, SA score, …) and its PAINS/Brenk alerts."""
    try:
        return properties(smiles)
    except InvalidSmilesError:
        raise FieldError(
            ("query", "smiles"), smiles, f"invalid SMILES: {smiles!r}", kind="invalid_smiles"
        ) from None


@router.post(
    "/molecules/properties",
    response_model=list[schemas.Properties],
    dependencies=[ComputeSlot],
    responses=BUSY_RESPONSE,
)
def many_properties(
    body: schemas.PropertiesRequest, settings: Settings, request: Request
) -> list[dict[str, Any]]:
    """Properties of each molecule, in order; an invalid SMILES fails the request, named by its index."""
    check_at_most(("body", "smiles"), len(body.smiles), settings.max_molecules, "molecules")
    rows, bad = request.app.state.compute.run(properties_of_each, body.smiles)
    if bad:
        raise invalid_smiles(("body", "smiles"), bad)
    return rows


def properties_of_each(smiles: list[str]) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Properties of every valid SMILES, and (index, SMILES) of the invalid ones."""
    rows, bad = [], []
    for i, s in enumerate(smiles):
        try:
            rows.append(properties(s))
        except InvalidSmilesError:
            bad.append((i, s))
    return rows, bad


@router.get("/components", response_model=schemas.ComponentsOut)
def components() -> dict[str, Any]:
    """The scoring components a request may name, and the transforms it may apply to them."""
    return {
        "components": [{"name": n, "description": d} for n, d in available_components().items()],
        "transforms": sorted(TRANSFORMS),
    }


@router.get("/health", tags=["server"])
def health() -> dict[str, str]:
    from chemloop import __version__

    return {"status": "ok", "version": __version__}
