"""The worker runner as its own process against a moto_server, for crash tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from chalicelib.bootstrap import services
from infra.resources import bootstrap
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def emulated_stack(monkeypatch) -> Iterator[dict[str, str]]:
    """moto_server on a free port, its resources bootstrapped, this process pointed at it with a
    short lease and visibility timeout; yields the environment for runner processes."""
    port = free_port()
    env = {
        "VIDEO_JOBS_STAGE": "local",
        "VIDEO_JOBS_AWS_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VIDEO_JOBS_VISIBILITY_TIMEOUT_S": "3",  # a dead worker's message reappears quickly
        "VIDEO_JOBS_JOB_LEASE_S": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    moto = subprocess.Popen(
        [BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                services.cache_clear()
                bootstrap()
                break
            except Exception:
                time.sleep(0.1)
        yield {**os.environ, "PYTHONUNBUFFERED": "1"}
    finally:
        services.cache_clear()
        moto.kill()
        moto.wait()


def start_runner(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.worker_runner"], cwd=ROOT, env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
