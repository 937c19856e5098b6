"""The whole local stack (``python -m infra.local_stack``) as a test's process, on free ports.

Its emulator keeps its state in a directory the test owns (``VIDEO_JOBS_STATE_DIR``), never the
developer's own ``make run`` state; a second ``start`` on the same directory is a restart.
The stack logs to a file, not a pipe: nobody reads a pipe while the tests run, and once its
buffer is full the stack's JSON log lines would block every process that writes one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import requests

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


class LocalStack:
    """One local stack; ``start`` returns once it has said it is up."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, args: Sequence[str] = ()):
        self.args = list(args)  # more of infra.local_stack's options (--workers N)
        self.api_port, self.aws_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.aws_base = f"http://127.0.0.1:{self.aws_port}"
        self.state_dir, self.log = workdir / "state", workdir / "stack.log"
        self.env = {**os.environ, "VIDEO_JOBS_STATE_DIR": str(self.state_dir), **(env or {})}
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90) -> None:
        self.log.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_stack", "--api-port", str(self.api_port),
             "--aws-port", str(self.aws_port), *self.args],
            cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: "video-jobs is up" in self.output(), timeout_s, "the stack", self)

    def stop(self) -> int:
        """Ctrl-C, as a developer would; the stack's exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def output(self) -> str:
        """The stack's log so far; fails the test if the stack has exited."""
        assert self.process is not None and self.process.poll() is None, self.tail()
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def pid(self, component: str) -> int:
        """The process id of the running ``emulator``, ``api`` or ``worker``."""
        return int(re.findall(rf"{component} started \(pid (\d+)\)", self.output())[-1])

    def polling_workers(self) -> int:
        """How many worker runners are receiving from the jobs queue by now."""
        return len(re.findall(r"polling \S+/video-jobs-queue with", self.output()))

    def get(self, path: str) -> requests.Response:
        """GET through whatever API process is up: one may be restarting."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return requests.get(f"{self.base}{path}", timeout=10)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@contextlib.contextmanager
def local_stack(
    workdir: Path, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[LocalStack]:
    """A started stack, stopped (and checked to exit cleanly) afterwards."""
    stack = LocalStack(workdir, env, args)
    stack.start()
    try:
        yield stack
    finally:
        assert stack.stop() == 0, stack.tail()


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str, stack: LocalStack):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{stack.tail()}")


def run_keys(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    """``python -m infra.keys ARGS`` against the stack, as an operator runs it: no AWS_* variables
    (the local stage brings the emulator's own credentials)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env |= {"VIDEO_JOBS_STAGE": "local", "VIDEO_JOBS_AWS_ENDPOINT": stack.aws_base}
    return subprocess.run(
        [sys.executable, "-m", "infra.keys", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def keys_cli(stack: LocalStack, *args: str) -> list[dict]:
    """What a successful ``run_keys`` printed, one JSON object per line."""
    done = run_keys(stack, *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def bearer(key: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['api_token']}"}
