"""The per-client rate limit of the compute endpoints (score, sample, batch properties): counted per
remote address, 429 with Retry-After in the app's one error shape, off when the setting is empty."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from chemloop.errors import ChemloopError
from chemloop.serve.app import create_app
from chemloop.serve.settings import ServeSettings

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
        assert app.state.model is None
        # The cheap reads and the web app's pages are not limited.
        assert client.get("/api/molecules/properties", params={"smiles": "CCO"}).status_code == 200
        assert client.get("/api/health").status_code == 200
        assert client.get("/").status_code == 200
        # Another address has a count of its own.
        other = TestClient(app, client=("10.0.0.2", 123))
        assert other.post(SCORE[0], json=SCORE[1]).status_code == 200
        assert client.post(SCORE[0], json=SCORE[1]).status_code == 429


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
