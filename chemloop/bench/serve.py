"""Scoring through the HTTP API beside scoring in-process, in one run on loopback.

    chemloop bench serve --requests 30 --batch 100 --output bench_serve.json

A live ``chemloop serve`` (a child process, on a free 127.0.0.1 port) gets ``requests``
POST /api/score requests of ``batch`` MOSES test molecules each (components qed, sa_score,
alerts), sent one at a time from an httpx client (the server's per-client rate limit off). The
same batches are scored in-process with :func:`chemloop.services.molecules.score_molecules`, each right
beside its request (the order alternating), so both paths see the same machine load. Reported:
molecules/s of each path, their ratio, and the latency percentiles.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from chemloop.bench.machine import describe
from chemloop.data.corpus import load_moses
from chemloop.errors import ChemloopError
from chemloop.serve.live import server_process
from chemloop.services.molecules import score_molecules

COMPONENTS = ["qed", "sa_score", "alerts"]


def _percentile(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, round(q * (len(ranked) - 1)))]


def _summary(seconds: list[float], batch: int) -> dict[str, float]:
    return {
        "molecules_per_s": round(batch * len(seconds) / sum(seconds), 1),
        "p50_ms": round(1000 * statistics.median(seconds), 1),
        "p95_ms": round(1000 * _percentile(seconds, 0.95), 1),
    }


def _time_api(client: httpx.Client, smiles: list[str]) -> float:
    start = time.perf_counter()
    response = client.post("/api/score", json={"smiles": smiles, "components": COMPONENTS})
    response.raise_for_status()
    seconds = time.perf_counter() - start
    if len(response.json()["results"]) != len(smiles):
        raise ChemloopError("the API returned fewer results than molecules sent")
    return seconds


def _time_in_process(smiles: list[str]) -> float:
    start = time.perf_counter()
    score_molecules(smiles, COMPONENTS)
    return time.perf_counter() - start


def bench_serve(requests: int = 30, batch: int = 100, warmup: int = 2) -> dict:
    """Time ``requests`` score requests through the API and the same batches in-process."""
    load_before = os.getloadavg()[0]
    molecules = load_moses("test")
    batches = [molecules[i * batch : (i + 1) * batch] for i in range(warmup + requests)]
    with tempfile.TemporaryDirectory() as folder:
        # The per-client rate limit off: every request comes from this one address, so a long run would
        # measure the default limit's 429s instead of the server.
        off = {"CHEMLOOP_RATE_LIMIT": ""}
        server = server_process(
            f"sqlite:///{folder}/bench.db", Path(folder) / "runs", "bench-serve-key", env=off
        )
        with server as url, httpx.Client(base_url=url, timeout=60) as client:
            api, local = [], []
            for i, smiles in enumerate(batches):
                if i % 2 == 0:  # alternate which goes first, so neither always finds a warmer cache
                    through_api = _time_api(client, smiles)
                    direct = _time_in_process(smiles)
                else:
                    direct = _time_in_process(smiles)
                    through_api = _time_api(client, smiles)
                if i >= warmup:
                    api.append(through_api)
                    local.append(direct)
    result = {
        "machine": describe(),
        "load_average_before": round(load_before, 2),  # other work on the machine slows both paths alike
        "requests": requests,
        "batch": batch,
        "components": COMPONENTS,
        "api": _summary(api, batch),
        "in_process": _summary(local, batch),
    }
    result["ratio"] = round(result["api"]["molecules_per_s"] / result["in_process"]["molecules_per_s"], 3)
    return result


def format_table(result: dict):
    from rich.table import Table

    table = Table(
        title=f"scoring {result['batch']} molecules a call ({', '.join(result['components'])}), "
        f"{result['requests']} calls"
    )
    for column in ("path", "molecules/s", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for label, key in (("HTTP API (loopback)", "api"), ("in-process", "in_process")):
        row = result[key]
        table.add_row(label, f"{row['molecules_per_s']:.0f}", f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}")
    table.caption = f"API / in-process throughput: {result['ratio']:.2f}"
    return table
