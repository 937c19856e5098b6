"""Bounded load test against a running stack (loopback only): concurrent submits + status polls.

    .venv/bin/python -m scripts.load_test --url http://127.0.0.1:8000 [--jobs 50 --concurrency 8]

Submits ``--jobs`` small generated clips from ``--concurrency`` threads while polling their
status, waits (up to ``--timeout`` s) until every accepted job is final, and prints counts and
latency percentiles. Exit status 1 if any request got a 5xx or any accepted job did not finish.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests

FINAL = {"completed", "failed"}


@dataclass
class Tally:
    submit_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    final: dict[str, str] = field(default_factory=dict)

    def record(self, response: requests.Response, started: float, into: list[float]) -> None:
        into.append((time.perf_counter() - started) * 1000)
        self.codes[response.status_code] = self.codes.get(response.status_code, 0) + 1


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:.0f} ms, p95 {cuts[94]:.0f} ms, p99 {cuts[98]:.0f} ms (n={len(values)})"


def submit(session: requests.Session, url: str, data: bytes, tally: Tally) -> str | None:
    started = time.perf_counter()
    response = session.post(f"{url}/video/submit", data=data,
                            headers={"Content-Type": "video/mp4"}, timeout=60)  # fmt: skip
    tally.record(response, started, tally.submit_ms)
    return response.json()["job_id"] if response.status_code == 202 else None


def poll(session: requests.Session, url: str, job_id: str, tally: Tally, deadline: float) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = session.get(f"{url}/video/status/{job_id}", timeout=60)
        tally.record(response, started, tally.status_ms)
        status = response.json().get("status") if response.status_code == 200 else None
        if status in FINAL:
            tally.final[job_id] = status
            return
        time.sleep(0.25)


def run(url: str, data: bytes, jobs: int, concurrency: int, timeout_s: float) -> Tally:
    if urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load test only targets a stack on this machine (loopback)")
    tally, deadline = Tally(), time.monotonic() + timeout_s
    with requests.Session() as session, ThreadPoolExecutor(concurrency) as pool:
        ids = [i for i in pool.map(lambda _: submit(session, url, data, tally), range(jobs)) if i]
        list(pool.map(lambda job_id: poll(session, url, job_id, tally, deadline), ids))
    tally.final.update({job_id: "unfinished" for job_id in ids if job_id not in tally.final})
    return tally


def report(tally: Tally, jobs: int, seconds: float) -> bool:
    server_errors = sum(n for code, n in tally.codes.items() if code >= 500)
    outcomes = {s: list(tally.final.values()).count(s) for s in sorted(set(tally.final.values()))}
    print(
        f"load: {jobs} submits in {seconds:.1f} s; accepted {len(tally.final)}; "
        f"final {outcomes}; HTTP codes {dict(sorted(tally.codes.items()))}; 5xx {server_errors}"
    )
    print(f"load: submit latency {percentiles(tally.submit_ms)}")
    print(f"load: status latency {percentiles(tally.status_ms)}")
    return server_errors == 0 and "unfinished" not in outcomes and len(tally.final) == jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    from tests.fixtures.make_tiny_mp4 import make_mp4

    with tempfile.TemporaryDirectory() as tmp:
        data = make_mp4(Path(tmp) / "load.mp4", seconds=1.0, fps=10).read_bytes()
    started = time.perf_counter()
    tally = run(args.url.rstrip("/"), data, args.jobs, args.concurrency, args.timeout)
    return 0 if report(tally, args.jobs, time.perf_counter() - started) else 1


if __name__ == "__main__":
    sys.exit(main())
