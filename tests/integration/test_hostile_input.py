"""Garbage at every door: each answer is a 4xx with a message, or a cleanly failed job.

Table-driven over the HTTP routes (chalice.test.Client, moto) and over broken videos run through
the real worker and the real analyzer. No 500, no hang, no worker crash.
"""

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.worker import JobWorker
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED, FAILED, JobRecord
from chalicelib.jobs.store import InMemoryJobStore
from tests.fixtures import make_tiny_mp4 as fx
from tests.support.aws import job_ids, queue_size
from tests.support.pipelines import RealPipeline

MB = 1024 * 1024
IDS = [
    "", "x", "../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%00", "%2500", "a" * 10_000,
    "00000000-0000-0000-0000-000000000000", "' OR '1'='1", "<script>alert(1)</script>",
    "%E2%80%AE", new_job_id().upper(), new_job_id() + "/", new_job_id(),
]  # fmt: skip


def bodies(mp4: bytes):
    return {
        "empty": b"",
        "one byte": b"\x00",
        "oversized": b"\x00" * (6 * MB + 1),
        "truncated mp4": mp4[: len(mp4) * 2 // 3],
        "header only": mp4[:32],
        "mp4 with zeroed boxes": mp4[:40] + b"\x00" * (len(mp4) - 40),
        "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        "zip": b"PK\x03\x04" + b"\x00" * 64,
        "text": b"a video, honest",
        "json": b'{"video": "clip.mp4"}',
        "utf-16 junk": "ftyp".encode("utf-16"),
    }


CONTENT_TYPES = [
    "video/mp4", "application/octet-stream", "multipart/form-data; boundary=zz", "text/plain",
    "application/json", "image/png", "", "video/mp4; charset=\x7f",
]  # fmt: skip


def assert_clean_4xx(response, what):
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.body!r}"
    body = response.json_body
    message = body.get("message") or body.get("Message")
    assert message, what
    assert "Traceback" not in response.body.decode() and "/work/" not in response.body.decode()


def test_every_bad_body_and_content_type_at_submit(client, aws, tiny_mp4):
    for name, body in bodies(tiny_mp4.read_bytes()).items():
        for content_type in CONTENT_TYPES:
            response = client.http.post(
                "/video/submit", body=body, headers={"Content-Type": content_type}
            )
            assert_clean_4xx(response, f"{name} as {content_type!r}")
    assert queue_size(aws) == 0 and job_ids(aws) == []


def test_adversarial_ids_on_every_id_route(client):
    for job_id in IDS:
        for method, path in [
            ("get", f"/video/status/{job_id}"),
            ("get", f"/video/results/{job_id}"),
            ("post", f"/video/uploads/{job_id}/start"),
            ("delete", f"/video/{job_id}"),
        ]:
            response = getattr(client.http, method)(path)
            if (
                path.endswith("//start")
                or path.endswith("/video/status/")
                or path.endswith("/video/results/")
            ):
                # no such route at all, or (chalice drops the trailing slash) /video/{job_id},
                # which answers DELETE only
                assert response.status_code in (403, 404, 405), path
                continue
            assert_clean_4xx(response, f"{method} {path[:60]}")


def test_wrong_methods_everywhere(client):
    job_id = new_job_id()
    for method, path in [
        ("get", "/video/submit"), ("put", "/video/submit"), ("delete", "/video/submit"),
        ("get", "/video/uploads"), ("put", f"/video/status/{job_id}"),
        ("post", f"/video/results/{job_id}"), ("get", f"/video/uploads/{job_id}/start"),
    ]:  # fmt: skip
        response = getattr(client.http, method)(path)
        assert response.status_code == 405, f"{method} {path}"


def test_bad_query_parameters_everywhere(client, tiny_mp4):
    for query in ["?sample_fps=", "?sample_fps=1e309", "?sample_fps=inf", "?pipeline_id=",
                  "?pipeline_id=../../x", "?x=1"]:  # fmt: skip
        response = client.http.post(
            f"/video/submit{query}", body=tiny_mp4.read_bytes(),
            headers={"Content-Type": "video/mp4"},
        )  # fmt: skip
        assert_clean_4xx(response, query)
        assert_clean_4xx(client.http.post(f"/video/uploads{query}"), f"uploads {query}")


def write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def broken_videos(tmp_path_factory, tiny_mp4):
    d = tmp_path_factory.mktemp("broken")
    late_index = fx.make_mp4(d / "late_index.mp4", seconds=1, faststart=False)
    return {
        "zero-length file": write(d / "empty.mp4", b""),
        "audio only": fx.make_audio_only_mp4(d / "audio.mp4"),
        "huge declared dimensions": fx.make_mp4(
            d / "huge.mp4", seconds=0.1, size=(8200, 16), text=""
        ),  # fmt: skip
        "truncated before the index": fx.truncate(late_index, d / "no_moov.mp4", 0.6),
        "index kept, media cut": fx.truncate(tiny_mp4, d / "cut.mp4", keep_fraction=0.02),
        "media zeroed": fx.overwrite_bytes(
            tiny_mp4, d / "zeroed.mp4", start_fraction=0.5, length=10**6
        ),  # fmt: skip
        "random bytes": write(d / "random.mp4", bytes(range(256)) * 40),
        "mpeg-4 part 2 codec": fx.make_mp4v_with_opencv(d / "mp4v.mp4"),
        "hevc codec": fx.make_mp4(d / "hevc.mp4", seconds=1, codec="hevc"),
        "one frame": fx.make_mp4(d / "one.mp4", seconds=0.1, fps=10),
        "odd size": fx.make_mp4(d / "odd.mp4", seconds=0.5, size=(97, 55)),
        "a 2000x24 strip": fx.make_mp4(d / "strip.mp4", seconds=0.5, size=(2000, 24)),
    }


@pytest.mark.slow
def test_broken_videos_end_failed_with_a_reason_or_completed(aws, pipeline, broken_videos):
    """Straight into storage (as a presigned upload could), past the API's checks."""

    jobs = InMemoryJobStore()
    with LocalStorage.temporary() as storage:
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=RealPipeline(pipeline))
        outcomes = {}
        for name, path in broken_videos.items():
            job_id = new_job_id()
            storage.save_file(path, f"video_jobs/{job_id}.mp4")
            jobs.create(
                JobRecord.new(
                    job_id,
                    input_path=f"video_jobs/{job_id}.mp4",
                    pipeline_id="yolo_ocr",
                    retention_days=1,
                )
            )
            assert worker.process(job_id) is True, name
            job = jobs.get(job_id)
            assert job.status in (COMPLETED, FAILED), name
            if job.status == FAILED:
                assert job.error_message and "internal error" not in job.error_message, name
                assert "Traceback" not in job.error_message and "/tmp" not in job.error_message
            outcomes[name] = (job.status, job.error_message)
    for name in ("zero-length file", "audio only", "huge declared dimensions", "random bytes",
                 "truncated before the index"):  # fmt: skip
        assert outcomes[name][0] == FAILED, (name, outcomes[name])
    for name in ("mpeg-4 part 2 codec", "hevc codec", "one frame", "odd size", "a 2000x24 strip"):
        assert outcomes[name][0] == COMPLETED, (name, outcomes[name])
    print("\n".join(f"{k}: {v}" for k, v in outcomes.items()))
