"""Through HTTP: loose numbers are 400 and no answer echoes a huge value back (issue 19.10).
The parsing rules themselves: tests/unit/intake/test_params.py."""

import urllib.parse

from chalicelib.jobs.ids import new_job_id

LONG = "x" * 5000


def create_upload(client, **params):
    return client.http.post(f"/video/uploads?{urllib.parse.urlencode(params)}")


def test_sample_fps_is_read_strictly_and_stored_as_read(client, aws):
    refused = create_upload(client, sample_fps="1_0")
    assert refused.status_code == 400 and refused.json_body["code"] == "BadRequest"
    accepted = create_upload(client, sample_fps=".5")
    assert accepted.status_code == 201
    assert aws.jobs.get(accepted.json_body["job_id"]).sample_fps == 0.5


def assert_short_error(response, status=400):
    assert response.status_code == status
    message = response.json_body["message"]
    assert LONG[:100] not in message and len(message) < 400, message[:400]


def test_long_values_are_cut_short_on_every_route(client):
    assert_short_error(create_upload(client, pipeline_id=LONG))
    assert_short_error(create_upload(client, sample_fps=LONG))
    assert_short_error(create_upload(client, **{LONG: "1"}))
    submit = client.http.post("/video/submit", body=b"x", headers={"Content-Type": LONG})
    assert_short_error(submit, 415)
    assert_short_error(client.http.get(f"/video/status/{LONG}"), 404)
    job_id = new_job_id()
    assert_short_error(client.http.get(f"/video/results/{job_id}?max_frames={LONG}"))
    assert_short_error(client.http.get(f"/video/results/{job_id}?{LONG}=1"))
