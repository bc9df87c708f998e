"""Hostile and careless requests against a real `chemloop serve` process on loopback.

Each must get a clear 4xx within seconds while `/api/health` keeps answering within a second,
the server must still be alive at the end, and nothing stored may change.
"""

import concurrent.futures
import time

import httpx
import pytest

from chemloop.serve.live import server_process

# Every test talks to one real server process, whose start alone takes seconds.
pytestmark = pytest.mark.slow

KEY = "hostile-test-key-0123"
AUTH = {"X-API-Key": KEY}
SEED = [{"smiles": s, "value": v} for s, v in (("CCO", 5.1), ("c1ccccc1O", 6.2), ("CC(=O)Nc1ccc(O)cc1", 7.0))]
CAGE = "C12C3C4C1C5C2C3C45" * 6  # wildcard SMARTS matching on it grows ~1.6x per atom


def feedback_file(text: str) -> dict:
    return {"file": ("results.csv", text.encode(), "text/csv")}


def score(smiles: str, component) -> tuple:
    return "POST", "/api/score", {"json": {"smiles": [smiles], "components": [component]}}


def upload(text: str) -> tuple:
    options = {"files": feedback_file(text), "data": {"external": "true"}, "headers": AUTH}
    return "POST", "/api/campaigns/hostile/results", options


def rate(body: dict) -> tuple:
    return "POST", "/api/campaigns/hostile/ratings", {"json": body, "headers": AUTH}


def create(body: dict) -> tuple:
    return "POST", "/api/campaigns", {"json": body, "headers": AUTH}


CHAINS = "smiles,value\nCCO,1\n" + "C" * 3000 + ",2\nCCN,3\n" + "C" * 3000 + ",4\nCCC,5\n"
# (what, (method, path, request options), status expected, words the answer must hold)
HOSTILE = [
    ("a 60,000-character reference", score("CCO", {"type": "similarity", "params": {"smiles": "C" * 60_000}}),
     422, "60,000 characters"),
    ("101 alert catalogues", score("CCO", {"type": "alerts", "params": {"catalogs": ["PAINS"] * 101}}),
     422, "101 items"),
    ("an unknown alert catalogue", score("CCO", {"type": "alerts", "params": {"catalogs": ["PAINS", "X"]}}),
     422, "unknown alert catalog 'X'"),
    ("an exponential SMARTS", score(CAGE, {"type": "substructure", "params": {"smarts": "*~" * 40 + "[U]"}}),
     422, "compute_timeout_s"),
    ("a prompted sample past the time limit",
     ("POST", "/api/sample", {"json": {"num": 2000, "prompt": {"scaffold": "*c1ccccc1"}}}),
     422, "compute_timeout_s"),
    ("a name after a space", score("CC(=O)O c1ccccc1", "qed"), 422, "whitespace"),
    ("a non-ASCII SMILES", rate({"smiles": "CCOÖ", "rating": 3}), 422, "non-ASCII"),
    ("a rating of true", rate({"smiles": "CCO", "rating": True}), 422, "rating"),
    ("a 20,000-character cell", upload("smiles,value\n" + "C" * 20_000 + ",1\n"), 422, "20,000 characters"),
    ("3,000-atom chains", upload(CHAINS), 422, "3,000 characters"),
    ("a value of 1e300", upload("smiles,value\nCCN,1e300\n"), 422, "1e+06"),
    ("seed data with -1e300", create({"name": "other", "seed": [{"smiles": "CCO", "value": -1e300}]}),
     422, "value"),
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    env = {"CHEMLOOP_COMPUTE_TIMEOUT_S": "5", "CHEMLOOP_RATE_LIMIT": ""}
    database = f"sqlite:///{folder / 'c.db'}"
    with server_process(database, folder / "runs", KEY, env=env) as url, httpx.Client(base_url=url) as http:
        http.timeout = httpx.Timeout(60)
        created = http.post("/api/campaigns", json={"name": "hostile", "seed": SEED}, headers=AUTH)
        assert created.status_code == 201, created.text
        yield http


def stored(http: httpx.Client) -> dict:
    status = http.get("/api/campaigns/hostile").json()
    return {k: status[k] for k in ("molecules_tested", "ratings", "preferences", "seed_measurements")}


def health_seconds(http: httpx.Client) -> float:
    start = time.monotonic()
    assert http.get("/api/health").status_code == 200
    return time.monotonic() - start


@pytest.mark.parametrize(("what", "call", "expected", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_request_gets_a_clear_4xx_while_the_server_answers(server, what, call, expected, words):
    method, path, options = call
    before = stored(server)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        start = time.monotonic()
        answer = pool.submit(server.request, method, path, **options)
        health = []
        while not answer.done():
            health.append(health_seconds(server))
            time.sleep(0.2)
        response, seconds = answer.result(), time.monotonic() - start
    assert response.status_code == expected, response.text[:500]
    assert words in response.text, response.text[:500]
    assert seconds < 30, f"{what} took {seconds:.1f} s"
    assert max(health, default=0.0) < 1.0 and health_seconds(server) < 1.0
    assert stored(server) == before


def test_concurrent_imports_and_another_layout_of_the_same_rows(server):
    def send(text: str) -> httpx.Response:
        method, path, options = upload(text)
        return server.request(method, path, **options)

    rows = "smiles,value\nCCCN,4.2\nCc1ccccc1O,5.3\n"
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: send(rows), range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers if a.status_code != 200]
    assert sorted(a.json()["imported"] for a in answers) == [0, 0, 0, 0, 0, 2]
    crlf = send("value,smiles\r\n5.3,Oc1ccccc1C\r\n4.2,NCCC\r\n")
    assert (
        crlf.status_code == 200 and crlf.json()["imported"] == 0 and "already imported" in crlf.json()["note"]
    )
    assert health_seconds(server) < 1.0
