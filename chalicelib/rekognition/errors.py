"""Rekognition's error vocabulary: the wire code (``__type``) and a message that says what to fix.

These are protocol errors of the Rekognition-compatible API, kept apart from the REST API's
``VideoJobsError`` tree; ``app.py`` decides the HTTP status (500 for a server fault, else 400).
"""

from __future__ import annotations

INVALID_PARAMETER = "InvalidParameterException"
INVALID_S3_OBJECT = "InvalidS3ObjectException"
RESOURCE_NOT_FOUND = "ResourceNotFoundException"
IDEMPOTENT_MISMATCH = "IdempotentParameterMismatchException"
VIDEO_TOO_LARGE = "VideoTooLargeException"
LIMIT_EXCEEDED = "LimitExceededException"
INVALID_TOKEN = "InvalidPaginationTokenException"
ACCESS_DENIED = "AccessDeniedException"
INTERNAL = "InternalServerError"
UNKNOWN_OPERATION = "UnknownOperationException"  # not in the model: an operation we lack
# SigV4 refusals, as AWS names them (chalicelib/rekognition/sigv4.py); HTTP 403, except the
# malformed header's 400
MISSING_AUTHENTICATION = "MissingAuthenticationTokenException"
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"


class RekognitionError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"__type": self.code, "message": self.message}


def invalid(message: str) -> RekognitionError:
    return RekognitionError(INVALID_PARAMETER, message)
