"""``/docs``: the HTTP API's reference, Swagger UI over ``/openapi.json``, with every file served by
this server (the ``fastapi-offline`` package ships Swagger UI's script and stylesheet): nothing is
loaded from a CDN, and the page runs no inline script."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chemloop.serve.web.templating import render

router = APIRouter()

SWAGGER_URL = "/static/swagger-ui"  # where the app serves SWAGGER_DIR
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


def swagger_dir() -> Path | None:
    """The folder with Swagger UI's files, or None when the package that ships them is missing."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    return folder if all((folder / f).is_file() for f in SWAGGER_FILES) else None


# The page's own policy: the common one, plus blob: images (Swagger UI shows an image a request
# returned, such as a depiction, through a blob: URL).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    response = render(request, "api_docs.html", swagger=SWAGGER_URL if swagger_dir() else None)
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response
