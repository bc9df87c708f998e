"""Molecule endpoints: sample, score, depict, properties, and the list of scoring components.

Endpoints are plain ``def``: FastAPI runs them in its thread pool, so RDKit and torch work never
blocks the event loop. Scoring, sampling and batch properties compute in the server's worker processes
(:class:`~chemloop.services.compute.ComputePool`), like every request from the network.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from chemloop.chem.mol import InvalidSmilesError
from chemloop.serve.deps import BUSY_RESPONSE, ComputeSlot, Settings, Work
from chemloop.services import schemas
from chemloop.services.errors import FieldError
from chemloop.services.molecules import (
    components_catalogue,
    depict_svg,
    properties,
    properties_request,
    sample_molecules,
)
from chemloop.services.scoring import score_request

router = APIRouter(prefix="/api", tags=["molecules"])

QuerySmiles = Annotated[str, Query(min_length=1, max_length=schemas.MAX_SMILES_LENGTH, examples=["CCO"])]
# Depictions are pure functions of the query: cacheable, and an SVG may not run anything.
SVG_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@router.post(
    "/score", response_model=schemas.ScoreResponse, dependencies=[ComputeSlot], responses=BUSY_RESPONSE
)
def score(body: schemas.ScoreRequest, settings: Settings, request: Request) -> schemas.ScoreResponse:
    """Score molecules with named components: aggregate, each component's raw and transformed value."""
    return score_request(body, settings.max_molecules, request.app.state.compute.run)


@router.post(
    "/sample", response_model=schemas.SampleResponse, dependencies=[ComputeSlot], responses=BUSY_RESPONSE
)
def sample(
    body: schemas.SampleRequest, settings: Settings, workspace: Work, request: Request
) -> schemas.SampleResponse:
    """Sample SMILES from the server's chemical language model (the same seed gives the same strings)."""
    return sample_molecules(workspace, body, settings.max_samples, request.app.state.compute.run)


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
    return properties_request(body, settings.max_molecules, request.app.state.compute.run)


@router.get("/components", response_model=schemas.ComponentsOut)
def components() -> dict[str, Any]:
    """The scoring components a request may name, and the transforms it may apply to them."""
    return components_catalogue()


@router.get("/health", tags=["server"])
def health() -> dict[str, str]:
    from chemloop import __version__

    return {"status": "ok", "version": __version__}
