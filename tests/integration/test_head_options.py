"""HEAD on the GET routes and OPTIONS on every path (issue 19.10).

HEAD used to answer 405 and OPTIONS 200 with an empty body and no Allow header (chalice local's
CORS stand-in; API Gateway would have answered 403). Both are routes of their own now.
"""

import pytest

from app import ALLOWED_METHODS, app
from chalicelib.jobs.ids import new_job_id


@pytest.mark.parametrize(
    "path, allow",
    [
        ("/video/submit", "POST, OPTIONS"),
        ("/video/uploads", "POST, OPTIONS"),
        ("/video/uploads/{job_id}/start", "POST, OPTIONS"),
        ("/video/status/{job_id}", "GET, HEAD, OPTIONS"),
        ("/video/results/{job_id}", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_lists_the_methods_of_the_path(client, path, allow):
    response = client.http.request("OPTIONS", path.format(job_id=new_job_id()))
    assert response.status_code == 204 and response.body == b""
    assert response.headers["Allow"] == allow
    declared = {method for method in app.routes[path] if method != "OPTIONS"}
    assert set(allow.split(", ")) - {"OPTIONS"} == declared  # Allow tells the truth


def test_every_path_has_options():
    assert set(ALLOWED_METHODS) == set(app.routes)


def test_head_answers_like_get_without_a_body(client, mp4_bytes):
    job_id = client.http.post(
        "/video/submit", body=mp4_bytes, headers={"Content-Type": "video/mp4"}
    ).json_body["job_id"]
    for path, status in [
        (f"/video/status/{job_id}", 200),
        (f"/video/results/{job_id}", 404),  # pending: no results yet
        (f"/video/status/{new_job_id()}", 404),
        ("/video/status/not-a-job", 404),
        (f"/video/results/{job_id}?max_frames=0", 400),
    ]:
        get = client.http.get(path)
        head = client.http.request("HEAD", path)
        assert (get.status_code, head.status_code) == (status, status), path
        assert head.body == b"" and get.body != b""
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_head_on_a_post_route_is_still_405(client):
    assert client.http.request("HEAD", "/video/submit").status_code == 405
