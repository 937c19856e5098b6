"""The video-jobs HTTP API as Python calls; every failure becomes one ``ApiError`` line."""

from __future__ import annotations

import os
from typing import IO, Any
from urllib.parse import quote

import requests

DEFAULT_API = "http://127.0.0.1:8000"
TIMEOUT_S = 30
UPLOAD_TIMEOUT_S = 600


class ApiError(Exception):
    """What went wrong, in one line a person can act on."""


class JobFailed(ApiError):
    pass


class Api:
    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_env(cls, base_url: str | None) -> Api:
        base = base_url or os.environ.get("VIDEO_JOBS_API") or DEFAULT_API
        return cls(base, os.environ.get("VIDEO_JOBS_TOKEN") or None)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> dict:
        kwargs.setdefault("timeout", TIMEOUT_S)
        try:
            response = self._session.request(method, self.url(path), **kwargs)
        except requests.ConnectionError:
            raise ApiError(
                f"the API is not reachable at {self.base_url} (is it running?)"
            ) from None
        except requests.Timeout:
            raise ApiError(f"the API at {self.base_url} did not answer in time") from None
        return _json_or_error(response)

    def submit(self, data: bytes, options: dict[str, str]) -> dict:
        headers = {"Content-Type": "video/mp4"}
        return self._call("POST", "/video/submit", params=options, data=data, headers=headers)

    def create_upload(self, options: dict[str, str]) -> dict:
        return self._call("POST", "/video/uploads", params=options)

    def put_upload(self, upload: dict, stream: IO[bytes]) -> None:
        """PUT a readable binary stream (its length known) to a presigned URL; no API token."""
        try:
            response = requests.put(
                upload["url"], data=stream, headers=upload["headers"], timeout=UPLOAD_TIMEOUT_S
            )
        except requests.RequestException as error:
            raise ApiError(f"the upload to storage failed: {error}") from None
        if response.status_code >= 300:
            raise ApiError(f"the upload to storage failed with HTTP {response.status_code}")

    def start_upload(self, ticket: dict) -> dict:
        return self._call("POST", ticket["start_url"])

    def status(self, job_id: str) -> dict:
        return self._call("GET", f"/video/status/{_segment(job_id)}")

    def results(self, job_id: str) -> dict:
        """The results answer with every page of frames (following ``next_token``) merged in."""
        path = f"/video/results/{_segment(job_id)}"
        first = page = self._call("GET", path)
        while page.get("next_token"):
            page = self._call("GET", path, params={"next_token": page["next_token"]})
            first["results"]["frames"].extend(page["results"]["frames"])
        first.pop("next_token", None)
        return first

    def view_url(self, job_id: str) -> str:
        """The viewer page's URL; with an API token, a link that carries a short-lived view
        token for this job (a browser cannot send the Bearer header itself)."""
        if "Authorization" not in self._session.headers:
            return self.url(f"/video/view/{_segment(job_id)}")
        return self.url(self._call("POST", f"/video/view/{_segment(job_id)}/link")["url"])


def _segment(job_id: str) -> str:
    return quote(job_id, safe="")


def _json_or_error(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.ok and isinstance(body, dict):
        return body
    if isinstance(body, dict) and "message" in body:
        if body.get("code") == "JobNotFound":
            raise ApiError(f"unknown job: {body['message']}")
        raise ApiError(f"{body.get('code', 'Error')}: {body['message']}")
    raise ApiError(f"unexpected answer from the API: HTTP {response.status_code}")
