"""Two tenants on the in-process API (auth required, moto): calling routes as either, jobs
finished as a worker leaves them, and everything stored, read with plain boto3."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import boto3
from chalice.test import Client

from app import app
from chalicelib.analysis.thumbnail import thumbnail_path
from chalicelib.bootstrap import services
from chalicelib.jobs.ids import results_path
from chalicelib.results.pieces import piece_path

TENANTS = ("acme", "globex")


class Api:
    def __init__(self, client: Client, keys: dict[str, str]):
        self.client, self.keys = client, keys

    def call(self, method: str, path: str, tenant: str | None, **kwargs) -> tuple[int, dict]:
        """``tenant``: whose API key is sent (None: none; a string with a dot: that token)."""
        token = self.keys.get(tenant, tenant) if tenant else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        response = getattr(self.client.http, method)(path, headers=headers, **kwargs)
        return response.status_code, json.loads(response.body)

    def submit(self, tenant: str, video: bytes, key: str | None = None) -> str:
        headers = {"Content-Type": "video/mp4", **({"Idempotency-Key": key} if key else {})}
        status, body = self.call("post", "/video/submit", tenant, body=video, headers=headers)
        assert status == 202, body
        return body["job_id"]

    def listed(self, tenant: str, query: str = "") -> list[str]:
        status, body = self.call("get", f"/video/jobs{query}", tenant)
        assert status == 200, body
        return [job["job_id"] for job in body["jobs"]]


@contextlib.contextmanager
def two_tenants(monkeypatch, api: type[Api] = Api) -> Iterator[Api]:
    """The in-process API with auth required and keys for acme and globex (inside ``aws``)."""
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "required")
    monkeypatch.setenv("VIDEO_JOBS_PAGINATION_KEY", "a test stage's own key")
    services.cache_clear()
    keys = keys_for_tenants()
    try:
        with Client(app) as client:
            yield api(client, keys)
    finally:
        services.cache_clear()


def keys_for_tenants() -> dict[str, str]:
    from infra.keys import create

    wired = services()
    return {name: create(wired.keys, wired.secrets, name)["api_token"] for name in TENANTS}


def completed(job_id: str, duration_s: float = 2.5) -> None:
    """Finish a submitted job as a worker would leave it: results head, a piece, a checkpoint,
    a thumbnail, and the row's duration."""
    wired = services()
    head = results_path(job_id)
    for path in (head, piece_path(head, 0), head.replace("_results", "_checkpoint00001_results")):
        wired.storage.save_file(b"{}", path)
    wired.storage.save_file(b"\xff\xd8\xff\xe0 a JPEG", thumbnail_path(job_id))
    wired.jobs.claim(job_id, "worker", lease_s=60)
    wired.jobs.complete(job_id, owner="worker", output_path=head, duration_s=duration_s,
                        thumbnail_path=thumbnail_path(job_id))  # fmt: skip


def everything_stored(aws) -> tuple[list[str], list[dict]]:
    """Every key in the bucket and every item in the table (boto3 on moto, not our adapters)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=aws.settings.bucket)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    table = boto3.client("dynamodb", region_name="us-east-1")
    items = table.scan(TableName=aws.settings.table_name, ConsistentRead=True)["Items"]
    return keys, items
