"""The idempotency key's reservation lease through the API: a key whose request died before
recording its job is taken over by a retry once the lease is over (the store-level rules are in
tests/integration/test_idempotency_contract.py)."""

import time

from chalicelib.intake.idempotency import KeyRecord, fingerprint, key_id
from chalicelib.jobs.ids import new_job_id
from tests.support.aws import job_ids, key_items


def submit(client, data, key):
    headers = {"Content-Type": "video/mp4", "Idempotency-Key": key}
    return client.http.post("/video/submit", body=data, headers=headers)


def died_while_accepting(aws, key, data, *, seconds_ago):
    """What an API process that died right after reserving ``key`` leaves: the key, no job."""
    print_ = fingerprint(data, aws.settings.default_pipeline, repr(None))
    reserved_at = time.time() - seconds_ago
    record = KeyRecord(key_id(key), new_job_id(), print_, int(time.time()) + 86400,
                       reserved_at + aws.settings.idempotency_lease_s)  # fmt: skip
    assert aws.submissions.keys.reserve(record) is None
    return record


def test_a_retry_after_the_lease_takes_over_a_key_whose_request_died(client, aws, tiny_mp4):
    data = tiny_mp4.read_bytes()
    dead = died_while_accepting(aws, "crashed-1", data, seconds_ago=61)
    response = submit(client, data, "crashed-1")
    assert response.status_code == 202, response.json_body
    job_id = response.json_body["job_id"]
    assert job_id != dead.target_job_id and job_ids(aws) == [job_id]
    assert [item["target_job_id"]["S"] for item in key_items(aws)] == [job_id]
    again = submit(client, data, "crashed-1")  # and from now on the key names that job
    assert again.status_code == 202 and again.json_body["job_id"] == job_id


def test_within_the_lease_a_retry_is_told_to_wait(client, aws, tiny_mp4):
    data = tiny_mp4.read_bytes()
    died_while_accepting(aws, "slow-1", data, seconds_ago=5)
    response = submit(client, data, "slow-1")
    assert response.status_code == 409 and "still being accepted" in response.json_body["message"]
    assert job_ids(aws) == []


def test_a_key_stored_before_the_lease_existed_is_taken_over_too(aws, client, tiny_mp4):
    data = tiny_mp4.read_bytes()
    old = died_while_accepting(aws, "legacy", data, seconds_ago=0)
    aws.submissions.keys.release(old.key_id)
    legacy = KeyRecord(old.key_id, old.target_job_id, old.fingerprint, old.expires_at, None)
    assert aws.submissions.keys.reserve(legacy) is None
    assert submit(client, data, "legacy").status_code == 202
