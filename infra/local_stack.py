"""The whole service on one machine: emulated AWS + HTTP API + analyzer worker.

    python -m infra.local_stack [--api-port 8000] [--aws-port 5010]

Starts ``moto_server`` on loopback, creates the table, bucket, queue and dead-letter queue
(idempotently), then ``chalice local`` on the ``local`` stage (via ``infra.api_server``) and the
worker runner. Ctrl-C (or
SIGTERM) stops all three; if one of them dies, the others are stopped too.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wait_for_port(host: str, port: int, timeout_s: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with code {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def stack_environment(host: str, aws_port: int) -> dict[str, str]:
    """Dummy credentials and the emulator's URL: the local stack can never reach real AWS."""
    return {
        **os.environ,
        "VIDEO_JOBS_STAGE": "local",
        "VIDEO_JOBS_AWS_ENDPOINT": f"http://{host}:{aws_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "PYTHONUNBUFFERED": "1",
    }


def stop_all(processes: list[subprocess.Popen]) -> None:
    """Stop in reverse start order, each before the next, so the worker and the API finish
    their last requests while the emulator is still up."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description="Run video-jobs locally on emulated AWS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", 8000)))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", 5010)))
    args = parser.parse_args()
    env = stack_environment(args.host, args.aws_port)
    processes: list[subprocess.Popen] = []
    stopping = False

    def request_stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        moto = subprocess.Popen(
            [BIN / "moto_server", "-H", args.host, "-p", str(args.aws_port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # one line per request: too noisy
        processes.append(moto)
        wait_for_port(args.host, args.aws_port, 30, moto)
        subprocess.run(
            [sys.executable, "-m", "infra.resources"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra.api_server",  # `chalice local`, with TCP_NODELAY
                "--no-autoreload",
                "--stage",
                "local",
                "--host",
                args.host,
                "--port",
                str(args.api_port),
            ],
            env=env,
            cwd=ROOT,
        )
        processes.append(api)
        processes.append(
            subprocess.Popen([sys.executable, "-m", "infra.worker_runner"], env=env, cwd=ROOT)
        )
        wait_for_port(args.host, args.api_port, 60, api)
        print(
            f"video-jobs is up: API http://{args.host}:{args.api_port}  "
            f"emulated AWS {env['VIDEO_JOBS_AWS_ENDPOINT']}  (Ctrl-C stops everything)",
            flush=True,
        )
        while not stopping:
            if any(process.poll() is not None for process in processes):
                print("a component exited; stopping the stack", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        stop_all(processes)


if __name__ == "__main__":
    sys.exit(main())
