"""``RekognitionApi``: the use case behind ``POST /``, built by the composition root.

``call`` takes the ``X-Amz-Target`` header, the Authorization header and the raw body, validates
the request against botocore's model of the service, runs the operation and returns the answer's
JSON object. Every refusal is a domain error (``chalicelib/errors.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.queue import QueueService
from chalicelib.adapters.storage import StorageService
from chalicelib.errors import AccessDenied, UnknownOperation
from chalicelib.intake.submissions import Submissions
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import PUBLIC, Caller
from chalicelib.rekognition.model import OPERATIONS, parse_body, validate

TARGET_PREFIX = "RekognitionService."


@dataclass(frozen=True)
class StartLimits:
    max_video_bytes: int  # a larger source is VideoTooLargeException
    max_queued_jobs: int  # a longer backlog is LimitExceededException


def operation_of(target: str | None) -> str:
    operation = (target or "").removeprefix(TARGET_PREFIX)
    if not target or not target.startswith(TARGET_PREFIX) or operation not in OPERATIONS:
        shown = repr(target[:80]) if target else "missing"
        offered = ", ".join(TARGET_PREFIX + name for name in OPERATIONS)
        raise UnknownOperation(f"X-Amz-Target is {shown}: this API offers only {offered}")
    return operation


class RekognitionApi:
    """The operations of ``model.OPERATIONS`` over the job system's ports (Start* submits through
    Submissions)."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        storage: StorageService,
        queue: QueueService,
        submissions: Submissions,
        limits: StartLimits,
        signing_key: bytes,
    ):
        self.jobs, self.storage, self.queue = jobs, storage, queue
        self.submissions, self.limits, self.signing_key = submissions, limits, signing_key

    def call(
        self,
        target: str | None,
        authorization: str | None,
        raw_body: bytes | None,
        caller: Caller = PUBLIC,
    ) -> dict:
        """Run one operation named by ``target`` (the X-Amz-Target header) for ``caller`` (whose
        signature the authenticator has checked when authentication is required)."""
        operation = operation_of(target)
        if not authorization:  # with auth off any SigV4 signature passes here; none does not
            raise AccessDenied(
                "the request is not signed: sign it with SigV4 (any credentials work on the "
                "local stage), as every AWS SDK does"
            )
        params = validate(operation, parse_body(raw_body))
        # imported here: the REST routes share this process and need neither (cold starts)
        from chalicelib.rekognition.get import get_results
        from chalicelib.rekognition.start import start_job

        if operation.startswith("Start"):
            return start_job(
                operation, params, caller, storage=self.storage, queue=self.queue,
                submissions=self.submissions, max_video_bytes=self.limits.max_video_bytes,
                max_queued_jobs=self.limits.max_queued_jobs,
            )  # fmt: skip
        return get_results(
            operation, params, caller, jobs=self.jobs, storage=self.storage,
            signing_key=self.signing_key,
        )  # fmt: skip
