"""The whole service on one machine: emulated AWS + HTTP API + analyzer worker.

    python -m infra.local_stack [--api-port 8000] [--aws-port 5010] [--workers N] [--threads T]

Starts the emulator (``infra.emulator``: moto, with its S3 and DynamoDB state kept in
``Settings.state_dir``), creates the table, bucket, queue and dead-letter queue (idempotently)
and re-sends every unfinished job, then ``chalice local`` on the ``local`` stage (via
``infra.api_server``) and ``--workers`` worker runners: separate processes, so one job's GIL or
crash never holds another, each analyzing one job at a time on ``--threads`` frame threads
(default: the CPUs divided among the workers), as Lambda runs one job per invocation. The first
runner also delivers webhooks and runs the reconcile sweep. A component that dies is started
again, after 0.5 s, then 1, 2, 4 ... up to 30 s if it keeps dying, while the others keep
running, as Lambda would start a new invocation. Ctrl-C (or SIGTERM) stops the workers, the API,
then the emulator, which saves its state.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from chalicelib.analysis.registry import usable_cpus
from chalicelib.config import (
    EMULATOR_ACCESS_KEY_ID,
    EMULATOR_SECRET_ACCESS_KEY,
    LOCAL_THREADS_PER_JOB,
    MAX_ANALYZER_THREADS,
    MAX_LOCAL_WORKERS,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent
FIRST_DELAY_S, MAX_DELAY_S = 0.5, 30.0
METRICS_FILE = "metrics.jsonl"  # in the state directory, beside the emulator's state
STABLE_AFTER_S = 60  # a component up this long starts again from the first delay
PR_SET_PDEATHSIG = 1


def log(message: str) -> None:
    print(f"local_stack: {message}", file=sys.stderr, flush=True)


def wait_for_port(host: str, port: int, timeout_s: float, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def die_with_parent() -> None:
    """In the child: get SIGTERM if the stack itself is killed, rather than hold the ports."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stack_environment(host: str, aws_port: int) -> dict[str, str]:
    """Dummy credentials and the emulator's URL: the local stack can never reach real AWS."""
    return {
        **os.environ,
        "VIDEO_JOBS_STAGE": "local",
        "VIDEO_JOBS_AWS_ENDPOINT": f"http://{host}:{aws_port}",
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY_ID,  # what every local client carries anyway
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "PYTHONUNBUFFERED": "1",
        # every process appends its metrics here too: GET /video/stats reads them back
        "VIDEO_JOBS_METRICS_FILE": os.environ.get("VIDEO_JOBS_METRICS_FILE")
        or str(load_settings().state_dir / METRICS_FILE),
    }


class Component:
    """One process of the stack; ``start`` is True once it is up (listening, set up)."""

    restart_at: float | None  # time.monotonic() to start it again at, once it has exited

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        after_start: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.host, self.port, self.after_start = host, port, after_start
        self.process: subprocess.Popen | None = None
        self.failures, self.started_at, self.restart_at = 0, 0.0, None

    def start(self) -> bool:
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, start_new_session=True, preexec_fn=die_with_parent
        )
        self.started_at, self.restart_at = time.monotonic(), None
        log(f"{self.name} started (pid {self.process.pid})")
        if self.port and not wait_for_port(self.host, self.port, 60, self.process):
            self.stop()
            return False
        try:
            if self.after_start:
                self.after_start()
        except subprocess.CalledProcessError:
            self.stop()
            return False
        return True

    def supervise(self, now: float) -> None:
        """Start it again if it has died, after a delay that doubles while it keeps dying."""
        assert self.process is not None, "supervise() after start()"
        if self.restart_at is None and self.process.poll() is None:
            if now - self.started_at > STABLE_AFTER_S:
                self.failures = 0
            return
        if self.restart_at is None:
            self.failures += 1
            delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (self.failures - 1))
            self.restart_at = now + delay
            code = self.process.returncode
            log(f"{self.name} exited with code {code}; restarting in {delay:g} s")
        elif now >= self.restart_at and not self.start():
            self.restart_at = None  # counts as another failure on the next pass

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def whole_number(what: str, most: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to ``most``; anything else is a usage error."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or not 1 <= int(text) <= most:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number from 1 to {most}, not {text!r}"
            )
        return int(text)

    return parse


def default_worker_count(cpus: int) -> int:
    """One analyzer process per LOCAL_THREADS_PER_JOB CPUs (config.py says why), at least one."""
    return max(1, min(MAX_LOCAL_WORKERS, cpus // LOCAL_THREADS_PER_JOB))


def worker_components(env: dict[str, str], workers: int, threads: int) -> list[Component]:
    """``workers`` runner processes with ``threads`` frame threads each; only the first delivers
    webhooks and sweeps (one sweeper is enough, and it keeps the emulator's traffic down)."""
    env = {**env, "VIDEO_JOBS_ANALYZER_THREADS": str(threads)}
    runner = [sys.executable, "-m", "infra.worker_runner"]
    return [
        Component("worker", runner, env),
        *(Component(f"worker-{n}", [*runner, "--jobs-only"], env) for n in range(2, workers + 1)),
    ]


def components(
    host: str, api_port: int, aws_port: int, workers: int = 1, threads: int = 1
) -> list[Component]:
    env, python = stack_environment(host, aws_port), sys.executable
    env.setdefault("VIDEO_JOBS_PUBLIC_URL", f"http://{host}:{api_port}")  # in notices

    def set_up_resources() -> None:  # and re-send what the emulator's queue no longer holds
        requeue = [python, "-m", "infra.resources", "--requeue"]
        subprocess.run(requeue, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    emulator = [python, "-m", "infra.emulator", "--host", host, "--port", str(aws_port)]
    api = [python, "-m", "infra.api_server", "--no-autoreload", "--stage", "local",
           "--host", host, "--port", str(api_port)]  # fmt: skip
    return [
        Component(
            "emulator", emulator, env, host=host, port=aws_port, after_start=set_up_resources
        ),
        Component("api", api, env, host=host, port=api_port),
        *worker_components(env, workers, threads),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description="Run video-jobs locally on emulated AWS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", 8000)))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", 5010)))
    parser.add_argument(
        "--workers", type=whole_number("WORKERS", MAX_LOCAL_WORKERS),
        help="analyses at once, one process each (default: one per "
        f"{LOCAL_THREADS_PER_JOB} CPUs, at least one)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=whole_number("THREADS", MAX_ANALYZER_THREADS),
        help="frame threads per worker (default: VIDEO_JOBS_ANALYZER_THREADS, else CPUs / workers)",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        told = load_settings().analyzer_threads  # also checks every other setting up front
    except ValueError as error:
        parser.error(str(error))
    cpus = usable_cpus()
    workers = args.workers or default_worker_count(cpus)
    threads = args.threads or told or max(1, cpus // workers)
    stack = components(args.host, args.api_port, args.aws_port, workers, threads)
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.append(True))
    try:
        for component in stack:
            if not component.start():
                log(f"{component.name} did not start; stopping the stack")
                return 1
        print(
            f"video-jobs is up: API http://{args.host}:{args.api_port}  "
            f"emulated AWS http://{args.host}:{args.aws_port}  {workers} analyzer worker(s) x "
            f"{threads} thread(s) on {cpus} CPUs  (Ctrl-C stops everything)",
            flush=True,
        )
        while not stopping:
            for component in stack:
                component.supervise(time.monotonic())
            time.sleep(0.2)
        return 0
    finally:  # the worker and the API finish their requests while the emulator is still up
        for component in reversed(stack):
            component.stop()


if __name__ == "__main__":
    sys.exit(main())
