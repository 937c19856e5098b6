"""LibraryPages: what the library page carries, its headers and its one parameter."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from chalicelib.access.authenticator import Authenticator
from chalicelib.access.keys import InMemoryKeyStore
from chalicelib.adapters.storage import LocalStorage, S3Storage
from chalicelib.errors import BadRequest
from chalicelib.jobs.library import STATUSES
from chalicelib.jobs.tenancy import Caller
from chalicelib.viewer.library import PAGE, LibraryPages, check_page_params, image_source

HOSTILE = "lt1.</script><script>alert(1)</script>"


def page_config(html: str) -> dict:
    match = re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no config"
    return json.loads(match.group(1))


def auth(required: bool) -> Authenticator:
    return Authenticator(required=required, keys=InMemoryKeyStore(), secrets=lambda: None,
                         view_key=b"k" * 32, view_ttl_s=600, region="us-east-1",
                         clock=lambda: 1_780_000_000.0)  # type: ignore[arg-type]  # fmt: skip


def test_the_page_carries_relative_api_urls_the_statuses_and_its_token():
    with LocalStorage.temporary() as storage:
        page = LibraryPages(storage=storage).page("lt1.1.acme." + "0" * 32)
    assert page_config(page.html) == {
        "jobs_url": "jobs", "search_url": "search", "view_url": "view/",  # keep a stage prefix
        "statuses": list(STATUSES), "page_size": 20, "token": "lt1.1.acme." + "0" * 32,
    }  # fmt: skip


def test_no_value_can_close_the_config_element():
    with LocalStorage.temporary() as storage:
        html = LibraryPages(storage=storage).page(HOSTILE).html
    assert "<script>alert(1)" not in html and page_config(html)["token"] == HOSTILE


def test_the_policy_runs_only_the_pages_own_blocks_and_shows_images_from_the_job_prefix():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="media")
        headers = LibraryPages(storage=S3Storage(s3, "media")).page(None).headers
    csp = str(headers["Content-Security-Policy"])
    policy = dict(part.split(" ", 1) for part in csp.split("; "))
    text = PAGE.read_text(encoding="utf-8")
    for block, source in (("script", "script-src"), ("style", "style-src")):
        bodies = re.findall(rf"<{block}>(.*?)</{block}>", text, re.S)
        digests = [base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in bodies]
        assert digests and policy[source] == " ".join(f"'sha256-{d}'" for d in digests)
    assert policy["img-src"] == "https://media.s3.amazonaws.com/video_jobs/"
    assert (policy["default-src"], policy["connect-src"], policy["frame-ancestors"]) == (
        "'none'", "'self'", "'none'",
    )  # fmt: skip
    assert "media-src" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert (headers["Referrer-Policy"], headers["Cache-Control"]) == ("no-referrer", "no-store")


def test_a_local_storage_page_may_show_file_urls_only():
    with LocalStorage.temporary() as storage:
        assert image_source(storage) == "file:"


@pytest.mark.parametrize(
    "params", [{"t": "1"}, {"token": "x", "status": "failed"}, {"next_token": "x"}]
)
def test_any_parameter_but_token_is_a_400_naming_what_the_page_takes(params):
    with pytest.raises(BadRequest, match="takes only token"):
        check_page_params(params)


def test_a_token_longer_than_any_library_token_is_a_400_even_with_auth_off():
    with pytest.raises(BadRequest, match="201 characters, longer than any"):
        check_page_params({"token": "x" * 201})


def test_the_page_takes_no_parameter_or_its_token():
    assert check_page_params(None) is None and check_page_params({"token": "t"}) == "t"


def test_a_link_carries_a_library_token_when_auth_is_required():
    with LocalStorage.temporary() as storage:
        pages = LibraryPages(storage=storage)
        assert pages.link(Caller("acme"), auth(False)) == {"url": "/video/library",
                                                          "expires_at": None}  # fmt: skip
        required = auth(True)
        link = pages.link(Caller("acme"), required)
    url = urlsplit(link["url"])
    (token,) = parse_qs(url.query)["token"]
    assert url.path == "/video/library" and required.library(token).tenant == "acme"
    assert link["expires_at"] == "2026-05-28T20:36:40Z"
