"""A Rekognition Video-compatible API (JSON 1.1 protocol) over the job system.

``RekognitionApi`` is the use case the composition root builds. Its ``call`` takes the
``X-Amz-Target`` header, the Authorization header and the raw body, validates the request
against botocore's model of the service, runs the operation and returns the answer's JSON
object. Every refusal is a ``RekognitionError`` carrying Rekognition's error code; ``app.py``
renders it.
"""

from __future__ import annotations

from chalicelib.config import Settings
from chalicelib.errors import BadRequest, JobNotFound, ServiceUnavailable
from chalicelib.jobs import JobStore
from chalicelib.queue import QueueService
from chalicelib.rekognition.errors import (
    ACCESS_DENIED,
    INTERNAL,
    INVALID_PARAMETER,
    RESOURCE_NOT_FOUND,
    UNKNOWN_OPERATION,
    RekognitionError,
)
from chalicelib.rekognition.model import OPERATIONS, parse_body, validate
from chalicelib.rekognition.notices import publish_notice
from chalicelib.storage import S3Storage
from chalicelib.submissions import Submissions
from chalicelib.tenancy import PUBLIC, Caller

__all__ = ["INTERNAL", "RekognitionApi", "RekognitionError", "publish_notice"]
TARGET_PREFIX = "RekognitionService."


def operation_of(target: str | None) -> str:
    operation = (target or "").removeprefix(TARGET_PREFIX)
    if not target or not target.startswith(TARGET_PREFIX) or operation not in OPERATIONS:
        shown = repr(target[:80]) if target else "missing"
        offered = ", ".join(TARGET_PREFIX + name for name in OPERATIONS)
        raise RekognitionError(
            UNKNOWN_OPERATION, f"X-Amz-Target is {shown}: this API offers only {offered}"
        )
    return operation


class RekognitionApi:
    """The four operations over the job system's ports (Start* submits through Submissions)."""

    def __init__(
        self,
        *,
        storage: S3Storage,
        queue: QueueService,
        jobs: JobStore,
        submissions: Submissions,
        settings: Settings,
    ):
        self.storage = storage
        self.queue = queue
        self.jobs = jobs
        self.submissions = submissions
        self.settings = settings

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
            raise RekognitionError(
                ACCESS_DENIED,
                "the request is not signed: sign it with SigV4 (any credentials work on the "
                "local stage), as every AWS SDK does",
            )
        params = validate(operation, parse_body(raw_body))
        # imported here: the REST routes share this process and need neither (cold starts)
        from chalicelib.rekognition.get import get_results
        from chalicelib.rekognition.start import start_job

        try:
            if operation.startswith("Start"):
                return start_job(operation, params, self, caller)
            return get_results(operation, params, self, caller)
        except JobNotFound as error:
            raise RekognitionError(RESOURCE_NOT_FOUND, error.message) from None
        except BadRequest as error:
            raise RekognitionError(INVALID_PARAMETER, error.message) from None
        except ServiceUnavailable as error:
            raise RekognitionError(INTERNAL, error.message) from None
