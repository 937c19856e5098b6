"""The one error tree of video-jobs.

Everything chalicelib raises on purpose derives from ``VideoJobsError``. Each subclass carries the
HTTP status it maps to, so ``app.py`` translates errors in one place and a caller always gets a
message that says what was wrong and what to do about it, never a stack trace.

    VideoJobsError
    ├── BadRequest (400)            malformed ids, bodies or parameters
    │   ├── InvalidVideo (400)      not a readable MP4 / no decodable video
    │   ├── UnknownPipeline (400)   pipeline id not in the registry
    │   └── InputMissing (400)      the job's video is no longer in storage
    ├── JobNotFound (404)           no such job (or an id that could never exist)
    ├── ResultsNotReady (404)       job exists but has no results (pending/running/failed)
    ├── Conflict (409)              the job is not in a state that allows this call
    │   └── IllegalTransition (409) a conditional status write lost (another writer won)
    ├── PayloadTooLarge (413)       body above the direct-upload limit
    ├── UnsupportedMediaType (415)  Content-Type we do not accept
    ├── ServiceUnavailable (503)    a dependency (S3, DynamoDB) failed; nothing was accepted
    └── AnalysisError (500)         the analyzer itself broke; only ever seen as a failed job
"""

from __future__ import annotations

from collections.abc import Iterable

ECHO_CHARS = 40  # of one piece of user input quoted back in an error message
ECHO_ITEMS = 5  # pieces of user input listed in one message


def quoted(value: object) -> str:
    """``repr`` of user input for an error message, cut short: a message never echoes a
    5000-character parameter back in full."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= ECHO_CHARS:
        return repr(text)
    return f"{text[:ECHO_CHARS]!r}... ({len(text)} characters)"


def quoted_list(values: Iterable[object]) -> str:
    """The first few values, each ``quoted``, in sorted order, and how many more there were."""
    items = sorted(map(str, values))
    shown = ", ".join(quoted(item) for item in items[:ECHO_ITEMS])
    more = len(items) - ECHO_ITEMS
    return f"{shown} and {more} more" if more > 0 else shown


class VideoJobsError(Exception):
    """Base of every deliberate error; ``status`` is the HTTP status it maps to."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(VideoJobsError):
    status = 400


class InvalidVideo(BadRequest):
    """The bytes are not a video we can analyze; the message says why in plain words."""


class UnknownPipeline(BadRequest):
    pass


class InputMissing(BadRequest):
    pass


class JobNotFound(VideoJobsError):
    status = 404


class ResultsNotReady(VideoJobsError):
    status = 404


class Conflict(VideoJobsError):
    status = 409


class IllegalTransition(Conflict):
    pass


class PayloadTooLarge(VideoJobsError):
    status = 413


class UnsupportedMediaType(VideoJobsError):
    status = 415


class ServiceUnavailable(VideoJobsError):
    status = 503


class AnalysisError(VideoJobsError):
    status = 500
