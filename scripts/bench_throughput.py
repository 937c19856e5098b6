"""``make bench``, section "throughput": a queue of mixed clips through the local stack at 1 and 2
workers (``make run WORKERS=N``), side by side.

Each run starts the real local stack (emulator, ``chalice local``, N worker runners, each with
CPUs / N frame threads) on free ports and its own state directory, waits until every worker is
receiving, submits the whole queue over HTTP at once, and polls every job until it is final. A
job's latency is from its submit to its first poll that sees it completed; its run time is the
worker's own ``AnalysisSeconds`` metric.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

QUEUE_JOBS = 20
QUICK_QUEUE_JOBS = 6
WORKER_COUNTS = (1, 2)
FINAL = {"completed", "failed"}


def job_queue(clips: Sequence[Path], jobs: int) -> list[Path]:
    """``jobs`` clips, cycling through ``clips`` (sorted, so every run has the same queue)."""
    return list(itertools.islice(itertools.cycle(sorted(clips)), jobs))


@dataclass
class QueueRun:
    workers: int
    threads: int
    elapsed_s: float = 0.0
    video_s: float = 0.0
    latency_s: list[float] = field(default_factory=list)
    run_s: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def jobs_per_hour(self) -> float:
        return len(self.latency_s) / self.elapsed_s * 3600

    @property
    def video_minutes_per_hour(self) -> float:
        return self.video_s / 60 / self.elapsed_s * 3600


def percentile(values: Sequence[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _submit_all(base: str, queue: Sequence[Path]) -> dict[str, float]:
    """Job id -> when it was submitted (monotonic seconds)."""
    submitted = {}
    with requests.Session() as session:
        for clip in queue:
            response = session.post(f"{base}/video/submit", data=clip.read_bytes(),
                                    headers={"Content-Type": "video/mp4"}, timeout=60)  # fmt: skip
            if response.status_code != 202:
                raise RuntimeError(f"submit of {clip.name}: {response.status_code} {response.text}")
            submitted[response.json()["job_id"]] = time.monotonic()
    return submitted


def _wait_all(base: str, submitted: dict[str, float], timeout_s: float) -> dict[str, tuple]:
    """Job id -> (status, when first seen final), polling every job until all are final."""
    done: dict[str, tuple[str, float]] = {}
    deadline = time.monotonic() + timeout_s
    with requests.Session() as session:
        while len(done) < len(submitted):
            if time.monotonic() > deadline:
                left = len(submitted) - len(done)
                raise RuntimeError(f"{left} jobs unfinished after {timeout_s} s")
            for job_id in submitted.keys() - done.keys():
                status = session.get(f"{base}/video/status/{job_id}", timeout=10).json()["status"]
                if status in FINAL:
                    done[job_id] = (status, time.monotonic())
            time.sleep(0.2)
    return done


def _analysis_seconds(metrics_file: Path, job_ids: set[str]) -> list[float]:
    """The worker's AnalysisSeconds for each of these jobs (slices added up)."""
    seconds: dict[str, float] = {}
    for line in metrics_file.read_text().splitlines():
        entry = json.loads(line)
        if "AnalysisSeconds" in entry and entry.get("job_id") in job_ids:
            seconds[entry["job_id"]] = seconds.get(entry["job_id"], 0.0) + entry["AnalysisSeconds"]
    return list(seconds.values())


def run_queue(queue: Sequence[Path], workers: int, video_s: float) -> QueueRun:
    from tests.support.stack import local_stack, wait_for

    with (
        tempfile.TemporaryDirectory(prefix="video-jobs-throughput-") as workdir,
        local_stack(Path(workdir), args=["--workers", str(workers)]) as stack,
    ):
        wait_for(lambda: stack.polling_workers() >= workers, 120, "the workers", stack)
        threads = int(stack.output().split(" worker(s) x ")[1].split()[0])
        run = QueueRun(workers, threads, video_s=video_s)
        submitted = _submit_all(stack.base, queue)
        done = _wait_all(stack.base, submitted, timeout_s=60 + 30 * len(queue))
        first = min(submitted.values())
        run.elapsed_s = max(at for _, at in done.values()) - first
        run.latency_s = [done[job][1] - at for job, at in submitted.items()]
        for status, _ in done.values():
            run.statuses[status] = run.statuses.get(status, 0) + 1
        run.run_s = _analysis_seconds(stack.state_dir / "metrics.jsonl", set(submitted))
    return run


def throughput_section(report, clips: Sequence[Path], quick: bool) -> None:
    from chalicelib.analysis.frames import VideoReader
    from scripts.bench_analyzer import log

    queue = job_queue(clips, QUICK_QUEUE_JOBS if quick else QUEUE_JOBS)
    durations = {}
    for clip in set(queue):
        with VideoReader(clip) as video:
            durations[clip] = video.metadata.duration_ms / 1000
    video_s = sum(durations[clip] for clip in queue)
    runs = []
    for workers in WORKER_COUNTS:
        log(f"throughput: {len(queue)} jobs through the local stack with {workers} worker(s)")
        runs.append(run_queue(queue, workers, video_s))
    report.section(f"7c. Throughput: a queue of {len(queue)} mixed clips, 1 and 2 workers")
    report.table(
        ["workers x threads", "jobs", "wall s", "jobs / hour", "video min / hour",
         "latency p50 s", "p95 s", "run time p50 s", "p95 s", "outcome"],
        [[f"{r.workers} x {r.threads}", len(r.latency_s), f"{r.elapsed_s:.1f}",
          f"{r.jobs_per_hour:.0f}", f"{r.video_minutes_per_hour:.1f}",
          f"{percentile(r.latency_s, 50):.1f}", f"{percentile(r.latency_s, 95):.1f}",
          f"{percentile(r.run_s, 50):.2f}", f"{percentile(r.run_s, 95):.2f}",
          ", ".join(f"{n} {s}" for s, n in sorted(r.statuses.items()))] for r in runs],
    )  # fmt: skip
    one, two = runs
    names = ", ".join(sorted({clip.stem for clip in queue}))
    report.note(
        f"""
- The queue, {video_s:.0f} s of video, all submitted at once to `python -m infra.local_stack
  --workers N` (make run WORKERS=N), default pipeline, 1 frame/s: these clips in turn:
  {names}.
  Latency: submit to completed as seen by polling every 0.2 s (includes the wait in the
  queue); run time: the worker's AnalysisSeconds (decode to results, alone).
- 2 workers / 1 worker: {two.jobs_per_hour / one.jobs_per_hour:.2f}× the jobs an hour,
  {percentile(two.run_s, 50) / percentile(one.run_s, 50):.2f}× the run time of a job (p50). One
  run each, one after the other: on a loaded machine, load moves these more than a little."""
    )
    report.target(
        "throughput: every queued job completes, at 1 and 2 workers",
        ", ".join(f"{r.workers}: {r.statuses}" for r in runs),
        all(r.statuses == {"completed": len(queue)} for r in runs),
    )
