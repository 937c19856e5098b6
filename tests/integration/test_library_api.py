"""GET /video/jobs and DELETE /video/{job_id} in process (moto), with auth required and two
tenants: each sees, pages and deletes its own jobs only, and a deleted job leaves no object,
row or place behind."""

from __future__ import annotations

import json

import pytest

from chalicelib.bootstrap import services
from chalicelib.jobs.ids import results_path, video_path
from chalicelib.jobs.record import CANCELLED, COMPLETED, PENDING, UPLOADING
from tests.support.library import completed, everything_stored, two_tenants


@pytest.fixture
def tenants(aws, monkeypatch):
    """Auth required, a limit on active jobs (so places are kept), keys for acme and globex."""
    monkeypatch.setenv("VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT", "5")
    with two_tenants(monkeypatch) as api:
        yield api


def test_each_tenant_lists_its_own_jobs_newest_first(tenants, mp4_bytes):
    acme = [tenants.submit("acme", mp4_bytes) for _ in range(3)]
    globex = [tenants.submit("globex", mp4_bytes)]
    assert tenants.listed("acme") == acme[::-1]
    assert tenants.listed("globex") == globex
    status, body = tenants.call("get", "/video/jobs", "acme")
    entry = body["jobs"][0]
    assert set(entry) == {"job_id", "status", "progress", "pipeline_id", "created_at", "updated_at"}
    assert (entry["status"], entry["progress"]) == (PENDING, 0.0)


def test_pages_are_signed_for_one_tenant_and_one_set_of_filters(tenants, mp4_bytes):
    acme = [tenants.submit("acme", mp4_bytes) for _ in range(3)]
    tenants.submit("globex", mp4_bytes)
    status, first = tenants.call("get", "/video/jobs?limit=2", "acme")
    assert [job["job_id"] for job in first["jobs"]] == acme[:0:-1]
    token = first["next_token"]
    assert tenants.listed("acme", f"?limit=2&next_token={token}") == acme[:1]
    for tenant, query in [
        ("globex", f"?limit=2&next_token={token}"),  # another tenant's page
        ("acme", f"?limit=2&status=pending&next_token={token}"),  # other filters
        ("acme", f"?limit=2&next_token={token[:-2]}"),  # edited
        ("acme", "?next_token=" + "A" * 500),
    ]:
        status, body = tenants.call("get", f"/video/jobs{query}", tenant)
        assert (status, body["code"]) == (400, "InvalidToken"), query
        assert "next_token" in body["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=done", "status 'done': use one of cancelled, completed"),
        ("?status=", "status '': use one of"),
        ("?pipeline_id=../x", "pipeline_id '../x': use a pipeline id"),
        ("?created_after=yesterday", "created_after 'yesterday' is not an ISO 8601 date"),
        ("?created_after=2026-12-07%00", "created_after '2026-12-07\\x00' is not"),
        ("?created_before=2026-13-01", "created_before '2026-13-01' is not an ISO 8601"),
        ("?created_after=0001-01-01T00:00:00%2B14:00", "is not an ISO 8601"),  # year 0 in UTC
        ("?created_before=9999-12-31T23:59:59-14:00", "is not an ISO 8601"),  # year 10000
        ("?created_after=2026-12-08&created_before=2026-12-07", "created_after is later than"),
        ("?limit=0", "limit '0': use a whole number from 1 to 100"),
        ("?limit=101", "limit '101': use a whole number from 1 to 100"),
        ("?limit=-1", "limit '-1'"),
        ("?limit=%D9%A3", "limit '\\u0663'"),  # an Arabic-Indic three is no limit
        ("?limit=1e3", "limit '1e3'"),
        ("?limit=" + "9" * 5000, "limit '9999"),  # more digits than int() takes
        ("?tenant=globex", "unknown query parameter(s) 'tenant': the accepted ones are status"),
    ],
)
def test_garbage_list_parameters_are_400_with_a_message(tenants, query, message):
    status, body = tenants.call("get", f"/video/jobs{query}", "acme")
    assert (status, body["code"]) == (400, "BadRequest"), body
    assert message in json.dumps(body["message"])[1:-1] or message in body["message"]


def test_filters_reach_the_listing(tenants, mp4_bytes):
    first, second = tenants.submit("acme", mp4_bytes), tenants.submit("acme", mp4_bytes)
    completed(first)
    assert tenants.listed("acme", "?status=completed") == [first]
    assert tenants.listed("acme", "?status=pending") == [second]
    assert tenants.listed("acme", "?pipeline_id=shots") == []
    assert tenants.listed("acme", "?created_after=2000-01-01&created_before=2100-01-01") == [
        second,
        first,
    ]
    assert tenants.listed("acme", "?created_before=2000-01-01T00:00:00%2B02:00") == []


@pytest.mark.parametrize(("method", "path"), [("get", "/video/jobs"), ("delete", "/video/{id}")])
def test_with_auth_required_the_routes_need_a_key(tenants, mp4_bytes, method, path):
    job_id = tenants.submit("acme", mp4_bytes)
    status, body = tenants.call(method, path.format(id=job_id), None)
    assert (status, body["code"]) == (401, "Unauthorized")
    assert services().jobs.get(job_id).status == PENDING


def test_a_tenant_cannot_delete_or_cancel_another_tenants_job(tenants, mp4_bytes):
    pending = tenants.submit("acme", mp4_bytes)
    done = tenants.submit("acme", mp4_bytes)
    completed(done)
    for job_id in (pending, done):
        status, body = tenants.call("delete", f"/video/{job_id}", "globex")
        assert (status, body["code"]) == (404, "JobNotFound")
    assert [services().jobs.get(job_id).status for job_id in (pending, done)] == [
        PENDING,
        COMPLETED,
    ]
    assert services().storage.size(results_path(done)) == 2


def test_deleting_an_unfinished_job_cancels_it_and_frees_its_place(tenants, mp4_bytes):
    job_id = tenants.submit("acme", mp4_bytes)
    status, upload = tenants.call("post", "/video/uploads", "acme")
    places = services().jobs.places
    assert set(places.read("acme").jobs) == {job_id, upload["job_id"]}
    for cancelled in (job_id, upload["job_id"]):
        status, body = tenants.call("delete", f"/video/{cancelled}", "acme")
        assert (status, body) == (200, {"job_id": cancelled, "status": CANCELLED, "deleted": False})
    assert places.read("acme").jobs == {}
    status, body = tenants.call("get", f"/video/status/{job_id}", "acme")
    assert (body["status"], body["progress"]) == (CANCELLED, 1.0)
    assert tenants.listed("acme", "?status=cancelled") == [upload["job_id"], job_id]
    assert services().jobs.get(upload["job_id"]).status != UPLOADING


def test_a_deleted_job_leaves_no_object_row_or_place_behind(tenants, mp4_bytes, aws):
    kept = tenants.submit("acme", mp4_bytes)
    doomed = tenants.submit("acme", mp4_bytes, key="upload-1")
    completed(doomed)
    keys, items = everything_stored(aws)
    assert sum(doomed in key for key in keys) == 5  # video, head, piece, checkpoint, thumbnail
    assert sum(doomed in json.dumps(item) for item in items) == 2  # its row and its key
    status, body = tenants.call("delete", f"/video/{doomed}", "acme")
    assert (status, body) == (200, {"job_id": doomed, "status": COMPLETED, "deleted": True})
    keys, items = everything_stored(aws)
    assert [key for key in keys if doomed in key] == []
    assert [item for item in items if doomed in json.dumps(item)] == []
    assert video_path(kept) in keys  # the other job is untouched
    for method, path in [("get", f"/video/status/{doomed}"), ("get", f"/video/results/{doomed}"),
                         ("delete", f"/video/{doomed}")]:  # fmt: skip
        status, body = tenants.call(method, path, "acme")
        assert (status, body["code"]) == (404, "JobNotFound"), path
    assert tenants.listed("acme") == [kept]
    again = tenants.submit("acme", mp4_bytes, key="upload-1")  # the key starts a new job
    assert again != doomed and tenants.listed("acme") == [again, kept]


def test_a_cancelled_job_is_removed_by_the_next_delete(tenants, mp4_bytes, aws):
    job_id = tenants.submit("acme", mp4_bytes)
    assert tenants.call("delete", f"/video/{job_id}", "acme")[1]["deleted"] is False
    assert tenants.call("delete", f"/video/{job_id}", "acme")[1]["deleted"] is True
    keys, items = everything_stored(aws)
    assert [key for key in keys if job_id in key] == []
    assert [item for item in items if job_id in json.dumps(item)] == []


def test_a_malformed_id_is_404_and_the_route_is_delete_only(tenants):
    status, body = tenants.call("delete", "/video/not-a-job", "acme")
    assert (status, body["code"]) == (404, "JobNotFound")
    response = tenants.client.http.options("/video/00000000-0000-4000-8000-000000000000")
    assert (response.status_code, response.headers["Allow"]) == (204, "DELETE, OPTIONS")
