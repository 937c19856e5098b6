"""Idempotency-Key on POST /video/submit: a retried request gets the job it first created."""

import pytest

from tests.support.aws import job_ids, key_items, queue_size


def submit(client, data, key=None, query=""):
    headers = {"Content-Type": "video/mp4"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.http.post(f"/video/submit{query}", body=data, headers=headers)


def test_a_retry_with_the_same_key_gets_the_same_job(client, aws, tiny_mp4):
    data = tiny_mp4.read_bytes()
    first = submit(client, data, key="7f1c2a9e-upload-1")
    again = submit(client, data, key="7f1c2a9e-upload-1")
    assert first.status_code == again.status_code == 202
    assert first.json_body["job_id"] == again.json_body["job_id"]
    assert len(job_ids(aws)) == 1 and queue_size(aws) == 1


def test_without_a_key_or_with_another_key_each_submit_is_a_new_job(client, aws, tiny_mp4):
    data = tiny_mp4.read_bytes()
    ids = {submit(client, data).json_body["job_id"] for _ in range(2)}
    ids.add(submit(client, data, key="other-key").json_body["job_id"])
    assert len(ids) == 3 and len(job_ids(aws)) == 3


def test_reusing_a_key_for_a_different_request_is_a_conflict(client, aws, tiny_mp4):
    data = tiny_mp4.read_bytes()
    assert submit(client, data, key="k1").status_code == 202
    for response in (
        submit(client, data + b"\x00\x00\x00\x08free", key="k1"),  # another video
        submit(client, data, key="k1", query="?sample_fps=2"),  # other options
    ):
        assert response.status_code == 409
        assert "different request" in response.json_body["message"]
    assert len(job_ids(aws)) == 1


@pytest.mark.parametrize("key", ["", "a b", "x" * 129, "ключ", "../../etc"])
def test_malformed_keys_are_400(client, aws, tiny_mp4, key):
    response = submit(client, tiny_mp4.read_bytes(), key=key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json_body["message"]
    assert job_ids(aws) == []


def test_a_key_whose_request_failed_can_be_retried(client, aws, monkeypatch, tiny_mp4):
    data = tiny_mp4.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(aws.storage, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError()))
        assert submit(client, data, key="retry-me").status_code == 503
    retried = submit(client, data, key="retry-me")
    assert retried.status_code == 202 and len(job_ids(aws)) == 1


def test_key_records_are_invisible_to_jobs_and_the_sweep(client, aws, tiny_mp4):
    job_id = submit(client, tiny_mp4.read_bytes(), key="sweep").json_body["job_id"]
    assert [item["target_job_id"]["S"] for item in key_items(aws)] == [job_id]
    assert client.http.get(f"/video/status/{job_id}").status_code == 200
    report = aws.reconcile(now=10**10)  # the job was queued: waiting in line is not stranded
    assert report.examined == 1 and report.requeued == []
