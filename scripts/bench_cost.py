"""``make bench``, section "cost": seconds per video second at 1 and 2 vCPUs, and what an hour of
video costs on Lambda at each memory size.

Two processes, one pinned to 1 and one to 2 of this machine's CPUs (their affinity, as
``taskset`` sets it), take turns clip by clip: each runs the real ``JobWorker.process`` on
in-process moto (claim, download, analyze, store, complete). The analyzer sizes its frame
threads from the CPUs it may use, as on Lambda, so 1 CPU is Lambda's 1769 MB (one vCPU's
worth) and 2 CPUs are 3538 MB. Other sizes are simulated with Amdahl's law through those two
points: with ``T1`` and ``T2`` the seconds at 1 and 2 CPUs, the serial share is
``s = 2·T2/T1 - 1`` and ``T(n) = T1·(s + (1-s)/n)``, where ``n = MB / 1769`` (Lambda gives
CPU in proportion to memory; at 10240 MB that is 5.79).

    python -m scripts.bench_cost child CPUS FPS   # pinned; runs each clip path read from stdin
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.cloud_template import DEFAULT_ANALYZER_MEMORY_MB, MAX_ANALYZER_MEMORY_MB, MB_PER_VCPU

ROOT = Path(__file__).resolve().parents[1]
# Lambda, x86_64, us-east-1, on-demand list prices (aws.amazon.com/lambda/pricing, read
# 2026-12-07; the first 6 billion GB-seconds a month): arm64 is $0.0000133334 per GB-s.
LAMBDA_GB_S = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1_000_000
MEMORY_SIZES = (1769, 3008, 3538, 5308, 10240)
JOBS_PER_VIDEO_HOUR = 60  # requests: one invocation per job, jobs of one minute of video


def _pin(cpus: int) -> None:
    """Run on the first ``cpus`` CPUs this process may use, before any library sizes a pool."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpus > len(allowed):
        raise SystemExit(f"asked for {cpus} CPUs; this process may use {len(allowed)}")
    os.sched_setaffinity(0, allowed[:cpus])


def child(cpus: int, fps: float) -> None:
    """Pinned to ``cpus`` CPUs, run a whole job on each clip path read from stdin, printing one
    JSON line per job (and one when ready: models loaded by a warm-up job on the first clip)."""
    _pin(cpus)
    from chalicelib.analysis.worker import JobWorker, WorkerSettings
    from scripts.bench_analyzer import RecordingPipelines, moto_services, run_job

    with moto_services() as services:
        pipelines = RecordingPipelines(services.settings)
        worker = JobWorker(
            storage=services.storage,
            jobs=services.jobs,
            pipelines=pipelines,
            settings=WorkerSettings.of(services.settings),
        )
        warmed = False
        for line in sys.stdin:
            clip = Path(line.strip())
            wall, cpu, stored = run_job(services, worker, clip, fps)
            if not warmed:  # the first job loads the models: not a warm job's cost
                warmed = True
                threads = pipelines.pipeline("yolo_ocr").pipeline.workers
                print(json.dumps({"ready": True, "threads": threads}), flush=True)
                continue
            video_s = json.loads(stored)["video"]["duration_ms"] / 1000
            print(json.dumps({"wall_s": wall, "cpu_s": cpu, "video_s": video_s}), flush=True)


class PinnedWorker:
    """A ``child`` process: send it a clip, read back its job's times."""

    def __init__(self, cpus: int, fps: float, warm_up: Path):
        self.cpus = cpus
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.bench_cost", "child", str(cpus), str(fps)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.threads = self.job(warm_up)["threads"]

    def job(self, clip: Path) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{clip}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.cpus}-CPU cost child exited ({self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


@dataclass
class Measured:
    """Seconds of a whole job per second of video, at 1 and (if this machine has 2) 2 CPUs."""

    video_s: float
    per_video_s: dict[int, float]  # CPUs -> wall seconds per video second (median of rounds)
    cpu_per_video_s: dict[int, float]  # CPUs -> process CPU seconds per video second
    threads: dict[int, int]  # CPUs -> frame threads the analyzer chose

    @property
    def speed_up(self) -> float | None:
        """Wall time on 1 CPU / on 2, from the interleaved runs (None without a 2-CPU time)."""
        return self.per_video_s[1] / self.per_video_s[2] if 2 in self.per_video_s else None

    @property
    def serial_share(self) -> float | None:
        """Amdahl's serial share from the speed-up on 2 CPUs: s = 2 / speed-up - 1."""
        if self.speed_up is None:
            return None
        return min(1.0, max(0.0, 2 / self.speed_up - 1))

    def seconds_at(self, vcpus: float) -> float | None:
        """Seconds per video second with a dedicated ``vcpus`` of CPU. One CPU: the 1-CPU
        process's own CPU time (a neighbour stretches its wall time, not its CPU time; with
        the job's S3 and DynamoDB in process, an unloaded run's wall time is the same). More:
        that over the measured speed-up (2), or through Amdahl's law (any other)."""
        share = self.serial_share
        if vcpus == 1:
            return self.cpu_per_video_s[1]
        if share is None:
            return None
        return self.cpu_per_video_s[1] * (share + (1 - share) / vcpus)


def measure(clips: Sequence[Path], repeats: int, fps: float) -> Measured:
    """``repeats`` rounds over the clips, each clip run by the 1-CPU and the 2-CPU process in
    turn (which goes first alternates), so a burst of load hits both alike."""
    from scripts.bench_analyzer import log, median

    cpu_counts = [1, 2] if len(os.sched_getaffinity(0)) >= 2 else [1]
    workers = [PinnedWorker(n, fps, clips[0]) for n in cpu_counts]
    walls: dict[int, list[float]] = {n: [] for n in cpu_counts}
    cpus_used: dict[int, list[float]] = {n: [] for n in cpu_counts}
    try:
        for round_ in range(repeats):
            log(f"cost: round {round_ + 1}/{repeats}, whole jobs pinned to 1 and 2 CPUs")
            totals = {n: [0.0, 0.0] for n in cpu_counts}
            video_s = 0.0
            for index, clip in enumerate(clips):
                turn = workers if (round_ + index) % 2 == 0 else workers[::-1]
                for worker in turn:
                    result = worker.job(clip)
                    totals[worker.cpus][0] += result["wall_s"]
                    totals[worker.cpus][1] += result["cpu_s"]
                video_s += result["video_s"]
            for n, (wall, cpu) in totals.items():
                walls[n].append(wall / video_s)
                cpus_used[n].append(cpu / video_s)
    finally:
        for worker in workers:
            worker.close()
    return Measured(
        video_s,
        {n: median(values) for n, values in walls.items()},
        {n: median(values) for n, values in cpus_used.items()},
        {worker.cpus: worker.threads for worker in workers},
    )


def visible_vcpus(memory_mb: int) -> int:
    """CPUs a Lambda function sees at this memory size (measured by others: 2 up to 3008 MB,
    then one more per 1769 MB, 6 from 8846 MB); its CPU time is still memory / 1769."""
    return max(2, min(6, -(-memory_mb // MB_PER_VCPU)))


@dataclass
class CostRow:
    memory_mb: int
    vcpus: float  # vCPU-seconds a second (memory / 1769)
    basis: str  # measured / interpolated / Amdahl
    per_video_s: float | None
    dollars_per_video_hour: float | None


def cost_rows(measured: Measured, sizes: Sequence[int] = MEMORY_SIZES) -> list[CostRow]:
    rows = []
    for memory_mb in sizes:
        vcpus = min(memory_mb, MAX_ANALYZER_MEMORY_MB) / MB_PER_VCPU
        seconds = measured.seconds_at(vcpus)
        basis = {1.0: "1 CPU", 2.0: "1 CPU / speed-up"}.get(vcpus, "Amdahl's law")
        dollars = None
        if seconds is not None:
            billed = seconds * 3600 * memory_mb / 1024 * LAMBDA_GB_S
            dollars = billed + JOBS_PER_VIDEO_HOUR * LAMBDA_REQUEST
        rows.append(CostRow(memory_mb, vcpus, basis, seconds, dollars))
    return rows


def cheapest_and_fastest(rows: Sequence[CostRow]) -> tuple[int | None, set[int]]:
    """The cheapest size, and the fastest (every size within 0.5% of the best time: with no
    speed-up measured, all of them)."""
    priced = [row for row in rows if row.dollars_per_video_hour is not None]
    if not priced:
        return None, set()
    cheapest = min(priced, key=lambda row: row.dollars_per_video_hour or 0.0)
    best = min(row.per_video_s or 0.0 for row in priced)
    fastest = {row.memory_mb for row in priced if (row.per_video_s or 0.0) <= best * 1.005}
    return cheapest.memory_mb, fastest


def memory_cost_section(report, clips: Sequence[Path], repeats: int, fps: float) -> None:
    load_before = os.getloadavg()[0]
    measured = measure(clips, repeats, fps)
    report.section("7b. Cost: seconds per video second at 1 and 2 vCPUs, $ per video hour")
    base = measured.per_video_s[1]
    report.table(
        ["CPUs (affinity)", "frame threads", "wall s per video s", "CPU s per video s",
         "CPU / wall", "speed-up"],
        [[n, measured.threads[n], f"{t:.3f}", f"{measured.cpu_per_video_s[n]:.3f}",
          f"{measured.cpu_per_video_s[n] / t:.2f}", f"{base / t:.2f}×"]
         for n, t in measured.per_video_s.items()],
    )  # fmt: skip
    rows = cost_rows(measured)
    cheapest, fastest = cheapest_and_fastest(rows)
    share = measured.serial_share
    report.note("")
    report.table(
        ["Lambda MB", "vCPU (MB/1769)", "CPUs seen", "from", "s per video s", "video min / job",
         "$ per video hour", ""],
        [[row.memory_mb, f"{row.vcpus:.2f}", visible_vcpus(row.memory_mb), row.basis,
          "n/a" if row.per_video_s is None else f"{row.per_video_s:.3f}",
          "n/a" if row.per_video_s is None else f"{540 / row.per_video_s / 60:.0f}",
          "n/a" if row.dollars_per_video_hour is None else f"${row.dollars_per_video_hour:.4f}",
          _marks(row.memory_mb, cheapest, fastest, DEFAULT_ANALYZER_MEMORY_MB)]
         for row in rows],
    )  # fmt: skip
    serial = "n/a (one CPU here)" if share is None else f"{share:.2f}"
    report.note(
        f"""
- Whole jobs (JobWorker.process on in-process moto) over {measured.video_s:.0f} s of video at
  {fps:g} frame/s, clip by clip in a process pinned to 1 CPU and one pinned to 2, in turn (the
  analyzer runs one frame thread per CPU it may use, as on Lambda); medians of {repeats}
  round(s). Load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after. CPU / wall
  below 1 on the 1-CPU process means neighbours took part of its CPU.
- Lambda seconds: T1, one dedicated vCPU (1769 MB), is the 1-CPU process's own CPU seconds
  (load stretches its wall time, not its CPU time; S3 and DynamoDB are in process, so an idle
  machine gives the same wall time). Other sizes: Amdahl's law, T(n) = T1·(s + (1-s)/n) with
  n = MB / 1769 vCPU-seconds a second (Lambda allots CPU in proportion to memory; it shows 2
  CPUs up to 3008 MB, 6 from 8846 MB) and the serial share s = 2 / speed-up - 1 = {serial},
  from the interleaved wall times (at n = 2, 3538 MB, that is T1 / speed-up). A neighbour
  takes CPU from the 2-CPU process first, so a loaded machine understates the speed-up.
- $ per video hour: s per video s × 3600 × MB/1024 GB × ${LAMBDA_GB_S:.10f} per GB-s (x86_64,
  us-east-1, list price read 2026-12-07; arm64 is 20% less but the image is built for amd64)
  + {JOBS_PER_VIDEO_HOUR} requests at $0.20 per million (jobs of one minute). Cold starts (~2 s
  of imports and model loads, billed) are left out. video min / job: what one 540 s slice
  analyzes (longer videos take more slices)."""
    )
    report.target(
        "template's analyzer memory = the cheapest size per video hour",
        f"default {DEFAULT_ANALYZER_MEMORY_MB} MB, cheapest {cheapest} MB",
        None if cheapest is None else cheapest == DEFAULT_ANALYZER_MEMORY_MB,
    )


def _marks(memory_mb: int, cheapest: int | None, fastest: set[int], default: int) -> str:
    sizes = {"cheapest": {cheapest}, "fastest": fastest, "template default": {default}}
    return ", ".join(name for name, chosen in sizes.items() if memory_mb in chosen)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "child":
        raise SystemExit(__doc__)
    child(int(argv[1]), float(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
