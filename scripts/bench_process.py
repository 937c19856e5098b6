"""``make bench`` helpers that must run in a fresh process: model-load reuse and peak memory.

    python -m scripts.bench_process warm CLIP   # first and second model load in one process
    python -m scripts.bench_process rss CLIP    # peak RSS of a process that runs one job

Each prints one JSON object on stdout; ``scripts.bench`` starts them and reads it back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Not ``ru_maxrss``: that survives fork + exec,
    so a child started by a big parent would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return float("nan")


def warm(clip: Path) -> dict:
    """Model load of the first job, then of a second job in the same process.

    The first job builds the pipeline (imports done, models loaded); the second builds it again
    through a new ``Pipelines`` (as a fresh worker would), which must find the
    process-wide ``load_detector`` / ``load_text_reader`` caches. The worker's own service keeps
    its pipeline too (``same_service_s``).
    """
    started = time.perf_counter()
    from chalicelib.analysis.registry import Pipelines, resolve
    from chalicelib.config import load_settings

    resolve("yolo_ocr")  # imports cv2, onnxruntime, rapidocr
    imports_s = time.perf_counter() - started
    settings = load_settings()

    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    first, second = Pipelines(settings), Pipelines(settings)
    first_load_s = timed(lambda: first.pipeline("yolo_ocr"))
    first_job_s = timed(lambda: first.pipeline("yolo_ocr").run(clip, sample_fps=1.0))
    same_service_s = timed(lambda: first.pipeline("yolo_ocr"))
    second_load_s = timed(lambda: second.pipeline("yolo_ocr"))
    second_job_s = timed(lambda: second.pipeline("yolo_ocr").run(clip, sample_fps=1.0))
    return {
        "imports_s": imports_s,
        "first_load_s": first_load_s,
        "first_job_s": first_job_s,
        "second_load_s": second_load_s,
        "second_job_s": second_job_s,
        "same_service_s": same_service_s,
    }


def rss(clip: Path) -> dict:
    """One job in this process: video from storage to a temp file, analysis, results stored."""
    from chalicelib.adapters.storage import LocalStorage
    from chalicelib.analysis.registry import Pipelines
    from chalicelib.config import load_settings
    from chalicelib.results.document import encode

    service = Pipelines(load_settings())
    service.pipeline("yolo_ocr")
    models_mib = _peak_rss_mib()
    with LocalStorage.temporary() as storage:
        storage.save_file(clip, "video_jobs/input.mp4")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="video-jobs-bench-") as workdir:
            local = Path(workdir) / "input.mp4"
            storage.download_file("video_jobs/input.mp4", local)
            document = service.pipeline("yolo_ocr").run(local, sample_fps=1.0)
        storage.save_file(encode(document), "video_jobs/input_results.json", overwrite=False)
        job_s = time.perf_counter() - started
    return {
        "models_mib": models_mib,
        "peak_mib": _peak_rss_mib(),
        "job_s": job_s,
        "frames": document["sampling"]["frames_sampled"],
    }


def run_child(mode: str, clip: Path, timeout_s: float = 600) -> dict:
    """Run ``mode`` on ``clip`` in a fresh interpreter and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "scripts.bench_process", mode, str(clip)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench child {mode} {clip.name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    mode, clip = argv[0], Path(argv[1])
    print(json.dumps({"warm": warm, "rss": rss}[mode](clip)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
