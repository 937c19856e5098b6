"""The library in process (moto), auth required, two tenants: what a list entry says (name,
duration, thumbnail, error), the page and its link, and the library token's reach: its own
tenant's list and view links, nothing else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from chalice.test import Client

from app import app
from chalicelib.analysis.thumbnail import thumbnail_path
from chalicelib.bootstrap import services
from chalicelib.jobs.ids import results_path
from chalicelib.results.document import encode
from tests.support.library import Api, completed, two_tenants
from tests.support.search import segments, text

BOUNDARY = "xYz"


@pytest.fixture
def tenants(aws, monkeypatch):
    with two_tenants(monkeypatch) as api:
        yield api


def multipart(video: bytes, filename: str) -> tuple[bytes, dict]:
    disposition = f'Content-Disposition: form-data; name="file"; filename="{filename}"'
    head = f"--{BOUNDARY}\r\n{disposition}\r\nContent-Type: video/mp4\r\n\r\n".encode()
    body = head + video + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def library_token(api: Api, tenant: str) -> str:
    status, link = api.call("post", "/video/library/link", tenant)
    assert status == 200 and link["expires_at"].endswith("Z"), link
    url = urlsplit(link["url"])
    assert url.path == "/video/library"
    return parse_qs(url.query)["token"][0]


def test_list_entries_carry_name_duration_thumbnail_and_error(tenants, mp4_bytes):
    body, headers = multipart(mp4_bytes, "C:\\clips\\harbour\x07 tour.mp4")
    status, sent = tenants.call("post", "/video/submit", "acme", body=body, headers=headers)
    assert status == 202, sent
    done, failed = sent["job_id"], tenants.submit("acme", mp4_bytes)
    completed(done, duration_s=12.3456)
    services().jobs.fail(failed, "the video is 3 hours long", error_code="TooManyFrames")
    status, listed = tenants.call("get", "/video/jobs", "acme")
    entries = {job["job_id"]: job for job in listed["jobs"]}
    assert entries[done]["source_name"] == "harbour tour.mp4"  # last part, no control chars
    assert entries[done]["duration_s"] == 12.346
    url = urlsplit(entries[done]["thumbnail_url"])
    assert url.path.endswith(f"/{thumbnail_path(done)}") and "Signature" in url.query
    assert {k: entries[failed].get(k) for k in ("error_code", "error_message", "source_name")} == {
        "error_code": "TooManyFrames", "error_message": "the video is 3 hours long",
        "source_name": None,  # a raw body has no name
    }  # fmt: skip
    assert "thumbnail_url" not in entries[failed] and "duration_s" not in entries[failed]
    status, view = tenants.call("get", f"/video/status/{done}", "acme")
    assert (view["source_name"], view["duration_s"]) == ("harbour tour.mp4", 12.346)


def test_a_library_token_lists_its_own_tenants_jobs_only(tenants, mp4_bytes):
    mine, theirs = tenants.submit("acme", mp4_bytes), tenants.submit("globex", mp4_bytes)
    completed(mine)
    completed(theirs)
    token = library_token(tenants, "acme")
    status, listed = tenants.call("get", "/video/jobs", token)
    assert status == 200 and [job["job_id"] for job in listed["jobs"]] == [mine]
    assert thumbnail_path(theirs) not in str(listed)
    status, link = tenants.call("post", f"/video/view/{mine}/link", token)
    assert status == 200 and link["url"].startswith(f"/video/view/{mine}?token=vt1.")
    status, body = tenants.call("post", f"/video/view/{theirs}/link", token)
    assert (status, body["code"]) == (404, "JobNotFound")


def test_a_library_token_searches_its_own_tenants_videos_only(tenants, mp4_bytes):
    wired = services()
    jobs = {tenant: tenants.submit(tenant, mp4_bytes) for tenant in ("acme", "globex")}
    for job_id in jobs.values():  # both show the same text, indexed as the worker does
        head = results_path(job_id)
        found = segments([text("Emergency EXIT", 1000, 4000)])
        wired.storage.save_file(encode({"results": {"segments": found}, "frame_pieces": []}), head)
        wired.search.index_job(wired.jobs.claim(job_id, "worker", lease_s=60), head)
        wired.jobs.complete(job_id, owner="worker", output_path=head)
    status, body = tenants.call("get", "/video/search?text=exit", library_token(tenants, "acme"))
    assert status == 200 and [hit["job_id"] for hit in body["hits"]] == [jobs["acme"]], body


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/video/status/{id}"), ("get", "/video/results/{id}"), ("delete", "/video/{id}"),
     ("post", "/video/uploads"), ("post", "/video/library/link"), ("get", "/video/stats"),
     ("get", "/video/models"), ("post", "/video/models")],
)  # fmt: skip
def test_a_library_token_opens_no_other_route(tenants, mp4_bytes, method, path):
    job_id = tenants.submit("acme", mp4_bytes)
    token = library_token(tenants, "acme")
    status, body = tenants.call(method, path.format(id=job_id), token)
    assert (status, body["code"]) == (401, "Unauthorized"), path
    assert services().jobs.get(job_id).status == "pending"


def test_the_page_answers_its_link_and_refuses_every_bad_token(tenants):
    token = library_token(tenants, "acme")
    response = tenants.client.http.get(f"/video/library?token={token}")
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "img-src" in response.headers["Content-Security-Policy"]
    assert token in response.body.decode()
    auth = services().auth
    view, _ = auth.view_token(auth.library(token), "00000000-0000-4000-8000-000000000000")
    # (an empty token is no token: the API key is asked for, which a browser cannot send)
    for bad in ("", "lt1.", token[:-1], token.replace("acme", "globex"), view, "x" * 200):
        response = tenants.client.http.get(f"/video/library?token={bad}")
        assert response.status_code == 401, (bad[:40], response.body)
    long = tenants.client.http.get(f"/video/library?token={'x' * 5000}")
    assert long.status_code == 400 and b"longer than any" in long.body
    response = tenants.client.http.get("/video/library")  # a browser cannot send the key
    assert response.status_code == 401


def test_garbage_page_parameters_are_400_and_head_and_options_answer(tenants):
    token = library_token(tenants, "acme")
    status, body = tenants.call("get", f"/video/library?token={token}&t=3", None)
    assert (status, body["code"]) == (400, "BadRequest") and "takes only token" in body["message"]
    head = tenants.client.http.head(f"/video/library?token={token}")
    assert (head.status_code, head.body) == (200, b"")
    options = tenants.client.http.options("/video/library/link")
    assert (options.status_code, options.headers["Allow"]) == (204, "POST, OPTIONS")


def test_with_auth_off_the_page_and_its_link_just_work(aws, mp4_bytes):
    services.cache_clear()
    with Client(app) as client:
        link = client.http.post("/video/library/link")
        assert (link.status_code, link.json_body) == (200, {"url": "/video/library",
                                                           "expires_at": None})  # fmt: skip
        page = client.http.get("/video/library")
        assert page.status_code == 200 and b'"token": null' in page.body
    services.cache_clear()
