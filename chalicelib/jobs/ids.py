"""Job ids, the storage paths derived from them, and the job id a queue message names.

Ids are UUID4s: unguessable, so knowing one job's id says nothing about another's. Every id from
outside is validated here before it is used to build a storage key, which rules out path
traversal (``../``), NUL bytes and oversized keys by construction.
"""

from __future__ import annotations

import json
import re
import uuid

from chalicelib.errors import JobNotFound, MalformedMessage, quoted

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
PREFIX = "video_jobs"


def new_job_id() -> str:
    return str(uuid.uuid4())


def parse_job_id(raw: object) -> str:
    """The canonical (lower-case) id; a malformed id names no job that could exist."""
    if isinstance(raw, str) and len(raw) == 36 and _UUID4.fullmatch(raw.lower()):
        return raw.lower()
    raise JobNotFound(f"no job with id {quoted(raw)}: job ids are UUID4 strings returned by submit")


def video_path(job_id: str) -> str:
    return f"{PREFIX}/{parse_job_id(job_id)}.mp4"


def results_path(job_id: str) -> str:
    return f"{PREFIX}/{parse_job_id(job_id)}_results.json"


def decode_message(body: str) -> str:
    """The job id in a message body; MalformedMessage for anything that is not our message."""
    try:
        data = json.loads(body)
    except Exception as error:  # ValueError, TypeError, RecursionError ("[[[[..." too deep), ...
        raise MalformedMessage(f"queue message is not JSON ({type(error).__name__})") from None
    if not isinstance(data, dict) or "job_id" not in data:
        raise MalformedMessage("queue message has no job_id")
    try:
        return parse_job_id(data["job_id"])
    except JobNotFound as error:
        raise MalformedMessage(f"queue message names no possible job: {error.message}") from None
