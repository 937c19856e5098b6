"""``callback_url`` at the HTTP edge: checked at submit (400 with the reason), kept in the job's
options, part of the idempotency fingerprint."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import pytest

from chalicelib.bootstrap import aws_client
from chalicelib.errors import BadRequest
from chalicelib.intake.params import parse_job_options

PUBLIC = "https://93.184.215.14/hooks/video?tenant=7"  # an IP literal: no DNS in tests


def submit(client, data: bytes, callback_url: str, headers: dict | None = None):
    return client.http.post(
        f"/video/submit?callback_url={quote(callback_url, safe='')}",
        body=data,
        headers={"Content-Type": "video/mp4", **(headers or {})},
    )


def test_a_public_https_callback_is_kept_in_the_job_options(aws, client, tiny_mp4):
    response = submit(client, tiny_mp4.read_bytes(), PUBLIC)
    assert response.status_code == 202, response.body
    job = aws.jobs.get(response.json_body["job_id"])
    assert job.options == {"callback_url": PUBLIC}


def test_jobs_without_a_callback_store_no_options(aws, client, tiny_mp4):
    response = client.http.post(
        "/video/submit", body=tiny_mp4.read_bytes(), headers={"Content-Type": "video/mp4"}
    )
    job_id = response.json_body["job_id"]
    assert aws.jobs.get(job_id).options == {}
    item = aws_client("dynamodb", aws.settings).get_item(
        TableName=aws.settings.table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
    )["Item"]
    assert "options" not in item  # the row has no options attribute at all


@pytest.mark.parametrize(
    "callback_url,words",
    [
        ("http://93.184.215.14/hook", "must start with https://"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://127.0.0.1:8124/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/", "IPv4-mapped"),
        ("https://2130706433/", "four decimal numbers"),
        ("https://0177.0.0.1/", "four decimal numbers"),
        ("https://localhost/", "resolves to a non-public address"),
        ("https://[fec0::1]/hook", "deprecated site-local"),
        ("https://[3fff::1]/hook", "documentation"),
        ("https://93.184.215.14:0/hook", "port must be a number from 1 to 65535"),
        ("https://93.184.215.14:70000/hook", "port must be a number from 1 to 65535"),
        ("https://no-such-host.invalid/", "does not resolve"),
        ("not a url", "ASCII without spaces"),
        ("javascript:alert(1)", "must start with https://"),
        ("https://[::1", "not a valid URL"),
        ("", "1 to 2048"),
    ],
)
def test_bad_callbacks_get_400_with_the_reason(client, tiny_mp4, callback_url, words):
    response = submit(client, tiny_mp4.read_bytes(), callback_url)
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "BadRequest"
    assert words in response.json_body["message"]
    uploads = client.http.post(f"/video/uploads?callback_url={quote(callback_url, safe='')}")
    assert uploads.status_code == 400 and words in uploads.json_body["message"]


def test_uploads_take_the_callback_too(aws, client):
    response = client.http.post(f"/video/uploads?callback_url={quote(PUBLIC, safe='')}")
    assert response.status_code == 201, response.body
    job = aws.jobs.get(response.json_body["job_id"])
    assert job.options == {"callback_url": PUBLIC}


def test_the_local_stage_accepts_http_to_loopback(aws):
    local = replace(aws.settings, stage="local")
    options = parse_job_options({"callback_url": "http://127.0.0.1:8124/hook"}, local)
    assert options.row_options() == {"callback_url": "http://127.0.0.1:8124/hook"}
    with pytest.raises(BadRequest, match="private"):
        parse_job_options({"callback_url": "http://192.168.0.10/hook"}, local)
    with pytest.raises(BadRequest, match="port must be a number from 1 to 65535"):
        parse_job_options({"callback_url": "http://127.0.0.1:0/"}, local)  # was sent to port 80


def test_unknown_parameters_name_callback_url_among_the_accepted(client):
    response = client.http.post("/video/uploads?callbackurl=x")
    assert response.status_code == 400
    assert "text_scripts, callback_url" in response.json_body["message"]


def test_an_idempotency_key_reused_with_another_callback_is_a_conflict(client, tiny_mp4):
    data, key = tiny_mp4.read_bytes(), {"Idempotency-Key": "callback-test-key-1"}
    first = submit(client, data, PUBLIC, key)
    assert submit(client, data, PUBLIC, key).json_body["job_id"] == first.json_body["job_id"]
    other = submit(client, data, "https://93.184.215.15/other", key)
    assert other.status_code == 409 and other.json_body["code"] == "Conflict"
