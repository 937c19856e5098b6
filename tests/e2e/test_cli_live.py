"""The video-jobs command, as a real process, against the real local stack."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import requests

from scripts import cuts_clip
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.stack import ROOT, local_stack
from tests.support.videos import shared_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(model_path, tmp_path_factory):
    with local_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack.base


def video_jobs(api: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDEO_JOBS_API": api}
    env.pop("VIDEO_JOBS_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "video_jobs_cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_submit_wait_prints_the_job_id_and_a_summary(api, tiny_mp4):
    done = video_jobs(api, "submit", str(tiny_mp4), "--wait", "--pipeline", "yolo_ocr_fast",
                      "--sample-fps", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id, *summary = done.stdout.splitlines()
    status = requests.get(f"{api}/video/status/{job_id}", timeout=5).json()
    assert status["status"] == "completed" and status["pipeline_id"] == "yolo_ocr_fast"
    results = requests.get(f"{api}/video/results/{job_id}", timeout=5).json()["results"]
    assert results["sampling"]["fps"] == 2.0
    spans = [line for line in summary if "HELLO" in line]
    assert spans, summary  # the clip's on-screen text, as a span
    assert summary[0].startswith("objects") and any(line.startswith("text (") for line in summary)


def test_presigned_upload_then_status_results_and_view(api, tiny_mp4, tmp_path):
    done = video_jobs(api, "submit", str(tiny_mp4), "--direct-max-bytes", "0",
                      "--option", "pipeline_id=yolo_ocr_fast")  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    assert video_jobs(api, "wait", job_id).returncode == 0
    status = video_jobs(api, "status", job_id)
    assert status.stdout == f"{job_id}  completed  100%\n"

    out = tmp_path / "results.json"
    assert video_jobs(api, "results", job_id, "-o", str(out)).returncode == 0
    document = json.loads(out.read_text())
    assert document == requests.get(f"{api}/video/results/{job_id}", timeout=5).json()

    rows = list(csv.DictReader(video_jobs(api, "results", job_id, "--format", "csv").stdout
                               .splitlines()))  # fmt: skip
    expected = sum(len(f["objects"]) + len(f["text"]) for f in document["results"]["frames"])
    assert len(rows) == expected > 0
    assert any(row["kind"] == "text" and "HELLO" in row["text"] for row in rows)

    view = video_jobs(api, "view", job_id)
    assert view.stdout.strip() == f"{api}/video/view/{job_id}"
    page = requests.get(view.stdout.strip(), timeout=5)
    assert page.headers["Content-Type"].startswith("text/html") and job_id in page.text


def test_unknown_and_failed_jobs_exit_1_with_one_line(api, tmp_path):
    unknown = "00000000-0000-4000-8000-000000000000"
    for command in ("status", "wait", "results", "view"):
        done = video_jobs(api, command, unknown)
        assert done.returncode == 1 and done.stdout == "", command
        assert done.stderr == f"Error: unknown job: no job with id '{unknown}'\n", command
    huge = make_mp4(tmp_path / "huge.mp4", seconds=0.1, size=(8200, 16), text="")
    done = video_jobs(api, "submit", str(huge), "--wait")
    assert done.returncode == 1
    job_id = done.stdout.strip()
    assert done.stderr.splitlines()[-1].startswith(f"Error: job {job_id} failed: ")
    for command in ("status", "wait"):
        again = video_jobs(api, command, job_id)
        assert again.returncode == 1 and again.stderr == done.stderr.splitlines()[-1] + "\n"
    results = video_jobs(api, "results", job_id)
    assert results.returncode == 1 and "it is failed" in results.stderr


def test_the_shots_pipeline_prints_its_tables_and_its_csv_rows(api, tmp_path):
    """A clip with known cuts (scripts/cuts_clip.py): the summary and the CSV show the API's
    shots and cues."""
    shared_video("soccer_juggle.mp4")  # skips (fails under CI) without ../shared
    clip = tmp_path / "cuts.mp4"
    cuts_clip.build(clip)
    done = video_jobs(api, "submit", str(clip), "--pipeline", "shots", "--wait",
                      "--black-min-coverage-percentage", "98")  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id, *summary = done.stdout.splitlines()
    results = requests.get(f"{api}/video/results/{job_id}", timeout=5).json()["results"]
    shots, cues = results["segments"]["shots"], results["segments"]["technical_cues"]
    assert results["options"]["black_min_coverage_percentage"] == 98.0
    assert len(shots) == 7 and "BlackFrames" in [c["type"] for c in cues]
    assert summary[0] == f"shots ({len(shots)}):"
    rows = summary[2 : 2 + len(shots)]
    assert [row.split()[:3] for row in rows] == [
        [str(s["index"]), f"{s['start_ms'] / 1000:.2f}-{s['end_ms'] / 1000:.2f}",
         f"{s['start_frame']}-{s['end_frame']}"] for s in shots
    ]  # fmt: skip
    assert summary[2 + len(shots)] == f"technical cues ({len(cues)}):"
    table = video_jobs(api, "results", job_id, "--format", "csv").stdout.splitlines()
    rows = list(csv.DictReader(table))
    assert [r["label"] for r in rows if r["kind"] == "shot"] == [str(s["index"]) for s in shots]
    assert [(r["label"], int(r["start_frame"]), int(r["end_frame"])) for r in rows
            if r["kind"] == "cue"] == [(c["type"], c["start_frame"], c["end_frame"])
                                       for c in cues]  # fmt: skip


def test_a_tenant_model_added_run_listed_and_deleted(api, tiny_mp4, tmp_path):
    """models add (validated by the stack's analyzer in its child process), submit --model,
    its class names in the results, then models delete."""
    from tests.support import tenant_models

    model_file = tmp_path / "pallets.onnx"
    model_file.write_bytes(tenant_models.serialized(tenant_models.detector("v8")))
    added = video_jobs(api, "models", "add", str(model_file), "--name", "pallets", "--classes",
                       ",".join(tenant_models.CLASSES))  # fmt: skip
    assert added.returncode == 0, added.stderr
    model_id, status = added.stdout.split()
    assert status == "ready"
    listed = video_jobs(api, "models", "list").stdout.splitlines()
    assert [line.split()[:2] for line in listed if line.startswith(model_id)] == [
        [model_id, "ready"]
    ]
    done = video_jobs(api, "submit", str(tiny_mp4), "--model", model_id, "--wait",
                      "--pipeline", "yolo")  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.splitlines()[0]
    results = requests.get(f"{api}/video/results/{job_id}", timeout=5).json()["results"]
    assert results["models"]["detector"]["model_id"] == model_id
    assert {o["label"] for f in results["frames"] for o in f["objects"]} == {"pallet"}
    assert video_jobs(api, "models", "delete", model_id).stdout == f"{model_id}  deleted\n"
    again = video_jobs(api, "models", "delete", model_id)
    assert again.returncode == 1 and "no model with id" in again.stderr
    missing = video_jobs(api, "models", "add", str(tmp_path / "none.onnx"), "--name", "x")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
