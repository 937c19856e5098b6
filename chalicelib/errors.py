"""The one error tree of video-jobs.

Everything chalicelib raises on purpose derives from ``VideoJobsError``, with a message that says
what was wrong and what to do about it, never a stack trace. The errors carry no HTTP meaning:
``app.py`` owns the one table that gives each its REST status and its Rekognition ``__type``
and status (and a queue message or a failed job shows the same message). The class name is the
REST API's public ``code`` unless the table names another (``KeyReused`` is a ``Conflict``).

    VideoJobsError
    ├── BadRequest                  malformed ids, bodies or parameters
    │   ├── InvalidVideo            not a readable MP4 / no decodable video
    │   ├── UnknownPipeline         pipeline id not in the registry
    │   ├── InputMissing            the job's video is no longer in storage
    │   ├── TooManyFrames           the job would sample more frames than one job may
    │   ├── SourceUnreadable        a caller's S3 video cannot be read, or is no video
    │   ├── InvalidToken            a pagination token this API did not issue
    │   ├── InvalidModel            a tenant's model file fails a check (a failed model's reason)
    │   ├── ModelUnavailable        a job's model was deleted or is not ready
    │   └── UnknownOperation        an X-Amz-Target this API does not offer
    ├── Unauthorized                no, a wrong or a revoked API token
    │   ├── SignatureMissing        a signed request without a signature
    │   ├── SignatureIncomplete     a SigV4 header that is not well formed
    │   ├── SignatureMismatch       a signature that does not verify (or has expired)
    │   └── UnknownAccessKey        an access key id nobody issued (or revoked)
    ├── AccessDenied                the caller may not do this (an unsigned request)
    ├── JobNotFound                 no such job (or an id that could never exist)
    ├── ModelNotFound               no such model for this tenant (another tenant's answers so)
    ├── ResultsNotReady             job exists but has no results (pending/running/failed)
    ├── StatsUnavailable            this deployment keeps no stats to show (CloudWatch has them)
    ├── ResultsDamaged              a completed job's stored results are unreadable
    │   └── DamagedPiece            one stored head or piece is missing or not what was written
    ├── DamagedCheckpoint           an unfinished job's checkpoint or frame piece is unusable
    ├── Conflict                    the job is not in a state that allows this call
    │   ├── IllegalTransition       a conditional status write lost (another writer won)
    │   ├── KeyReused               an idempotency key sent again with another request
    │   └── TooManyModels           the tenant holds its most models (or model bytes)
    ├── PayloadTooLarge             body above the direct-upload limit
    ├── UnsupportedMediaType        Content-Type we do not accept
    ├── ServiceUnavailable          a dependency (S3, DynamoDB) failed; nothing was accepted
    ├── TooManyJobs                 the tenant (or the queue) already has its most jobs
    ├── ObjectChanged               a stored object is no longer the version a reader pinned
    ├── ObjectTooLarge              a stored object is larger than its reader would read
    ├── LeaseLost                   another worker took the job over (this one was presumed dead)
    ├── UnknownTopic                a notice's SNS topic does not exist
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


class SourceUnreadable(BadRequest):
    """A Rekognition Start*'s ``Video.S3Object`` cannot be read, or is not a video."""


class InvalidToken(BadRequest):
    """A ``NextToken`` that is not one this API issued for this job and view."""


class UnknownOperation(BadRequest):
    """An ``X-Amz-Target`` that names no operation this API offers."""


class InputMissing(BadRequest):
    pass


class TooManyFrames(BadRequest):
    """The video is over the per-job limits: its duration, or duration x sample rate frames
    (a failed job's reason)."""


class JobNotFound(VideoJobsError):
    pass


class ModelNotFound(VideoJobsError):
    """No model with that id for this tenant: another tenant's model answers exactly so."""


class InvalidModel(BadRequest):
    """A model file fails a check: not ONNX, a custom operator, external data, too large, an
    output that does not fit its classes (the failed model's reason says what to fix)."""


class ModelUnavailable(BadRequest):
    """A job names a model that is not ready (at submit), or that was deleted since (a failed
    job's reason)."""


class ResultsNotReady(VideoJobsError):
    pass


class StatsUnavailable(VideoJobsError):
    """Only the local stack keeps the metrics it shows; on AWS they are in CloudWatch."""


class ResultsDamaged(VideoJobsError):
    """Not the caller's fault, and retrying cannot help: the job must be submitted again."""


class DamagedPiece(ResultsDamaged):
    """A stored results head or piece is missing, not JSON, or not the shape written (the
    message names the object; the query turns it into a ResultsDamaged for the caller)."""


class DamagedCheckpoint(VideoJobsError):
    """A checkpoint of an unfinished job, its analysis state, or a frame piece it counts is
    missing, unreadable or not what was written (``piece``: that piece's index). The worker
    goes on from an earlier checkpoint or the start of the video (``analysis/slices.py``), so no
    caller ever sees it."""

    def __init__(self, message: str, piece: int | None = None):
        super().__init__(message)
        self.piece = piece


class Conflict(VideoJobsError):
    pass


class IllegalTransition(Conflict):
    pass


class KeyReused(Conflict):
    """An idempotency key (or a ClientRequestToken) already used for a different request."""


class TooManyModels(Conflict):
    """The tenant is at its limit of models (``VIDEO_JOBS_MAX_MODELS_PER_TENANT``) or of their
    bytes together: delete one first."""


class PayloadTooLarge(VideoJobsError):
    pass


class UnsupportedMediaType(VideoJobsError):
    pass


class ServiceUnavailable(VideoJobsError):
    pass


class Unauthorized(VideoJobsError):
    pass


class SignatureMissing(Unauthorized):
    pass


class SignatureIncomplete(Unauthorized):
    pass


class SignatureMismatch(Unauthorized):
    pass


class UnknownAccessKey(Unauthorized):
    pass


class AccessDenied(VideoJobsError):
    pass


class TooManyJobs(VideoJobsError):
    """The caller's tenant is at ``VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT``, or (Rekognition
    Start*) the queue holds ``VIDEO_JOBS_MAX_QUEUED_JOBS``."""

    def __init__(self, message: str, retry_after_s: int = 30):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ObjectChanged(VideoJobsError):
    """The stored object is no longer the version the reader pinned (its ETag differs)."""


class ObjectTooLarge(VideoJobsError):
    """The stored object holds more bytes than the reader would read."""


class LeaseLost(VideoJobsError):
    """Another worker took the job over (this one was presumed dead): abandon it quietly."""


class UnknownTopic(VideoJobsError):
    """No SNS topic has that ARN (or SNS refused it as one)."""


class MalformedMessage(VideoJobsError):
    pass


class AnalysisError(VideoJobsError):
    pass
