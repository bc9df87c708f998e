"""The HTTP API: round trips through TestClient and a live server on loopback, the API key on every
mutating endpoint, and 4xx bodies that name the offending field and value."""

import csv
import io
import re
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from rdkit import Chem
from rdkit.Chem import QED

from chemloop.serve.app import create_app
from chemloop.serve.deps import SESSION_COOKIE
from chemloop.serve.live import live_server
from chemloop.serve.web import api_docs
from chemloop.services.settings import ServeSettings

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}
SEED = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "c1ccc2ccccc2c1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]
# Small enough that a propose round takes seconds with the tiny model.
TINY_CAMPAIGN = {
    "campaign": {
        "batch": 3,
        "candidates": 200,
        "rl_steps": 1,
        "rl_batch_size": 16,
        "max_similarity": None,
        "constitution_filter": False,  # the tiny model's molecules are too crude to keep it
    },
    "reward": {"ensemble": 2, "hidden": 16, "epochs": 10, "cv_folds": 0},
}


def lab(smiles: str) -> float:
    return round(10 * QED.qed(Chem.MolFromSmiles(smiles)), 3)


@pytest.fixture(scope="module")
def settings(tmp_path_factory, tiny_run) -> ServeSettings:
    folder = tmp_path_factory.mktemp("serve")
    return ServeSettings(
        db_url=f"sqlite:///{folder / 'campaigns.db'}",
        api_key=KEY,
        runs_dir=folder / "runs",
        model=str(tiny_run),
        max_molecules=50,
        max_samples=200,
        max_body_bytes=20_000,
        max_budget=5_000,
    )


@pytest.fixture(scope="module")
def client(settings):
    with TestClient(create_app(settings)) as client:
        yield client


def problems(response: httpx.Response) -> list[dict]:
    return response.json()["detail"]


def named(response: httpx.Response, *loc) -> dict:
    """The problem of a 4xx body at ``loc`` (a prefix of its location)."""
    found = [p for p in problems(response) if tuple(p["loc"][: len(loc)]) == loc]
    assert found, f"no problem at {loc} in {response.json()}"
    return found[0]


def wait_for(client, job_id: str, until=("done", "failed", "cancelled"), timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in until or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


# --- molecules ----------------------------------------------------------------------------------


def test_sample_is_seeded_and_bounded(client):
    first = client.post("/api/sample", json={"num": 20, "seed": 3})
    assert first.status_code == 200
    body = first.json()
    assert len(body["molecules"]) == 20 and 0 <= body["validity"] <= 1
    again = client.post("/api/sample", json={"num": 20, "seed": 3}).json()
    assert [m["smiles"] for m in again["molecules"]] == [m["smiles"] for m in body["molecules"]]
    too_many = client.post("/api/sample", json={"num": 201})
    assert too_many.status_code == 422 and named(too_many, "body", "num")["input"] == 201


def test_score_names_components_and_values(client):
    response = client.post(
        "/api/score",
        json={
            "smiles": ["CCO", "c1ccccc1O"],
            "components": [
                "qed",
                {"type": "mw", "transform": {"type": "double_sigmoid", "low": 20, "high": 300}},
            ],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["components"] == ["qed", "mw"]
    first = body["results"][0]
    assert first["canonical"] == "CCO" and first["raw"]["qed"] == pytest.approx(
        QED.qed(Chem.MolFromSmiles("CCO"))
    )
    assert 0 < first["score"] <= 1


@pytest.mark.parametrize(
    ("components", "loc", "words"),
    [
        (["qed", "no_such_component"], ("body", "components", 1), "unknown scoring component"),
        ([{"type": "python"}], ("body", "components", 0), "runs code"),
        ([{"type": "command"}], ("body", "components", 0), "runs code"),
        ([{"type": "reward_model", "params": {"path": "/etc"}}], ("body", "components", 0), "names a file"),
        ([{"type": "qed", "params": {"bogus": 1}}], ("body", "components", 0), "bogus"),
        ([{"type": "qed", "path": "plugin.py"}], ("body", "components", 0), "Extra inputs"),
        (["qed", {"type": "vina", "params": {"target": "DRD2"}}], ("body", "components", 1), "optimize job"),
        (
            [{"type": "similarity", "params": {"smiles": "CCO", "bits": 10**8}}],
            ("body", "components", 0),
            "limit",
        ),
        (
            [{"type": "vina", "params": {"ray_address": "10.0.0.1:6379"}}],
            ("body", "components", 0),
            "server's",
        ),
    ],
)
def test_refused_components_are_named(client, components, loc, words):
    response = client.post("/api/score", json={"smiles": ["CCO"], "components": components})
    assert response.status_code == 422
    problem = named(response, *loc)
    assert words in problem["msg"] and problem["input"] is not None


def test_invalid_smiles_are_named_by_index(client):
    response = client.post("/api/score", json={"smiles": ["CCO", "C1CC", "xyz"], "components": ["qed"]})
    assert response.status_code == 422
    assert [(p["loc"], p["input"]) for p in problems(response)] == [
        (["body", "smiles", 1], "C1CC"),
        (["body", "smiles", 2], "xyz"),
    ]
    for path in ("/api/molecules/properties", "/api/molecules/depict"):
        response = client.get(path, params={"smiles": "C1CC"})
        assert response.status_code == 422 and named(response, "query", "smiles")["input"] == "C1CC"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("CC(=O)O c1ccccc1", "whitespace"),  # RDKit would read acetic acid named 'c1ccccc1'
        ("c1ccccc1 benzene", "whitespace"),
        ("CCOÖ", "non-ASCII"),
    ],
)
def test_a_smiles_field_holds_one_molecule_and_nothing_else(client, text, words):
    for path, body in (
        ("/api/score", {"smiles": [text], "components": ["qed"]}),
        ("/api/campaigns/flow/ratings", {"smiles": text, "rating": 3}),
    ):
        response = client.post(path, json=body, headers=AUTH)
        assert response.status_code == 422, response.text
        assert words in str(response.json()["detail"])


def test_component_params_and_values_are_bounded(client):
    reference = client.post(
        "/api/score",
        json={"smiles": ["CCO"], "components": [{"type": "similarity", "params": {"smiles": "C" * 5000}}]},
    )
    assert reference.status_code == 422 and "5,000 characters" in str(reference.json()["detail"])
    catalogues = client.post(
        "/api/score",
        json={"smiles": ["CCO"], "components": [{"type": "alerts", "params": {"catalogs": ["PAINS"] * 101}}]},
    )
    assert catalogues.status_code == 422 and "101 items" in str(catalogues.json()["detail"])
    huge = client.post(
        "/api/campaigns", json={"name": "huge", "seed": [{"smiles": "CCO", "value": 1e300}]}, headers=AUTH
    )
    assert huge.status_code == 422 and named(huge, "body", "seed", 0, "value")
    truthy = client.post("/api/campaigns/flow/ratings", json={"smiles": "CCO", "rating": True}, headers=AUTH)
    assert truthy.status_code == 422 and named(truthy, "body", "rating")


def test_request_limits(client):
    too_many = client.post("/api/score", json={"smiles": ["C"] * 51, "components": ["qed"]})
    assert too_many.status_code == 422
    assert (
        named(too_many, "body", "smiles")["input"] == 51 and "50" in named(too_many, "body", "smiles")["msg"]
    )
    long_smiles = client.post("/api/score", json={"smiles": ["C" * 501], "components": ["qed"]})
    assert long_smiles.status_code == 422 and named(long_smiles, "body", "smiles", 0)
    big = client.post("/api/score", json={"smiles": ["C" * 480] * 45, "components": ["qed"]})
    assert big.status_code == 413 and "20000" in named(big, "body")["msg"]

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        yield b'{"smiles": ['
        for _ in range(1000):
            yield b'"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",'
        yield b'"C"], "components": ["qed"]}'

    streamed = client.post("/api/score", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_a_busy_server_answers_429_with_retry_after(client):
    """Every compute slot taken (here: held by the test) → 429 at once; freed → served again."""
    slots = client.app.state.compute_slots
    held = [slots.acquire(blocking=False) for _ in range(2)]  # the default: 2 slots
    assert all(held) and not slots.acquire(blocking=False)
    try:
        for path, body in [
            ("/api/score", {"smiles": ["CCO"], "components": ["qed"]}),
            ("/api/sample", {"num": 2}),
            ("/api/molecules/properties", {"smiles": ["CCO"]}),
        ]:
            busy = client.post(path, json=body)
            assert busy.status_code == 429 and busy.headers["Retry-After"] == "1", path
            assert problems(busy)[0]["type"] == "busy" and "server busy" in problems(busy)[0]["msg"]
        assert client.get("/api/molecules/properties", params={"smiles": "CCO"}).status_code == 200
    finally:
        for _ in held:
            slots.release()
    assert client.post("/api/score", json={"smiles": ["CCO"], "components": ["qed"]}).status_code == 200


def test_depict_properties_components(client):
    svg = client.get("/api/molecules/depict", params={"smiles": "c1ccccc1O", "width": 200, "height": 150})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<?xml") and "<svg" in svg.text
    one = client.get("/api/molecules/properties", params={"smiles": "CC(=O)Nc1ccc(O)cc1"}).json()
    assert one["formula"] == "C8H9NO2" and one["hbd"] == 2
    many = client.post("/api/molecules/properties", json={"smiles": ["CCO", "O=C(O)c1ccccc1O"]})
    assert [p["canonical"] for p in many.json()] == ["CCO", "O=C(O)c1ccccc1O"]
    listed = client.get("/api/components").json()
    assert {"qed", "sa_score", "alerts"} <= {c["name"] for c in listed["components"]}
    assert "sigmoid" in listed["transforms"]


# --- the API key ----------------------------------------------------------------------------------

MUTATING = [
    ("post", "/api/campaigns", {"json": {"name": "x"}}),
    ("post", "/api/campaigns/x/propose", {"json": {}}),
    ("post", "/api/campaigns/x/results", {"files": {"file": ("r.csv", b"smiles,value\nCCO,1\n")}}),
    (
        "post",
        "/api/campaigns/x/preferences",
        {"json": {"smiles_a": "CCO", "smiles_b": "CCN", "preferred": "a"}},
    ),
    ("post", "/api/campaigns/x/ratings", {"json": {"smiles": "CCO", "rating": 3}}),
    ("post", "/api/jobs/optimize", {"json": {"score": {"components": ["qed"]}}}),
    ("post", "/api/jobs/0123456789ab/cancel", {}),
    ("post", "/api/campaigns/x/preferences/undo", {}),
    ("post", "/api/campaigns/x/judged/1/overrule", {}),
    ("post", "/api/campaigns/x/molecules/fedcba9876543210/notes", {"json": {"text": "a note"}}),
    ("post", "/api/campaigns/x/archive", {}),
    ("post", "/api/campaigns/x/unarchive", {}),
    ("delete", "/api/campaigns/x?confirm=x", {}),
]
# What the spec calls the path parameters of MUTATING's paths.
PATH_PARAMS = {
    "/x": "/{name}",
    "0123456789ab": "{job_id}",
    "/1/": "/{preference_id}/",
    "fedcba9876543210": "{key}",
}


@pytest.mark.parametrize(("method", "path", "kwargs"), MUTATING, ids=[p for _, p, _ in MUTATING])
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-000"}, {"Authorization": "Bearer wrong"}])
def test_mutating_endpoints_need_the_key(client, method, path, kwargs, headers):
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 401, response.text
    assert "API key" in response.json()["detail"]


def test_every_mutating_operation_declares_the_key(client):
    spec = client.get("/openapi.json").json()
    secured = {(m, p) for p, ops in spec["paths"].items() for m, op in ops.items() if op.get("security")}
    expected = set()
    for method, path, _ in MUTATING:
        path = path.split("?")[0]
        for value, param in PATH_PARAMS.items():
            path = path.replace(value, param)
        expected.add((method, path))
    assert secured == expected


def test_bearer_token_and_cookie_are_accepted(client):
    assert (
        client.post(
            "/api/campaigns/nope/ratings",
            json={"smiles": "CCO", "rating": 3},
            headers={"Authorization": f"Bearer {KEY}"},
        ).status_code
        == 404
    )
    signed_in = TestClient(client.app)
    assert signed_in.post("/sign-in", data={"key": KEY}, follow_redirects=False).status_code == 303
    response = signed_in.post("/api/campaigns/nope/ratings", json={"smiles": "CCO", "rating": 3})
    assert response.status_code == 404 and named(response, "path", "name")["input"] == "nope"
    # The cookie holds a session token the server handed out; the key itself in it is nothing.
    key_cookie = TestClient(client.app, cookies={SESSION_COOKIE: KEY})
    assert (
        key_cookie.post("/api/campaigns/nope/ratings", json={"smiles": "CCO", "rating": 3}).status_code == 401
    )


@pytest.mark.parametrize(
    "unusable",
    [
        {"X-API-Key": ""},
        {"X-API-Key": " "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
    ids=["empty-key", "blank-key", "basic", "empty-bearer"],
)
def test_a_cookie_request_from_another_origin_is_refused_whatever_else_it_carries(client, unusable):
    signed_in = TestClient(client.app)
    signed_in.post("/sign-in", data={"key": KEY})
    rating = {"smiles": "CCO", "rating": 3}
    for origin in ({"Origin": "http://localhost:3000"}, {"Sec-Fetch-Site": "same-site"}):
        forged = signed_in.post("/api/campaigns/nope/ratings", json=rating, headers={**unusable, **origin})
        assert forged.status_code == 403, (unusable, origin)
    # From the server's own pages it goes through (404: no such campaign).
    own = signed_in.post(
        "/api/campaigns/nope/ratings", json=rating, headers={**unusable, "Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 404
    # A real key in a header is not a browser's ambient credential: no origin check.
    keyed = client.post(
        "/api/campaigns/nope/ratings", json=rating, headers={**AUTH, "Origin": "http://elsewhere"}
    )
    assert keyed.status_code == 404


def test_api_docs_load_nothing_from_elsewhere(client, monkeypatch):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(sources) == 3 and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert all(client.get(s).status_code == 200 for s in sources)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # the page's own script is a file too
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN-loaded pages are off
    # Without the package that ships Swagger UI: a page that points at the spec, still nothing remote.
    monkeypatch.setattr(api_docs, "swagger_dir", lambda: None)
    bare = client.get("/docs")
    assert bare.status_code == 200 and 'href="/openapi.json"' in bare.text and "<script" not in bare.text


# --- campaigns ------------------------------------------------------------------------------------


def results_csv(rows: list[list], header=("smiles", "value")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def test_campaign_requests_cannot_name_files_models_or_plugins(client):
    for section, loc in (
        ({"campaign": {"seed_data": "/etc/passwd"}}, ("body", "campaign", "seed_data")),
        ({"campaign": {"model": "/tmp/evil"}}, ("body", "campaign", "model")),
        ({"score": {"components": [{"type": "python"}]}}, ("body", "score", "components", 0)),
        ({"campaign": {"candidates": 10_000}}, ("body", "campaign", "candidates")),
    ):
        response = client.post("/api/campaigns", json={"name": "refused", **section}, headers=AUTH)
        assert response.status_code == 422, response.text
        assert named(response, *loc)
    bad_seed = client.post(
        "/api/campaigns",
        json={"name": "refused", "seed": [{"smiles": "CCO", "value": 1}, {"smiles": "C1CC", "value": 2}]},
        headers=AUTH,
    )
    assert bad_seed.status_code == 422 and named(bad_seed, "body", "seed", 1)["input"] == "C1CC"
    assert client.get("/api/campaigns/refused").status_code == 404  # nothing was created


@pytest.mark.slow
def test_campaign_flow(client):
    seed = [{"smiles": s, "value": lab(s)} for s in SEED]
    created = client.post(
        "/api/campaigns", json={"name": "flow", "seed": seed, **TINY_CAMPAIGN}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    assert created.json()["seed_measurements"] == len(SEED)
    again = client.post("/api/campaigns", json={"name": "flow"}, headers=AUTH)
    assert again.status_code == 409 and named(again, "body", "name")["input"] == "flow"
    assert "flow" in [c["campaign"] for c in client.get("/api/campaigns").json()]

    # Feedback from chemists: stored at once, used by the next fit.
    preference = {"smiles_a": "CCO", "smiles_b": "c1ccccc1O", "preferred": "b"}
    assert client.post("/api/campaigns/flow/preferences", json=preference, headers=AUTH).status_code == 201
    rating = client.post("/api/campaigns/flow/ratings", json={"smiles": "OCC", "rating": 4}, headers=AUTH)
    assert rating.status_code == 201 and rating.json()["smiles"] == "CCO"  # canonical
    bad = client.post("/api/campaigns/flow/ratings", json={"smiles": "C1CC", "rating": 4}, headers=AUTH)
    assert bad.status_code == 422 and named(bad, "body", "smiles")["input"] == "C1CC"
    assert (
        client.post(
            "/api/campaigns/flow/ratings", json={"smiles": "CCO", "rating": 6}, headers=AUTH
        ).status_code
        == 422
    )
    status = client.get("/api/campaigns/flow").json()
    assert (status["preferences"], status["ratings"], status["reward_model_stale"]) == (1, 1, True)

    # Propose as a job, then download its picks.
    started = client.post("/api/campaigns/flow/propose", json={"batch": 3}, headers=AUTH)
    assert started.status_code == 202 and started.json()["kind"] == "propose"
    job = wait_for(client, started.json()["id"])
    assert job["status"] == "done", job["error"]
    assert "proposals.csv" in job["files"]
    download = client.get(f"/api/jobs/{job['id']}/files/proposals.csv")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    proposed = [row["smiles"] for row in csv.DictReader(io.StringIO(download.text))]
    assert len(proposed) == 3

    # Results: a preview shows every bad row and stores nothing; then the import.
    broken = results_csv([[proposed[0], lab(proposed[0])], ["C1CC", 2.0], [proposed[1], "n/a"]])
    preview = client.post(
        "/api/campaigns/flow/results",
        files={"file": ("round1.csv", broken)},
        data={"dry_run": "true"},
        headers=AUTH,
    ).json()
    assert preview["ok"] is False and [p["row"] for p in preview["problems"]] == [3, 4]
    refused = client.post("/api/campaigns/flow/results", files={"file": ("round1.csv", broken)}, headers=AUTH)
    assert refused.status_code == 422 and {p["loc"][-1] for p in problems(refused)} == {"row 3", "row 4"}
    outsider = results_csv([["CCCCCCCCCC", 1.0]])
    stranger = client.post("/api/campaigns/flow/results", files={"file": ("x.csv", outsider)}, headers=AUTH)
    assert stranger.status_code == 422 and named(stranger, "body", "file", "row 2")["input"] == "CCCCCCCCCC"
    good = results_csv([[s, lab(s)] for s in proposed])
    preview = client.post(
        "/api/campaigns/flow/results",
        files={"file": ("round1.csv", good)},
        data={"dry_run": "true"},
        headers=AUTH,
    ).json()
    assert preview["ok"] and preview["kind"] == "values" and preview["rows"] == 3
    imported = client.post("/api/campaigns/flow/results", files={"file": ("round1.csv", good)}, headers=AUTH)
    assert imported.status_code == 200 and imported.json()["imported"] == 3
    status = client.get("/api/campaigns/flow").json()
    assert status["rounds"][0]["measured"] == 3 and status["molecules_tested"] == len(SEED) + 3
    grid = client.get("/api/campaigns/flow/molecules").json()
    by_smiles = {m["smiles"]: m for m in grid}
    assert all(by_smiles[s]["round"] == 1 and by_smiles[s]["value"] == lab(s) for s in proposed)

    # Downloads cannot leave the job's folder (a literal ".." never arrives: clients resolve it first).
    for name in (".job.json", "..%2Fjob.json", "%2Fetc%2Fpasswd", "%2e%2e", "missing.csv", "a%5Cb"):
        response = client.get(f"/api/jobs/{job['id']}/files/{name}")
        assert 400 <= response.status_code < 500, name
    assert client.get(f"/api/jobs/{job['id']}/files//etc/passwd").status_code in (404, 422)
    assert client.get("/api/jobs/..%2F..%2Fetc/files/passwd").status_code in (404, 422)
    assert client.get("/api/jobs/ffffffffffff").status_code == 404


@pytest.mark.slow
def test_optimize_job_progress_and_cancel(client):
    over = client.post(
        "/api/jobs/optimize", json={"run": {"budget": 5_001}, "score": {"components": ["qed"]}}, headers=AUTH
    )
    assert over.status_code == 422 and named(over, "body", "run", "budget")["input"] == 5_001
    no_weight = client.post(
        "/api/jobs/optimize",
        json={"score": {"components": [{"type": "alerts", "filter": True}]}},
        headers=AUTH,
    )
    assert no_weight.status_code == 422 and "weight" in problems(no_weight)[0]["msg"]
    body = {
        "run": {"budget": 5_000, "batch_size": 16, "patience": 10_000, "seed": 1},
        "score": {"components": ["qed"]},
    }
    started = client.post("/api/jobs/optimize", json=body, headers=AUTH)
    assert started.status_code == 202 and started.json()["params"] == {"budget": 5_000}
    job_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while not client.get(f"/api/jobs/{job_id}").json()["progress"] and time.monotonic() < deadline:
        time.sleep(0.3)
    progress = client.get(f"/api/jobs/{job_id}").json()["progress"]
    assert progress["step"] >= 1 and progress["oracle_calls"] >= 0 and progress["budget"] == 5_000
    cancelled = client.post(f"/api/jobs/{job_id}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert job_id in [j["id"] for j in client.get("/api/jobs").json()]


# --- a live server ----------------------------------------------------------------------------------


def test_live_server_round_trip(settings):
    with live_server(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/api/health").json()["status"] == "ok"
        scored = http.post(
            "/api/score", json={"smiles": ["CCO"], "components": ["qed", "sa_score", "alerts"]}
        )
        assert scored.status_code == 200 and scored.json()["results"][0]["raw"]["alerts"] == 1.0
        sampled = http.post("/api/sample", json={"num": 5})
        assert sampled.status_code == 200 and len(sampled.json()["molecules"]) == 5
        name = {"name": "live", "seed": [{"smiles": s, "value": lab(s)} for s in SEED[:3]]}
        assert http.post("/api/campaigns", json=name).status_code == 401
        assert http.post("/api/campaigns", json=name, headers=AUTH).status_code == 201
        assert http.get("/api/campaigns/live").json()["seed_measurements"] == 3
