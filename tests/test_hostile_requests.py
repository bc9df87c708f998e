"""Requests that try to hold the server: their chemistry runs in worker processes that a time
limit stops, a memory cap bounds and a crash does not take the server down with."""

import os
import threading
import time

import httpx
import pytest

from chemloop.serve.app import create_app
from chemloop.serve.live import live_server
from chemloop.services.compute import ComputeLimitError, ComputePool
from chemloop.services.settings import ServeSettings


@pytest.fixture(scope="module")
def pool():
    pool = ComputePool(workers=1, timeout_s=3, memory_mb=512)
    yield pool
    pool.close()


@pytest.mark.slow
def test_a_call_past_the_time_limit_is_stopped_and_the_pool_goes_on(pool):
    start = time.monotonic()
    with pytest.raises(ComputeLimitError, match="limit of 3 s"):
        pool.run(time.sleep, 60)
    assert time.monotonic() - start < 30
    assert pool.run(sum, [1, 2, 3]) == 6


def test_a_crash_costs_only_the_worker(pool):
    with pytest.raises(ComputeLimitError, match="crashed its worker process"):
        pool.run(os._exit, 3)
    assert pool.run(max, [4, 5]) == 5


def test_memory_past_the_cap_is_refused(pool):
    with pytest.raises(ComputeLimitError, match="512 MB"):
        pool.run(bytearray, 2**31)
    assert pool.run(len, "abc") == 3


@pytest.mark.slow
def test_an_exponential_smarts_gets_a_422_while_the_server_answers(tmp_path, tiny_run):
    settings = ServeSettings(
        db_url=f"sqlite:///{tmp_path / 'c.db'}",
        api_key="test-key-0123456789",
        runs_dir=tmp_path / "runs",
        model=str(tiny_run),
        compute_timeout_s=5,
        rate_limit=None,
    )
    # On a cage of fused cubanes, matching time grows ~1.6x per wildcard atom (24: ~3 s; 40: hours).
    hostile = {
        "smiles": ["C12C3C4C1C5C2C3C45" * 6],
        "components": [{"type": "substructure", "params": {"smarts": "*~" * 40 + "[U]"}}],
    }
    with live_server(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        warm = http.post("/api/score", json={"smiles": ["CCO"], "components": ["qed"]})
        assert warm.status_code == 200  # the worker is up before the clock matters
        answer: dict = {}

        def attack() -> None:
            started = time.monotonic()
            answer["response"] = http.post("/api/score", json=hostile)
            answer["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=attack)
        thread.start()
        health_times = []
        while thread.is_alive():
            started = time.monotonic()
            assert http.get("/api/health").status_code == 200
            health_times.append(time.monotonic() - started)
            time.sleep(0.2)
        thread.join()
        response = answer["response"]
        assert response.status_code == 422, response.text
        assert "compute_timeout_s" in response.text
        assert answer["seconds"] < 30
        assert health_times and max(health_times) < 1.0
        again = http.post("/api/score", json={"smiles": ["c1ccccc1O"], "components": ["qed"]})
        assert again.status_code == 200
