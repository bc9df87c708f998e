"""A live server on a free loopback port: in a thread (tests) or in a child process (benchmarks:
a ``chemloop serve`` of its own, as deployed, whose work never competes with the client's for
this interpreter).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from chemloop.errors import ChemloopError

HOST = "127.0.0.1"


def _wait_until_up(url: str, alive: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not alive():
            raise ChemloopError(f"the server at {url} did not start within {timeout:.0f} s")
        time.sleep(0.05)


@contextmanager
def live_server(app: FastAPI, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))  # the kernel picks a free port; no race between choosing and binding
    # asyncio sets TCP_NODELAY only on sockets it creates; without it, Nagle's algorithm and delayed
    # ACKs add ~40 ms to each keep-alive request. Accepted connections inherit it from this one.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False)  # as `serve`
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until_up(url, thread.is_alive, timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def server_process(
    db_url: str, runs_dir: Path, api_key: str, timeout: float = 120.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``chemloop serve`` in a child process on a free loopback port, with ``env`` added to this
    process's environment (e.g. ``CHEMLOOP_RATE_LIMIT``); yields its base URL."""
    url = f"http://{HOST}:{(port := _free_port())}"
    command = [sys.executable, "-m", "chemloop.cli", "serve", "--host", HOST, "--port", str(port)]
    command += ["--db", db_url, "--runs-dir", str(runs_dir)]
    env = {**os.environ, **(env or {}), "CHEMLOOP_API_KEY": api_key}
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a full pipe would stall the server
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            try:
                _wait_until_up(url, lambda: child.poll() is None, timeout)
            except ChemloopError:
                child.terminate()
                child.wait(30)
                log.seek(0)
                raise ChemloopError(f"`chemloop serve` did not start:\n{log.read()[-2000:]}") from None
            yield url
        finally:
            if child.poll() is None:
                child.terminate()
                child.wait(30)
