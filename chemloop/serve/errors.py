"""Errors as JSON: every refused request gets a body that names the field and the value.

All error bodies share FastAPI's validation shape, ``{"detail": [{"loc", "msg", "input", "type"}]}``,
so a client reads one format whether pydantic or a chemloop layer refused the input.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from chemloop.chem.mol import InvalidSmilesError
from chemloop.errors import ChemloopError
from chemloop.jobs import JobConflictError
from chemloop.model.checkpoint import CheckpointError
from chemloop.reward.data import FeedbackError
from chemloop.services.campaigns import UnknownCampaignError
from chemloop.services.compute import ComputeLimitError
from chemloop.services.errors import FieldError, problem

# The status code of a refused value, by what went wrong (any other kind: 422).
STATUS_OF_KIND = {"not_found": 404, "exists": 409, "archived": 409, "busy": 429, "rate_limited": 429}


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no NaN, and a failed score is NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """The default response class: NaN becomes null instead of a 500 from ``allow_nan=False``."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        try:
            return text.encode()
        except UnicodeEncodeError:
            # A lone surrogate ("\ud800", legal in a JSON string) echoed back from the request, e.g.
            # in a validation error's input, has no UTF-8 form: escape it as JSON does (\ud800).
            return json.dumps(finite(content), allow_nan=False, separators=(",", ":")).encode()


def error_response(status_code: int, problems: list[dict[str, Any]], headers=None) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": problems}, status_code=status_code, headers=headers)


def _field_error(request: Request, err: FieldError) -> SafeJSONResponse:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return error_response(STATUS_OF_KIND.get(err.kind, 422), err.problems, headers)


def _validation_error(request: Request, err: RequestValidationError) -> SafeJSONResponse:
    # FastAPI's own body, through the NaN-safe response (a NaN in the input must not become a 500).
    return error_response(422, jsonable_encoder(err.errors()))


def _feedback_error(request: Request, err: FeedbackError) -> SafeJSONResponse:
    rows = [problem(("body", "file", f"row {row}"), message, kind="bad_row") for row, message in err.problems]
    return error_response(422, rows or [problem(("body", "file"), str(err), kind="bad_file")])


def _invalid_smiles(request: Request, err: InvalidSmilesError) -> SafeJSONResponse:
    return error_response(422, [problem(("smiles",), str(err), err.smiles, "invalid_smiles")])


def _unknown_campaign(request: Request, err: UnknownCampaignError) -> SafeJSONResponse:
    name = request.path_params.get("name")
    return error_response(404, [problem(("path", "name"), str(err), name, "not_found")])


def _checkpoint_error(request: Request, err: CheckpointError) -> SafeJSONResponse:
    # The model is server-side configuration: the client can do nothing about it.
    return error_response(503, [problem((), f"the server's model is unavailable: {err}", kind="no_model")])


def _job_conflict(request: Request, err: JobConflictError) -> SafeJSONResponse:
    return error_response(409, [problem((), str(err), kind="conflict")])


def _database_busy(request: Request, err: OperationalError) -> SafeJSONResponse:
    # e.g. SQLite's write lock held by another writer past its timeout: retrying later works.
    return error_response(503, [problem((), "the campaign database is busy; try again", kind="busy")])


def _compute_limit(request: Request, err: ComputeLimitError) -> SafeJSONResponse:
    return error_response(422, [problem((), str(err), kind="compute_limit")])


def _chemloop_error(request: Request, err: ChemloopError) -> SafeJSONResponse:
    return error_response(400, [problem((), str(err), kind="chemloop_error")])


def add_error_handlers(app: FastAPI) -> None:
    # Starlette picks the handler of the most specific class in the exception's MRO.
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(FieldError, _field_error)
    app.add_exception_handler(FeedbackError, _feedback_error)
    app.add_exception_handler(InvalidSmilesError, _invalid_smiles)
    app.add_exception_handler(UnknownCampaignError, _unknown_campaign)
    app.add_exception_handler(CheckpointError, _checkpoint_error)
    app.add_exception_handler(JobConflictError, _job_conflict)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(ComputeLimitError, _compute_limit)
    app.add_exception_handler(ChemloopError, _chemloop_error)
