"""HTTP handlers through chalice.test.Client (in-process, so moto applies)."""

import json
import uuid

import pytest
import requests

from chalicelib.jobs.ids import decode_message, new_job_id
from chalicelib.jobs.record import COMPLETED, FAILED, PENDING, UPLOADING
from tests.support.aws import queue_size
from tests.support.pipelines import FakePipelines


def submit(client, body, content_type="video/mp4", query=""):
    return client.http.post(
        f"/video/submit{query}", body=body, headers={"Content-Type": content_type}
    )


def multipart(data: bytes, field="file", boundary="vj-boundary-123"):
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_submit_raw_mp4_creates_a_pending_queued_job(client, aws, mp4_bytes):
    response = submit(client, mp4_bytes)
    assert response.status_code == 202
    job_id = response.json_body["job_id"]
    assert uuid.UUID(job_id).version == 4
    assert response.headers["Location"] == f"/video/status/{job_id}"
    job = aws.jobs.get(job_id)
    assert job.status == PENDING and job.pipeline_id == "yolo_ocr"
    assert aws.storage.load_file(f"video_jobs/{job_id}.mp4") == mp4_bytes
    message = aws.queue.dequeue()
    assert decode_message(message.body) == job_id


@pytest.mark.parametrize("content_type", ["application/octet-stream", "video/mp4; codecs=avc1"])
def test_submit_accepts_other_raw_types(client, mp4_bytes, content_type):
    assert submit(client, mp4_bytes, content_type).status_code == 202


def test_submit_multipart(client, aws, mp4_bytes):
    body, content_type = multipart(mp4_bytes)
    response = submit(client, body, content_type)
    assert response.status_code == 202
    job_id = response.json_body["job_id"]
    assert aws.storage.load_file(f"video_jobs/{job_id}.mp4") == mp4_bytes


def test_submit_options_are_stored_on_the_job(client, aws, mp4_bytes):
    response = submit(client, mp4_bytes, query="?sample_fps=2.5&pipeline_id=yolo_ocr_fast")
    job = aws.jobs.get(response.json_body["job_id"])
    assert (job.sample_fps, job.pipeline_id) == (2.5, "yolo_ocr_fast")


def _bad_inputs(mp4: bytes):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    zip_bytes = b"PK\x03\x04" + b"\x00" * 100
    garbage_boxes = mp4[:32] + b"\xde\xad\xbe\xef" * 64
    body_without_file, multipart_type = multipart(mp4, field="video")
    return [
        ("empty body", b"", "video/mp4", 400, "empty"),
        ("png", png, "video/mp4", 400, "ftyp"),
        ("text file", b"hello world\n", "application/octet-stream", 400, "ftyp"),
        ("zip", zip_bytes, "video/mp4", 400, "ftyp"),
        ("mp4 header + garbage boxes", garbage_boxes, "video/mp4", 400, "MP4"),
        ("truncated mp4", mp4[: len(mp4) // 2], "video/mp4", 400, "truncated"),
        ("text/plain", mp4, "text/plain", 415, "video/mp4"),
        ("json", b"{}", "application/json", 415, "video/mp4"),
        ("no content type", mp4, "", 415, "video/mp4"),
        ("multipart without file field", body_without_file, multipart_type, 400, "'file'"),
        ("multipart without boundary", mp4, "multipart/form-data", 400, "boundary"),
    ]


def test_bad_submissions_get_a_clear_4xx(client, aws, mp4_bytes):
    for name, body, content_type, status, hint in _bad_inputs(mp4_bytes):
        response = submit(client, body, content_type)
        assert response.status_code == status, name
        assert hint in response.json_body["message"], name
        assert "Traceback" not in response.body.decode()
    assert queue_size(aws) == 0  # nothing was queued


@pytest.mark.parametrize(
    "query, hint",
    [
        ("?pipeline_id=nope", "unknown pipeline"),
        ("?sample_fps=0", "sample_fps"),
        ("?sample_fps=-1", "sample_fps"),
        ("?sample_fps=abc", "sample_fps"),
        ("?sample_fps=nan", "sample_fps"),
        ("?sample_fps=5e-324", "sample_fps"),
        ("?sample_fps=1000", "sample_fps"),
        ("?colour=red", "unknown query parameter"),
    ],
)
def test_bad_options_are_rejected_before_anything_is_stored(client, aws, mp4_bytes, query, hint):
    response = submit(client, mp4_bytes, query=query)
    assert response.status_code == 400
    assert hint in response.json_body["message"]
    assert queue_size(aws) == 0


def test_oversized_body_points_to_presigned_uploads(client, aws, monkeypatch, mp4_bytes):
    monkeypatch.setenv("VIDEO_JOBS_MAX_DIRECT_UPLOAD_BYTES", "1000")
    from chalicelib.bootstrap import services

    services.cache_clear()
    response = submit(client, mp4_bytes)
    assert response.status_code == 413
    assert "POST /video/uploads" in response.json_body["message"]


def test_status_moves_with_the_job(client, aws, mp4_bytes):
    job_id = submit(client, mp4_bytes).json_body["job_id"]
    body = client.http.get(f"/video/status/{job_id}").json_body
    assert body["status"] == PENDING and body["progress"] == 0
    assert set(body) >= {"job_id", "status", "progress", "created_at", "updated_at"}
    aws.jobs.claim(job_id, "w", lease_s=60)
    assert client.http.get(f"/video/status/{job_id}").json_body["progress"] == 0.5
    aws.jobs.fail(job_id, "no frame could be decoded")
    body = client.http.get(f"/video/status/{job_id}").json_body
    assert (body["status"], body["progress"]) == (FAILED, 1.0)
    assert body["error_message"] == "no frame could be decoded"


@pytest.mark.parametrize(
    "bad_id",
    ["not-a-uuid", "..%2F..%2Fetc%2Fpasswd", "%00", "a" * 10_000, str(uuid.uuid1()), new_job_id()],
)
def test_unknown_or_malformed_ids_are_404(client, bad_id):
    for route in ("status", "results"):
        response = client.http.get(f"/video/{route}/{bad_id}")
        assert response.status_code == 404
        assert response.json_body["code"] == "JobNotFound"
        assert len(response.body) < 300  # a 10 kB id is not echoed back


def test_results_are_404_until_completed_and_name_the_status(client, aws, mp4_bytes):
    job_id = submit(client, mp4_bytes).json_body["job_id"]
    response = client.http.get(f"/video/results/{job_id}")
    assert response.status_code == 404 and "it is pending" in response.json_body["message"]
    assert response.json_body["code"] == "ResultsNotReady"
    aws.jobs.claim(job_id, "w", lease_s=60)
    assert "it is running" in client.http.get(f"/video/results/{job_id}").json_body["message"]
    aws.storage.save_file(b'{"frames": []}', f"video_jobs/{job_id}_results.json")
    aws.jobs.update_status(job_id, COMPLETED, output_path=f"video_jobs/{job_id}_results.json")
    body = client.http.get(f"/video/results/{job_id}").json_body
    assert body["results"] == {"frames": []}
    assert body["job_id"] == job_id and body["created_at"] <= body["updated_at"]


def test_results_of_a_failed_job_say_why(client, aws, mp4_bytes):
    job_id = submit(client, mp4_bytes).json_body["job_id"]
    aws.jobs.fail(job_id, "the file has no video track")
    body = client.http.get(f"/video/results/{job_id}").json_body
    assert body["code"] == "ResultsNotReady"
    assert "it is failed" in body["message"] and "no video track" in body["message"]


def test_results_that_expired_from_storage_are_job_not_found(client, aws, mp4_bytes):
    job_id = submit(client, mp4_bytes).json_body["job_id"]
    aws.jobs.claim(job_id, "w", lease_s=60)
    aws.jobs.update_status(job_id, COMPLETED, output_path=f"video_jobs/{job_id}_results.json")
    response = client.http.get(f"/video/results/{job_id}")
    assert response.status_code == 404
    assert response.json_body["code"] == "JobNotFound" and "gone" in response.json_body["message"]


def test_presigned_upload_flow(client, aws, mp4_bytes):
    ticket = client.http.post("/video/uploads").json_body
    job_id = ticket["job_id"]
    assert ticket["status"] == UPLOADING and ticket["upload"]["method"] == "PUT"
    # the video limit is 10 GiB, but S3 takes at most 5 GiB in one PUT
    assert (
        aws.settings.max_upload_bytes == 10 * 2**30 and ticket["upload"]["max_bytes"] == 5 * 2**30
    )
    early = client.http.post(f"/video/uploads/{job_id}/start")
    assert early.status_code == 409 and "PUT the file" in early.json_body["message"]
    assert queue_size(aws) == 0
    put = requests.put(ticket["upload"]["url"], data=mp4_bytes, headers=ticket["upload"]["headers"])
    assert put.status_code == 200
    started = client.http.post(f"/video/uploads/{job_id}/start")
    assert started.status_code == 202
    assert aws.jobs.get(job_id).status == PENDING
    assert decode_message(aws.queue.dequeue().body) == job_id
    again = client.http.post(f"/video/uploads/{job_id}/start")
    assert again.status_code == 409 and "already started" in again.json_body["message"]


def test_presigned_upload_of_a_non_mp4_is_refused_at_start(client, aws):
    ticket = client.http.post("/video/uploads").json_body
    aws.storage.save_file(b"\x89PNG not a video", f"video_jobs/{ticket['job_id']}.mp4")
    response = client.http.post(f"/video/uploads/{ticket['job_id']}/start")
    assert response.status_code == 400 and "ftyp" in response.json_body["message"]
    assert queue_size(aws) == 0


def test_presigned_upload_over_the_limit_is_refused_and_removed(
    client, aws, monkeypatch, mp4_bytes
):
    ticket = client.http.post("/video/uploads").json_body
    aws.storage.save_file(mp4_bytes, f"video_jobs/{ticket['job_id']}.mp4")
    monkeypatch.setenv("VIDEO_JOBS_MAX_UPLOAD_BYTES", "100")
    from chalicelib.bootstrap import services

    services.cache_clear()
    response = client.http.post(f"/video/uploads/{ticket['job_id']}/start")
    assert response.status_code == 413
    assert services().storage.size(f"video_jobs/{ticket['job_id']}.mp4") is None


def test_start_for_an_unknown_job_is_404(client):
    for job_id in (new_job_id(), "..%2Fx"):
        response = client.http.post(f"/video/uploads/{job_id}/start")
        assert response.status_code == 404 and response.json_body["code"] == "JobNotFound"


def test_wrong_methods_are_rejected(client):
    assert client.http.get("/video/submit").status_code == 405
    assert client.http.delete(f"/video/status/{new_job_id()}").status_code == 405


def test_sqs_handler_claims_the_job_and_drops_garbage(client, aws, mp4_bytes, monkeypatch):
    pipelines = FakePipelines()
    monkeypatch.setattr(aws.worker, "pipelines", pipelines)
    job_id = submit(client, mp4_bytes).json_body["job_id"]
    event = client.events.generate_sqs_event([json.dumps({"job_id": job_id})], "video-jobs-queue")
    client.lambda_.invoke("analyze_video", event)
    assert aws.jobs.get(job_id).status == COMPLETED and len(pipelines.calls) == 1
    client.lambda_.invoke("analyze_video", event)  # duplicate delivery: no second run
    assert len(pipelines.calls) == 1
    poison = "[" * 100_000  # RecursionError in json.loads: dropped too, never redelivered
    for garbage in [
        "not json",
        poison,
        '{"job_id": "../../x"}',
        json.dumps({"job_id": new_job_id()}),
    ]:
        response = client.lambda_.invoke(
            "analyze_video", client.events.generate_sqs_event([garbage], "q")
        )
        assert response.payload is None  # returned normally: the message is deleted
    assert aws.jobs.get(job_id).status == COMPLETED and len(pipelines.calls) == 1


def test_results_are_paged_by_frames_with_the_summary_on_every_page(client, aws, mp4_bytes):
    job_id = submit(client, mp4_bytes).json_body["job_id"]
    frames = [{"timestamp_ms": i * 1000} for i in range(5)]
    document = {"frames": frames, "summary": {"objects": {}, "text": []}}
    aws.storage.save_file(json.dumps(document).encode(), f"video_jobs/{job_id}_results.json")
    aws.jobs.claim(job_id, "w", lease_s=60)
    aws.jobs.update_status(job_id, COMPLETED, output_path=f"video_jobs/{job_id}_results.json")
    seen, token = [], None
    for _ in range(5):
        query = "?max_frames=2" + (f"&next_token={token}" if token else "")
        body = client.http.get(f"/video/results/{job_id}{query}").json_body
        assert body["results"]["summary"] == document["summary"]
        seen += body["results"]["frames"]
        token = body.get("next_token")
        if token is None:
            break
    assert seen == frames
    full = client.http.get(f"/video/results/{job_id}").json_body
    assert full["results"]["frames"] == frames and "next_token" not in full
    for bad in ["max_frames=0", "max_frames=1001", "max_frames=x", "next_token=-1",
                "next_token=²", "next_token=" + "9" * 5000, "page=2"]:  # fmt: skip
        response = client.http.get(f"/video/results/{job_id}?{bad}")
        assert response.status_code == 400, bad
