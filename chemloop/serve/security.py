"""What the server trusts a request with: who the client is (forwarded headers only from the
operator's proxies), web sign-ins (random session tokens, never the API key, in a cookie), and the
headers that keep every page from being framed, sniffed or made to run scripts from elsewhere."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections.abc import Callable, Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --- the client behind a reverse proxy ------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _host(hop: str) -> str:
    """An address of ``X-Forwarded-For`` without its port (``1.2.3.4:80``, ``[::1]:80``)."""
    hop = hop.strip()
    if hop.startswith("["):
        return hop[1 : hop.find("]")] if "]" in hop else hop
    return hop.split(":")[0] if hop.count(":") == 1 else hop


class TrustedProxies:
    """The reverse proxies an operator put in front of the server (``trusted_proxies``)."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """Who sent the request: the connection's remote address, unless that is a trusted proxy;
        then the nearest address in ``X-Forwarded-For`` (read from the right, where each proxy
        appends the address it saw) that is not a trusted proxy. Addresses to the left of it were
        written by the client and are never believed."""
        if not self.trusts(peer):
            return peer
        hops = [_host(h) for value in forwarded_for for h in value.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer  # every hop a proxy of ours: the first one


class ForwardedHeadersMiddleware:
    """The client address and scheme from ``X-Forwarded-For`` / ``X-Forwarded-Proto``, for requests
    that come through one of the operator's proxies; installed only when ``trusted_proxies`` is set
    (the server itself is started with its own handling of these headers off)."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app, self.proxies = app, proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and peer and self.proxies.trusts(peer[0]):
            headers = [(k, v.decode("latin-1")) for k, v in scope["headers"]]
            forwarded = [v for k, v in headers if k == b"x-forwarded-for"]
            scope = dict(scope)
            scope["client"] = (self.proxies.client(peer[0], forwarded), 0)
            proto = [v for k, v in headers if k == b"x-forwarded-proto"]
            last = proto[-1].split(",")[-1].strip().lower() if proto else ""
            if last in ("http", "https") and scope["type"] == "http":
                scope["scheme"] = last
        await self.app(scope, receive, send)


# --- web sign-ins ---------------------------------------------------------------------------------


class Sessions:
    """Signed-in browsers: a random token per sign-in, kept in this process's memory as its SHA-256
    (a memory dump holds no usable token) with an expiry and the user who signed in; at most
    ``limit`` at once, the oldest dropped first. A restart signs everybody out."""

    def __init__(self, lifetime_s: float, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s, self.limit, self.clock = lifetime_s, limit, clock
        self._expiry: dict[bytes, float] = {}  # insertion order = sign-in order
        self._user: dict[bytes, str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "replace")).digest()

    def create(self, user: str = "admin") -> str:
        """A new sign-in of ``user`` (the server's shared key signs in as ``admin``)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            for digest in [d for d, until in self._expiry.items() if until <= now]:
                self._drop(digest)
            while len(self._expiry) >= self.limit:
                self._drop(next(iter(self._expiry)))
            digest = self._digest(token)
            self._expiry[digest] = now + self.lifetime_s
            self._user[digest] = user
        return token

    def _drop(self, digest: bytes) -> None:
        self._expiry.pop(digest, None)
        self._user.pop(digest, None)

    def user(self, token: str) -> str | None:
        """Who signed in with ``token``, or None if it is not a live sign-in."""
        digest = self._digest(token)
        with self._lock:
            until = self._expiry.get(digest)
            if until is not None and until <= self.clock():
                self._drop(digest)
                return None
            return self._user.get(digest) if until is not None else None

    def valid(self, token: str) -> bool:
        return self.user(token) is not None

    def end(self, token: str) -> None:
        with self._lock:
            self._drop(self._digest(token))

    def __len__(self) -> int:
        return len(self._expiry)


# --- response headers -----------------------------------------------------------------------------

# Pages load scripts, styles and images from this server only (depictions inline as data: URLs);
# no inline script or style, no plugins, no framing, forms post back here only.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": PAGE_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every response that does not set its own (a depiction or a
    download keeps its stricter policy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
