"""GET /video/search in process (moto), with auth required and two tenants: each finds its own
videos only, pages are signed, garbage is a 400, and a deleted job leaves no object, row or
index item behind. One test runs the real worker on the two sample clips."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from chalicelib.bootstrap import services
from chalicelib.jobs.ids import results_path
from chalicelib.jobs.record import COMPLETED
from chalicelib.results.document import encode
from tests.support.library import Api, everything_stored, two_tenants
from tests.support.search import label, segments, text

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def tenants(aws, monkeypatch):
    with two_tenants(monkeypatch, SearchApi) as api:
        yield api


class SearchApi(Api):
    def search(self, tenant: str, **params) -> dict:
        status, body = self.call("get", f"/video/search?{urlencode(params, doseq=True)}", tenant)
        assert status == 200, body
        return body

    def found(self, tenant: str, **params) -> list[str]:
        return [hit["job_id"] for hit in self.search(tenant, **params)["hits"]]


def indexed(job_id: str, found: dict) -> None:
    """Complete a submitted job as the worker does: results head stored, indexed, completed."""
    wired = services()
    head = results_path(job_id)
    wired.storage.save_file(encode({"results": {"segments": found}, "frame_pieces": []}), head)
    job = wired.jobs.claim(job_id, "worker", lease_s=60)
    wired.search.index_job(job, head)
    wired.jobs.complete(job_id, owner="worker", output_path=head)


def test_each_tenant_finds_its_own_videos_only(tenants, mp4_bytes):
    acme, globex = tenants.submit("acme", mp4_bytes), tenants.submit("globex", mp4_bytes)
    indexed(acme, segments([text("Emergency EXIT", 1000, 4000)], [label("car", 2000, 3000)]))
    indexed(globex, segments([text("exit", 0, 500)], [label("car", 0, 500)]))
    body = tenants.search("acme", text="exit", label="Car")
    assert body == {
        "hits": [
            {
                "job_id": acme,
                "pipeline_id": "yolo_ocr",
                "created_at": body["hits"][0]["created_at"],
                "score": 8.0,
                "ranges": [{"start_ms": 1000, "end_ms": 4000, "text": ["exit"], "labels": ["Car"]}],
            }
        ]
    }
    assert tenants.found("globex", text="EXIT") == [globex]
    assert tenants.found("globex", text="emergency") == []
    assert tenants.found("globex", label="vehicle") == [globex]


def test_hits_are_ranked_and_paged_with_tokens_bound_to_tenant_and_query(tenants, mp4_bytes):
    jobs = [tenants.submit("acme", mp4_bytes) for _ in range(3)]
    for seconds, job_id in zip((1, 5, 3), jobs, strict=True):
        indexed(job_id, segments([text("exit", 0, seconds * 1000)]))
    first = tenants.search("acme", text="exit", limit=2)
    assert [hit["job_id"] for hit in first["hits"]] == [jobs[1], jobs[2]]
    token = first["next_token"]
    assert tenants.found("acme", text="exit", limit=2, next_token=token) == [jobs[0]]
    assert "next_token" not in tenants.search("acme", text="exit", limit=3)
    for tenant, query in [
        ("globex", {"text": "exit"}),
        ("acme", {"text": "exit", "label": "car"}),
        ("acme", {"text": "exits"}),
    ]:
        status, body = tenants.call(
            "get", "/video/search?" + urlencode({**query, "next_token": token}), tenant
        )
        assert (status, body["code"]) == (400, "InvalidToken"), query


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "say what to search for"),
        ("?text=exit&min_confidence=80", "min_confidence '80': use a decimal number from 0 to 1"),
        ("?label=car&within_ms=soon", "within_ms 'soon': use a whole number"),
        ("?text=exit&limit=1000", "limit '1000': use a whole number from 1 to 100"),
        ("?text=exit&status=completed", "unknown query parameter(s) 'status'"),
    ],
)
def test_garbage_search_parameters_are_400_with_a_message(tenants, query, message):
    status, body = tenants.call("get", f"/video/search{query}", "acme")
    assert (status, body["code"]) == (400, "BadRequest") and message in body["message"]


def test_search_needs_a_key_and_answers_options(tenants):
    status, body = tenants.call("get", "/video/search?text=exit", None)
    assert (status, body["code"]) == (401, "Unauthorized")
    response = tenants.client.http.options("/video/search")
    assert (response.status_code, response.headers["Allow"]) == (204, "GET, OPTIONS")


def test_a_deleted_job_leaves_no_object_row_or_index_item(tenants, mp4_bytes, aws):
    kept, doomed = tenants.submit("acme", mp4_bytes), tenants.submit("acme", mp4_bytes)
    indexed(kept, segments([text("exit", 0, 1000)]))
    indexed(doomed, segments([text("exit left", 0, 1000)], [label("dog", 0, 1000)]))
    assert sorted(tenants.found("acme", text="exit")) == sorted([doomed, kept])
    keys, items = everything_stored(aws)
    assert sum(doomed in json.dumps(item) for item in items) == 6  # row, list, 4 postings
    status, body = tenants.call("delete", f"/video/{doomed}", "acme")
    assert (status, body) == (200, {"job_id": doomed, "status": COMPLETED, "deleted": True})
    keys, items = everything_stored(aws)
    assert [key for key in keys if doomed in key] == []
    assert [item for item in items if doomed in json.dumps(item)] == []
    assert tenants.found("acme", text="exit") == [kept]
    assert tenants.found("acme", label="dog") == []


@pytest.mark.slow
def test_the_sample_clips_are_found_at_their_times_and_not_after_a_delete(tenants, aws):
    clips = {
        name: tenants.submit("acme", (SAMPLES / f"{name}.mp4").read_bytes())
        for name in ("letter_blocks", "dog_and_woman")
    }
    for job_id in clips.values():
        assert aws.worker.process(job_id) is True
        assert services().jobs.get(job_id).status == COMPLETED
    sam = tenants.search("acme", text="Sam two")["hits"]
    assert [(hit["job_id"], hit["ranges"]) for hit in sam] == [
        (
            clips["letter_blocks"],
            [{"start_ms": 0, "end_ms": 9009, "text": ["sam two"], "labels": []}],
        )
    ]
    both = tenants.search("acme", label=["dog", "person"], within_ms="0")["hits"]
    assert [(hit["job_id"], hit["ranges"]) for hit in both] == [
        (
            clips["dog_and_woman"],
            [{"start_ms": 0, "end_ms": 9009, "text": [], "labels": ["Dog", "Person"]}],
        )
    ]
    assert tenants.found("acme", text="sam", label="dog") == []
    assert tenants.found("globex", text="sam") == tenants.found("globex", label="dog") == []
    for job_id in clips.values():
        assert tenants.call("delete", f"/video/{job_id}", "acme")[0] == 200
    assert tenants.found("acme", text="sam two") == tenants.found("acme", label="person") == []
    keys, items = everything_stored(aws)
    left = [key for key in keys if any(job_id in key for job_id in clips.values())]
    assert left == [] and [item for item in items if "search#" in json.dumps(item)] == []
