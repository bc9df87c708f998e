"""The per-client rate limit of the compute endpoints (score, sample, batch properties): counted per
remote address (X-Forwarded-For only from a trusted proxy), 429 with Retry-After in the app's one
error shape, off when the setting is empty."""

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from chemloop.errors import ChemloopError
from chemloop.serve.app import create_app
from chemloop.serve.live import live_server
from chemloop.serve.security import ForwardedHeadersMiddleware, TrustedProxies
from chemloop.services.settings import ServeSettings

SCORE = ("/api/score", {"smiles": ["CCO"], "components": ["qed"]})
PROPERTIES = ("/api/molecules/properties", {"smiles": ["CCO"]})


def make_app(tmp_path, rate_limit):
    # The shipped prior: create_app only checks it exists, and scoring never loads it.
    settings = ServeSettings(
        db_url=f"sqlite:///{tmp_path / 'campaigns.db'}",
        api_key="rate-limit-key-0123",
        runs_dir=tmp_path / "runs",
        rate_limit=rate_limit,
    )
    return create_app(settings)


@pytest.mark.slow
def test_the_fourth_compute_request_of_a_client_gets_429(tmp_path):
    app = make_app(tmp_path, "3/minute")
    with TestClient(app) as client:
        for path, body in (SCORE, PROPERTIES, SCORE):  # one count shared by the compute endpoints
            assert client.post(path, json=body).status_code == 200, path
        limited = client.post("/api/sample", json={"num": 2})  # refused before the model is loaded
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        (problem,) = limited.json()["detail"]
        assert problem["type"] == "rate_limited" and problem["loc"] == [] and problem["input"] is None
        assert "per-client rate limit" in problem["msg"] and "3/minute" in problem["msg"]
        assert not app.state.workspace.model_loaded
        # The cheap reads and the web app's pages are not limited.
        assert client.get("/api/molecules/properties", params={"smiles": "CCO"}).status_code == 200
        assert client.get("/api/health").status_code == 200
        assert client.get("/").status_code == 200
        # Another address has a count of its own.
        other = TestClient(app, client=("10.0.0.2", 123))
        assert other.post(SCORE[0], json=SCORE[1]).status_code == 200
        assert client.post(SCORE[0], json=SCORE[1]).status_code == 429


@pytest.mark.slow
@pytest.mark.parametrize("off", [None, ""])
def test_no_limit_when_the_setting_is_empty(tmp_path, off):
    app = make_app(tmp_path, off)
    assert app.state.settings.rate_limit is None
    with TestClient(app) as client:
        assert all(client.post(SCORE[0], json=SCORE[1]).status_code == 200 for _ in range(8))


@pytest.mark.parametrize("bad", ["lots", "3/fortnight", "0/minute", "5/minute;100/hour"])
def test_a_malformed_limit_fails_at_settings_naming_the_field(tmp_path, bad):
    with pytest.raises(ValidationError, match="rate_limit"):
        make_app(tmp_path, bad)


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHEMLOOP_RATE_LIMIT", "")
    assert ServeSettings.from_env().rate_limit is None
    monkeypatch.setenv("CHEMLOOP_RATE_LIMIT", "10/second")
    assert ServeSettings.from_env().rate_limit == "10/second"
    monkeypatch.delenv("CHEMLOOP_RATE_LIMIT")
    assert ServeSettings.from_env().rate_limit == "120/minute"
    monkeypatch.setenv("CHEMLOOP_RATE_LIMIT", "lots")  # a user error naming the setting, not a traceback
    with pytest.raises(ChemloopError, match="rate_limit: .*'lots' is not a rate limit"):
        ServeSettings.from_env()


def test_the_spec_documents_the_429(tmp_path):
    spec = make_app(tmp_path, "3/minute").openapi()
    for path in ("/api/score", "/api/sample", "/api/molecules/properties"):
        assert "rate limit" in spec["paths"][path]["post"]["responses"]["429"]["description"], path


# --- who the client is: forwarded headers only from the operator's proxies -------------------------

PROPS = ("/api/molecules/properties", {"smiles": ["C"]})


@pytest.mark.slow
def test_a_forwarded_for_header_does_not_make_a_new_client(tmp_path):
    """Through uvicorn, as `chemloop serve` runs: a client on loopback that invents X-Forwarded-For
    addresses is still the one client its connection comes from."""
    app = make_app(tmp_path, "1/minute")
    with live_server(app) as url:
        first = httpx.post(url + PROPS[0], json=PROPS[1], headers={"X-Forwarded-For": "10.0.0.1"}, timeout=60)
        second = httpx.post(
            url + PROPS[0], json=PROPS[1], headers={"X-Forwarded-For": "10.0.0.2"}, timeout=60
        )
    assert (first.status_code, second.status_code) == (200, 429)


@pytest.mark.slow
def test_a_trusted_proxy_names_the_client(tmp_path):
    settings = ServeSettings(
        db_url=f"sqlite:///{tmp_path / 'campaigns.db'}",
        api_key="rate-limit-key-0123",
        runs_dir=tmp_path / "runs",
        rate_limit="1/minute",
        trusted_proxies=["127.0.0.0/8"],
    )
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as proxy:

        def via_proxy(forwarded_for: str) -> int:
            return proxy.post(PROPS[0], json=PROPS[1], headers={"X-Forwarded-For": forwarded_for}).status_code

        assert via_proxy("10.0.0.1") == 200
        assert via_proxy("10.0.0.1") == 429
        # What the client wrote before the proxy's own entry is not believed.
        assert via_proxy("203.0.113.9, 10.0.0.1") == 429
        assert via_proxy("10.0.0.2") == 200


def _seen_by_app(proxies: list[str], peer: str, headers: dict[str, str]) -> tuple[str, str]:
    """(client host, scheme) the app sees behind ForwardedHeadersMiddleware."""
    seen = {}

    async def app(scope, receive, send):
        seen.update(client=scope["client"][0], scheme=scope["scheme"])

    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 4000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(ForwardedHeadersMiddleware(app, TrustedProxies(proxies))(scope, None, None))
    return seen["client"], seen["scheme"]


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("127.0.0.1", {"X-Forwarded-For": "10.0.0.7", "X-Forwarded-Proto": "https"}, ("10.0.0.7", "https")),
        ("127.0.0.1", {"X-Forwarded-For": "1.2.3.4, 10.0.0.7:5123"}, ("10.0.0.7", "http")),
        ("127.0.0.1", {"X-Forwarded-For": "1.2.3.4, 10.0.0.7, 192.168.1.2"}, ("10.0.0.7", "http")),
        ("127.0.0.1", {"X-Forwarded-For": "[2001:db8::1]:443"}, ("2001:db8::1", "http")),
        ("127.0.0.1", {}, ("127.0.0.1", "http")),
        # Not from a proxy: the headers are the client's own words, and ignored.
        ("10.9.9.9", {"X-Forwarded-For": "10.0.0.7", "X-Forwarded-Proto": "https"}, ("10.9.9.9", "http")),
    ],
)
def test_forwarded_headers_are_read_right_to_left_past_trusted_proxies(peer, headers, expected):
    assert _seen_by_app(["127.0.0.1", "192.168.0.0/16"], peer, headers) == expected


def test_trusted_proxies_come_from_the_environment(monkeypatch):
    assert ServeSettings.from_env().trusted_proxies == []  # the default: nobody's headers are believed
    monkeypatch.setenv("CHEMLOOP_TRUSTED_PROXIES", "127.0.0.1, 10.1.2.3/8 ::1")
    assert ServeSettings.from_env().trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    monkeypatch.setenv("CHEMLOOP_TRUSTED_PROXIES", "localhost")
    with pytest.raises(ChemloopError, match="trusted_proxies.*'localhost' is not an IP address"):
        ServeSettings.from_env()
