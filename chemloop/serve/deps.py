"""FastAPI dependencies shared by the API routers and the web pages: settings, the workspace the
operations share (database, jobs, model), compute slots and rate limits, and the check for
everything that changes state: the API key, or a web sign-in from this server's own pages."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from chemloop.services import users
from chemloop.services.errors import FieldError
from chemloop.services.settings import ServeSettings
from chemloop.services.workspace import Workspace

KEY_HEADER = "X-API-Key"
# The web app's sign-in: a random session token (never the key), HttpOnly and SameSite=Strict.
SESSION_COOKIE = "chemloop_session"


def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def get_workspace(request: Request) -> Workspace:
    return request.app.state.workspace


class ClientRateLimit:
    """A rate limit (``120/minute``) per client, counted in a moving window in this process's memory.

    Built on ``limits`` directly, not through slowapi: slowapi binds its one limiter to routes with a
    decorator when the router modules are imported, while here the limit comes from the settings that
    :func:`~chemloop.serve.app.create_app` gets, and each app must count on its own (tests build
    several, with different limits, in one process).
    """

    def __init__(self, limit: str) -> None:
        self.item = parse(limit)
        self.window = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, client: str) -> int | None:
        """Count one request of ``client``: None if it is within the limit, else seconds to wait."""
        if self.window.hit(self.item, client):
            return None
        free_at = self.window.get_window_stats(self.item, client).reset_time  # its oldest request expires
        return max(1, math.ceil(free_at - time.time()))


def client_address(request: Request) -> str:
    """Who a rate limit counts: the connection's remote address. Not the API key: scoring or
    sampling needs none. ``X-Forwarded-For``
    names the client only for requests from a proxy in the server's ``trusted_proxies``
    (:class:`~chemloop.serve.security.ForwardedHeadersMiddleware` has then put it here)."""
    return request.client.host if request.client else "unknown"


def client_rate_limit(request: Request) -> None:
    """429 with Retry-After when this client is over the server's ``rate_limit`` of compute requests."""
    limiter: ClientRateLimit | None = request.app.state.rate_limit
    wait = limiter.hit(client_address(request)) if limiter else None
    if wait is not None:
        limit = request.app.state.settings.rate_limit
        message = (
            f"per-client rate limit: {limit} score/sample/properties requests per client address; "
            f"retry in {wait} s"
        )
        raise FieldError((), None, message, kind="rate_limited", retry_after=wait)


def compute_slot(request: Request, _: Annotated[None, Depends(client_rate_limit)]) -> Iterator[None]:
    """Hold one of the server's compute slots while a request scores or samples (after the client's
    rate limit is checked, so a client over it never takes a slot).

    When all are taken the request gets 429 with Retry-After at once: a burst of heavy requests
    then waits at the clients instead of piling up threads that share the same cores.
    """
    slots: threading.BoundedSemaphore = request.app.state.compute_slots
    if not slots.acquire(blocking=False):
        limit = request.app.state.settings.max_busy_requests
        message = f"server busy: {limit} scoring/sampling requests are running; retry shortly"
        raise FieldError((), None, message, kind="busy", retry_after=1)
    try:
        yield
    finally:
        slots.release()


ComputeSlot = Depends(compute_slot)
BUSY_RESPONSE = {
    429: {
        "description": "every compute slot is taken, or this client address is over the server's "
        "per-client rate limit; retry after Retry-After seconds"
    }
}


def _credential(request: Request) -> tuple[str, str] | None:
    """What a request authenticates with: ``("key", …)`` for the API key in ``X-API-Key`` or as a
    bearer token, ``("session", …)`` for the web app's sign-in cookie. An empty header, or an
    ``Authorization`` that is not a bearer token, carries nothing and does not hide the cookie."""
    header = request.headers.get(KEY_HEADER, "").strip()
    if header:
        return "key", header
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key", token.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    return ("session", cookie) if cookie else None


def _identify(request: Request) -> tuple[str, str] | None:
    """``(how, user)`` for a request that carries a key (the server's shared key is ``admin``, a
    named user's key is theirs) or a live web sign-in, else None. Looked up once per request."""
    if hasattr(request.state, "identity"):
        return request.state.identity
    credential, identity = _credential(request), None
    if credential is not None:
        how, secret = credential
        workspace = get_workspace(request)
        if how == "key":
            user = users.identify(workspace, secret, request.app.state.settings.api_key)
        else:
            user = request.app.state.sessions.user(secret)
            # A user removed since signing in (by `chemloop users remove`, in another process) is out.
            if user is not None and not users.exists(workspace, user):
                request.app.state.sessions.end(secret)
                user = None
        identity = (how, user) if user is not None else None
    request.state.identity = identity
    return identity


def authenticated(request: Request) -> str | None:
    """``"key"`` when the request carries the server's API key or a user's key, ``"session"`` when it
    carries a live web sign-in, else None."""
    identity = _identify(request)
    return identity[0] if identity else None


def current_user(request: Request) -> str | None:
    """Who the request is from: a user's name, ``admin`` for the server's shared key, None when it
    carries no valid credential (reading needs none)."""
    identity = _identify(request)
    return identity[1] if identity else None


def has_valid_key(request: Request) -> bool:
    """Whether the request may change state (the API key, or a web sign-in)."""
    return authenticated(request) is not None


# Declared so the OpenAPI spec shows the scheme; require_key also accepts a bearer token or the cookie.
_key_scheme = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="the server's API key")


def cross_site(request: Request) -> bool:
    """Whether a browser sent this request from another origin. SameSite=Strict keeps the cookie from
    other sites, but a page on another port of the same host is the same *site*: the browser's
    ``Sec-Fetch-Site`` (or ``Origin``) tells them apart."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")  # "none": typed into the address bar
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != request.headers.get("host")


def refuse_cross_site(request: Request) -> None:
    """403 for a browser's request from another origin (cross-site request forgery)."""
    if cross_site(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="a request from another origin may not change state here"
        )


def require_key(request: Request, _: Annotated[str | None, Security(_key_scheme)] = None) -> None:
    """401 unless the request carries the server's API key, a user's key or a web sign-in; 403 when
    a sign-in (the cookie, whatever other headers came with it) comes from another origin."""
    how = authenticated(request)
    if how is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"this endpoint changes state and needs the API key (header {KEY_HEADER})",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if how == "session":
        refuse_cross_site(request)


Settings = Annotated[ServeSettings, Depends(get_settings)]
Work = Annotated[Workspace, Depends(get_workspace)]
RequireKey = Depends(require_key)


def signed_in_user(request: Request, _: Annotated[None, Depends(require_key)]) -> str:
    """The user of a request that changes state (after :func:`require_key` let it through)."""
    return current_user(request) or users.ADMIN


User = Annotated[str, Depends(signed_in_user)]
