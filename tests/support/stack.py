"""The real local stack (moto_server + chalice local + worker runner) on free ports."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def local_stack(log: Path, timeout_s: float = 90) -> Iterator[str]:
    """Yields the API's base URL once it answers; then stops the stack (Ctrl-C) and checks it
    stopped cleanly. The stack logs to the file ``log``, not a pipe: nobody reads a pipe while
    the tests run, and once its buffer is full every process that writes a log line blocks."""
    api_port, aws_port = free_port(), free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_stack", "--api-port", str(api_port),
             "--aws-port", str(aws_port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            assert process.poll() is None, log.read_text()
            try:
                requests.get(f"{base}/video/status/x", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the local stack did not come up"
                time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
