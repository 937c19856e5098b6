"""Real processes for tests: a free local port, a short-lived ``moto_server``, the local stack."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server(timeout_s: float = 30) -> Iterator[str]:
    """A fresh moto_server on a free port, up and answering; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                requests.get(f"{url}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "no moto_server"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def local_stack(log: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """``python -m infra.local_stack`` on free ports, up and answering; yields (API URL, AWS URL).

    It logs to the file ``log``, not a pipe: nobody reads a pipe while tests run, and a full
    pipe would block every process of the stack that writes a log line."""
    api_port, aws_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local_stack", "--api-port", str(api_port),
         "--aws-port", str(aws_port)],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log.open("w"),
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()
        try:
            requests.get(f"{api}/video/status/x", timeout=1)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the local stack did not come up"
            time.sleep(0.3)
    try:
        yield api, f"http://127.0.0.1:{aws_port}"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
