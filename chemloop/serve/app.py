"""The HTTP API (and the web app's pages): ``chemloop serve``.

    chemloop serve --host 127.0.0.1 --port 8000 --db sqlite:///chemloop.db
    curl -s localhost:8000/api/score -H 'content-type: application/json' \\
         -d '{"smiles": ["CCO"], "components": ["qed", "sa_score"]}'

The spec is at ``/openapi.json`` (browsable at ``/docs``, with files served from here, no CDN).
Reading is open; every endpoint that changes state needs the API key (``X-API-Key`` or a bearer
token) or a web sign-in (the web app's session cookie, from this server's own pages only).
Nothing a request sends is run as code or opened as a path: plugins, models and folders come
only from :class:`~chemloop.services.settings.ServeSettings`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from chemloop import __version__
from chemloop.serve import api_campaigns, api_feedback, api_jobs, api_molecules, uploads
from chemloop.serve.deps import ClientRateLimit
from chemloop.serve.errors import SafeJSONResponse, add_error_handlers
from chemloop.serve.limits import BodySizeMiddleware, document_limits
from chemloop.serve.security import (
    ForwardedHeadersMiddleware,
    SecurityHeadersMiddleware,
    Sessions,
    TrustedProxies,
)
from chemloop.services.compute import ComputePool
from chemloop.services.settings import ServeSettings
from chemloop.services.workspace import Workspace

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The API app for ``settings`` (default: from the environment), with the web pages if present."""
    settings = settings or ServeSettings.from_env()
    workspace = Workspace.from_settings(settings)
    workspace.check_model()  # a wrong model fails at start, not at the first sample

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.workspace.close()  # the server is stopping: no orphaned job processes
        app.state.compute.close()

    app = FastAPI(
        title="chemloop",
        version=__version__,
        summary="Molecule design: sample, score, optimize, and run design-make-test campaigns.",
        default_response_class=SafeJSONResponse,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's own pages load Swagger UI and ReDoc from a CDN; /docs is the web app's
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.workspace = workspace
    _ = workspace.factory, workspace.jobs  # open the database and resume earlier jobs now
    app.state.compute_slots = threading.BoundedSemaphore(settings.max_busy_requests)
    app.state.compute = ComputePool(
        settings.max_busy_requests, settings.compute_timeout_s, settings.compute_memory_mb
    )
    app.state.rate_limit = ClientRateLimit(settings.rate_limit) if settings.rate_limit else None
    app.state.sessions = Sessions(settings.session_hours * 3600, settings.max_sessions)
    uploads.prune(settings)  # files a previous run left waiting
    app.add_middleware(BodySizeMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:  # added last: runs first, so every layer sees the real client
        app.add_middleware(ForwardedHeadersMiddleware, proxies=TrustedProxies(settings.trusted_proxies))
    add_error_handlers(app)
    for module in (api_molecules, api_jobs, api_campaigns, api_feedback):
        app.include_router(module.router)
    _add_web_pages(app)
    document_limits(app, settings)
    return app


def _add_web_pages(app: FastAPI) -> None:
    from chemloop.serve.web import router
    from chemloop.serve.web.api_docs import SWAGGER_URL, swagger_dir

    app.include_router(router)
    if (swagger := swagger_dir()) is not None:  # before /static, which would otherwise take its paths
        app.mount(SWAGGER_URL, StaticFiles(directory=swagger), name="swagger-ui")
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    db_url: str | None = None,
    runs_dir: Path | None = None,
    model: str | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the API with uvicorn until interrupted (what ``chemloop serve`` calls)."""
    import uvicorn

    settings = ServeSettings.from_env(db_url=db_url, runs_dir=runs_dir, model=model)
    app = create_app(settings)
    echo(f"chemloop API on http://{host}:{port}/api  (spec: /openapi.json, docs: /docs, web app: /)")
    if settings.generated_key:
        echo(f"API key for this run (set CHEMLOOP_API_KEY to choose one): {settings.api_key}")
    # uvicorn's own X-Forwarded-For handling trusts 127.0.0.1 by default; the app decides instead,
    # from the settings' trusted_proxies.
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
