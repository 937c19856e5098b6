"""The video-jobs HTTP API as Python calls; every failure becomes one ``ApiError`` line.

Each call has a wall-clock deadline and a byte cap on its answer, and an answer is checked for
the fields the commands read, so a broken network or a misbehaving server is an ``ApiError``
(refused, reset, cut off mid-body, too slow, not JSON, a field missing), never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests
import urllib3

from video_jobs_cli.errors import ApiError

DEFAULT_API = "http://127.0.0.1:8000"
TIMEOUT_S = 30  # connect, and each read of the socket
ANSWER_DEADLINE_S = 120  # the whole answer, however slowly a server trickles it
UPLOAD_TIMEOUT_S = 600
# A results page stays under Lambda's 6 MB response limit (chalicelib/results/pages.py); the
# local API has no such limit, so allow more, but never without end.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_RESULT_PAGES = 1000  # 43,200 frames (the most a job samples) are 44 pages of 1000
READ_CHUNK_BYTES = 64 * 1024


def check_base_url(url: str) -> str:
    """``url`` if it can be the API's base URL (http or https, a host, a valid port, no query
    or fragment); else ``ValueError`` with the reason."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        raise ValueError(f"{url!r} is not a URL: {error}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if port == 0:
        raise ValueError(f"{url!r} has port 0")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError(f"{url!r} has a query or fragment: give the API's base URL")
    try:  # what requests itself refuses, such as a space in the host
        requests.Request("GET", url).prepare()
    except requests.RequestException as error:
        raise ValueError(f"{url!r} is not a valid URL: {error}") from None
    return url


class Upload(Protocol):
    """What ``put_upload`` sends: read in blocks, its length known in advance."""

    def read(self, n: int = -1, /) -> bytes: ...

    def __len__(self) -> int: ...


class Answer(dict):
    """A JSON object from the API: a field the commands need but the server left out is an
    ``ApiError``, not a ``KeyError`` (every object of an answer is parsed as one)."""

    def __missing__(self, key: str) -> Any:
        raise ApiError(f"incomplete answer from the API: no {key!r} field")


class Api:
    def __init__(self, base_url: str, token: str | None = None):
        if token and not (token.isascii() and token.isprintable()):
            raise ValueError("$VIDEO_JOBS_TOKEN has characters an HTTP header cannot carry")
        self.base_url = check_base_url(base_url).rstrip("/")
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_env(cls, base_url: str | None) -> Api:
        base = base_url or os.environ.get("VIDEO_JOBS_API") or DEFAULT_API
        return cls(base, os.environ.get("VIDEO_JOBS_TOKEN") or None)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        deadline = time.monotonic() + ANSWER_DEADLINE_S
        try:
            with self._session.request(
                method, self.url(path), timeout=TIMEOUT_S, stream=True, **kwargs
            ) as response:
                body = _read_answer(response, deadline)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            raise _network_error(self.base_url, error) from None
        return _json_or_error(response.status_code, body)

    def submit(self, data: bytes, options: dict[str, str]) -> Answer:
        headers = {"Content-Type": "video/mp4"}
        job = self._call("POST", "/video/submit", params=options, data=data, headers=headers)
        return _fields(job, job_id=str)

    def create_upload(self, options: dict[str, str]) -> Answer:
        ticket = _fields(self._call("POST", "/video/uploads", params=options), start_url=str)
        _fields(ticket["upload"], url=str, headers=dict, max_bytes=int)
        return ticket

    def put_upload(self, upload: Answer, stream: Upload) -> None:
        """PUT a readable binary stream (its ``len`` known) to a presigned URL; no API token."""
        try:
            response = requests.put(
                upload["url"], data=stream, headers=upload["headers"], timeout=UPLOAD_TIMEOUT_S
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            where = urlsplit(upload["url"]).netloc
            raise ApiError(f"the upload failed: storage at {where} {_failure(error)}") from None
        if response.status_code >= 300:
            raise ApiError(f"the upload to storage failed with HTTP {response.status_code}")

    def start_upload(self, ticket: Answer) -> Answer:
        return _fields(self._call("POST", ticket["start_url"]), job_id=str)

    def status(self, job_id: str) -> Answer:
        job = self._call("GET", f"/video/status/{_segment(job_id)}")
        _fields(job, job_id=str, status=str, progress=float)
        return _fields(job, optional=True, frames_done=int, frames_total=int)

    def results(self, job_id: str) -> Answer:
        """The results answer with every page of frames (following ``next_token``) merged in."""
        path = f"/video/results/{_segment(job_id)}"
        first = page = self._results_page(path, None)
        seen: set[str] = set()
        while page.get("next_token"):
            token = page["next_token"]
            if token in seen or len(seen) >= MAX_RESULT_PAGES:
                raise ApiError(f"the API's results pages do not end (next_token {token!r})")
            seen.add(token)
            page = self._results_page(path, token)
            first["results"]["frames"].extend(page["results"]["frames"])
        first.pop("next_token", None)
        return first

    def _results_page(self, path: str, token: str | None) -> Answer:
        page = self._call("GET", path, params=None if token is None else {"next_token": token})
        _fields(_fields(page, results=dict)["results"], frames=list)
        return _fields(page, optional=True, next_token=str)

    def stats(self, minutes: int) -> Answer:
        """The last ``minutes`` of the service's metrics (the local stack keeps them)."""
        answer = self._call("GET", "/video/stats", params={"minutes": str(minutes)})
        return _fields(answer, minutes=int, metrics=dict)

    def jobs(self, params: dict[str, str]) -> Answer:
        """One page of the caller's jobs, newest first (``next_token`` while more follow)."""
        page = _fields(self._call("GET", "/video/jobs", params=params), jobs=list)
        for job in page["jobs"]:
            _fields(job, job_id=str, status=str, progress=float)
        return _fields(page, optional=True, next_token=str)

    def search(self, params: dict[str, str | list[str]]) -> Answer:
        """One page of the caller's videos that show this text or these labels, best first."""
        page = _fields(self._call("GET", "/video/search", params=params), hits=list)
        for hit in page["hits"]:
            _fields(hit, job_id=str, score=float, ranges=list)
            for found in hit["ranges"]:
                _fields(found, start_ms=float, end_ms=float, text=list, labels=list)
        return _fields(page, optional=True, next_token=str)

    def delete(self, job_id: str) -> Answer:
        """Cancel an unfinished job, or remove an ended one with everything stored for it."""
        answer = self._call("DELETE", f"/video/{_segment(job_id)}")
        return _fields(answer, job_id=str, status=str, deleted=bool)

    def register_model(self, fields: dict[str, Any]) -> Answer:
        ticket = _fields(self._call("POST", "/video/models", json=fields), start_url=str)
        _fields(ticket["upload"], url=str, headers=dict, max_bytes=int)
        return ticket

    def start_model(self, ticket: Answer) -> Answer:
        return _fields(self._call("POST", ticket["start_url"]), model_id=str, status=str)

    def models(self) -> Answer:
        return _fields(self._call("GET", "/video/models"), models=list)

    def model(self, model_id: str) -> Answer:
        return _fields(self._call("GET", f"/video/models/{_segment(model_id)}"), status=str)

    def delete_model(self, model_id: str) -> Answer:
        return _fields(self._call("DELETE", f"/video/models/{_segment(model_id)}"), model_id=str)

    def view_url(self, job_id: str) -> str:
        """The viewer page's URL; with an API token, a link that carries a short-lived view
        token for this job (a browser cannot send the Bearer header itself)."""
        if "Authorization" not in self._session.headers:
            return self.url(f"/video/view/{_segment(job_id)}")
        link = self._call("POST", f"/video/view/{_segment(job_id)}/link")
        return self.url(_fields(link, url=str)["url"])

    def library_url(self) -> str:
        """The library page's URL; with an API token, a link carrying a short-lived library
        token for the caller's tenant."""
        if "Authorization" not in self._session.headers:
            return self.url("/video/library")
        link = self._call("POST", "/video/library/link")
        return self.url(_fields(link, url=str)["url"])


def _segment(job_id: str) -> str:
    return quote(job_id, safe="")


def _read_answer(response: requests.Response, deadline: float) -> bytes:
    """The body, read as it arrives (``read1``), so both the deadline and the cap hold."""
    chunks, size = [], 0
    while chunk := response.raw.read1(READ_CHUNK_BYTES, decode_content=True):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ApiError(f"the API's answer is larger than {MAX_ANSWER_BYTES} bytes")
        if time.monotonic() > deadline:
            raise ApiError(f"the API's answer took longer than {ANSWER_DEADLINE_S} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _network_error(base_url: str, error: Exception) -> ApiError:
    if _unreachable(error):
        return ApiError(f"the API is not reachable at {base_url} (is it running?)")
    return ApiError(f"the API at {base_url} {_failure(error)}")


def _unreachable(error: Exception) -> bool:
    """Nothing answered at all: the connection was refused, or there is no such host."""
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _failure(error: Exception) -> str:
    """What a requests or urllib3 error means, as the end of "the API at ... <this>"."""
    if _unreachable(error):
        return "is not reachable"
    if isinstance(error, requests.Timeout | urllib3.exceptions.TimeoutError):
        return "did not answer in time"
    if isinstance(error, requests.exceptions.SSLError):
        return f"failed TLS: {error}"
    if isinstance(
        error,
        requests.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | urllib3.exceptions.ProtocolError,
    ):
        return "closed the connection before its answer ended"
    return f"could not be asked: {error}"


def _json_or_error(status: int, content: bytes) -> Answer:
    try:
        body = json.loads(content, object_hook=Answer)
    except ValueError:  # not JSON, or not UTF-8
        body = None
    if 200 <= status < 300 and isinstance(body, Answer):
        return body
    if isinstance(body, Answer) and "message" in body:
        if body.get("code") == "JobNotFound":
            raise ApiError(f"unknown job: {body['message']}")
        raise ApiError(f"{body.get('code', 'Error')}: {body['message']}")
    raise ApiError(f"unexpected answer from the API: HTTP {status}")


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", dict: "an object",
               list: "a list", bool: "true or false"}  # fmt: skip


def _fields(answer: Answer, optional: bool = False, **types: type) -> Answer:
    """``answer`` if each named field is there (unless ``optional``) with the JSON type the
    commands read it as: ``float`` for any finite number; true and false are not numbers."""
    for name, kind in types.items():
        if name not in answer:
            if optional:
                continue
            raise ApiError(f"incomplete answer from the API: no {name!r} field")
        if not _is(answer[name], kind):
            raise ApiError(f"unusable answer from the API: {name!r} is not {_TYPE_NAMES[kind]}")
    return answer


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, kind)
