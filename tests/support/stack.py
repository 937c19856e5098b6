"""The real local stack as a test process: moto_server + chalice local + the worker runner."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LocalStack:
    api: str  # base URL of the HTTP API
    aws: str  # the emulator's endpoint


@contextlib.contextmanager
def local_stack(log: Path, env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """Start ``python -m infra.local_stack`` on free ports, wait until it answers, stop it
    with SIGINT afterwards (it must exit 0). Its output goes to ``log``: a pipe nobody reads
    fills up and blocks every process that writes a log line."""
    api_port, aws_port = free_port(), free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_stack", "--api-port", str(api_port),
             "--aws-port", str(aws_port)],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the local stack did not answer in 90 s"
            try:
                requests.get(f"{base}/video/status/x", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        yield LocalStack(base, f"http://127.0.0.1:{aws_port}")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0, log.read_text()
