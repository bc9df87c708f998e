"""Request limits of the HTTP API: the body-size cap (before anything is parsed), and the server's
per-request limits written into the OpenAPI spec (the operations check them:
:func:`chemloop.services.errors.check_at_most`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chemloop.serve.errors import error_response
from chemloop.services.errors import problem
from chemloop.services.settings import ServeSettings

# (schema, property, JSON-schema keyword) -> the settings field that decides it.
SETTINGS_LIMITS = {
    ("ScoreRequest", "smiles", "maxItems"): "max_molecules",
    ("PropertiesRequest", "smiles", "maxItems"): "max_molecules",
    ("SampleRequest", "num", "maximum"): "max_samples",
    ("RunIn", "budget", "maximum"): "max_budget",
    ("CampaignSectionIn", "candidates", "maximum"): "max_samples",
}


def document_limits(app: FastAPI, settings: ServeSettings) -> None:
    """Write the settings' limits into ``/openapi.json`` so clients (and schemathesis) see them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            schemas = spec.get("components", {}).get("schemas", {})
            for (model, field, keyword), attribute in SETTINGS_LIMITS.items():
                prop = schemas.get(model, {}).get("properties", {}).get(field)
                if prop is None:
                    continue
                # An optional field is {"anyOf": [{"type": ...}, {"type": "null"}]}: limit the non-null part.
                for part in prop.get("anyOf", [prop]):
                    if part.get("type") in ("array", "integer"):
                        part[keyword] = getattr(settings, attribute)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi


def _too_large(size: str, limit: int) -> list[dict[str, Any]]:
    message = f"request body of {size} bytes is above this server's limit of {limit} bytes"
    return [problem(("body",), message, size, "too_large")]


class BodySizeMiddleware:
    """413 for a body above ``max_bytes``: by its Content-Length, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = error_response(413, _too_large(declared.decode("latin-1"), self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # An HTTPException passes through FastAPI's body parsing and becomes the 413 response.
                raise HTTPException(413, detail=_too_large(f"more than {self.max_bytes}", self.max_bytes))
            return message

        await self.app(scope, counted, send)
