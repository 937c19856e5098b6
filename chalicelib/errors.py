"""The one error tree of video-jobs.

Everything chalicelib raises on purpose derives from ``VideoJobsError``, with a message that says
what was wrong and what to do about it, never a stack trace. The errors carry no HTTP meaning:
``app.py`` owns the table that maps them to statuses (and a queue message or a failed job shows
the same message).

    VideoJobsError
    ├── BadRequest                  malformed ids, bodies or parameters
    │   ├── InvalidVideo            not a readable MP4 / no decodable video
    │   ├── UnknownPipeline         pipeline id not in the registry
    │   ├── InputMissing            the job's video is no longer in storage
    │   └── TooManyFrames           the job would sample more frames than one job may
    ├── JobNotFound                 no such job (or an id that could never exist)
    ├── ResultsNotReady             job exists but has no results (pending/running/failed)
    ├── ResultsDamaged              a completed job's stored results are unreadable
    ├── Conflict                    the job is not in a state that allows this call
    │   └── IllegalTransition       a conditional status write lost (another writer won)
    ├── PayloadTooLarge             body above the direct-upload limit
    ├── UnsupportedMediaType        Content-Type we do not accept
    ├── ServiceUnavailable          a dependency (S3, DynamoDB) failed; nothing was accepted
    ├── Unauthorized                no, a wrong or a revoked API token
    ├── TooManyJobs                 the tenant already has its most active jobs
    ├── MalformedMessage            a queue message that names no job (logged and dropped)
    └── AnalysisError               the analyzer itself broke; only ever seen as a failed job
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
    """Base of every deliberate error."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(VideoJobsError):
    pass


class InvalidVideo(BadRequest):
    """The bytes are not a video we can analyze; the message says why in plain words."""


class UnknownPipeline(BadRequest):
    pass


class InputMissing(BadRequest):
    pass


class TooManyFrames(BadRequest):
    """The video is over the per-job limits: its duration, or duration x sample rate frames
    (a failed job's reason)."""


class JobNotFound(VideoJobsError):
    pass


class ResultsNotReady(VideoJobsError):
    pass


class ResultsDamaged(VideoJobsError):
    """Not the caller's fault, and retrying cannot help: the job must be submitted again."""


class Conflict(VideoJobsError):
    pass


class IllegalTransition(Conflict):
    pass


class PayloadTooLarge(VideoJobsError):
    pass


class UnsupportedMediaType(VideoJobsError):
    pass


class ServiceUnavailable(VideoJobsError):
    pass


class Unauthorized(VideoJobsError):
    pass


class TooManyJobs(VideoJobsError):
    """The caller's tenant is at ``VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT``."""

    def __init__(self, message: str, retry_after_s: int = 30):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MalformedMessage(VideoJobsError):
    pass


class AnalysisError(VideoJobsError):
    pass
