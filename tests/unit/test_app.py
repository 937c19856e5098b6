"""app.py's own logic: the error-to-status table (the routes are in tests/integration)."""

import pytest

from app import ERRORS, answer_of
from chalicelib import errors


@pytest.mark.parametrize(
    "error, status",
    [
        (errors.BadRequest, 400),
        (errors.InvalidVideo, 400),
        (errors.UnknownPipeline, 400),
        (errors.InputMissing, 400),
        (errors.TooManyFrames, 400),
        (errors.JobNotFound, 404),
        (errors.ResultsNotReady, 404),
        (errors.ResultsDamaged, 500),
        (errors.Conflict, 409),
        (errors.IllegalTransition, 409),
        (errors.PayloadTooLarge, 413),
        (errors.UnsupportedMediaType, 415),
        (errors.ServiceUnavailable, 503),
        (errors.AnalysisError, 500),
        (errors.MalformedMessage, 500),
    ],
)
def test_every_domain_error_has_the_status_clients_rely_on(error, status):
    assert answer_of(error("x")).status == status


def test_domain_errors_carry_no_http_meaning():
    for cls in [errors.VideoJobsError, *ERRORS]:
        assert not hasattr(cls, "status"), cls


@pytest.mark.parametrize(
    "error, aws_type, aws_status",
    [
        (errors.BadRequest, "InvalidParameterException", 400),
        (errors.SourceUnreadable, "InvalidS3ObjectException", 400),
        (errors.InvalidToken, "InvalidPaginationTokenException", 400),
        (errors.UnknownOperation, "UnknownOperationException", 400),
        (errors.SignatureMissing, "MissingAuthenticationTokenException", 403),
        (errors.SignatureIncomplete, "IncompleteSignatureException", 400),
        (errors.SignatureMismatch, "InvalidSignatureException", 403),
        (errors.UnknownAccessKey, "UnrecognizedClientException", 403),
        (errors.AccessDenied, "AccessDeniedException", 400),
        (errors.JobNotFound, "ResourceNotFoundException", 400),
        (errors.KeyReused, "IdempotentParameterMismatchException", 400),
        (errors.PayloadTooLarge, "VideoTooLargeException", 400),
        (errors.TooManyJobs, "LimitExceededException", 400),
        (errors.ServiceUnavailable, "InternalServerError", 500),
        (errors.DamagedPiece, "InternalServerError", 500),
        (errors.LeaseLost, "InternalServerError", 500),
    ],
)
def test_the_same_table_gives_rekognition_its_type_and_status(error, aws_type, aws_status):
    answer = answer_of(error("x"))
    assert (answer.aws_type, answer.aws_status) == (aws_type, aws_status)


def test_a_reused_idempotency_key_keeps_its_rest_code():
    answer = answer_of(errors.KeyReused("x"))
    assert (answer.status, answer.code) == (409, "Conflict")
