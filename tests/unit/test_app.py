"""app.py's own logic: the error-to-status table (the routes are in tests/integration)."""

import pytest

from app import ERROR_STATUS, http_status
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
    assert http_status(error("x")) == status


def test_domain_errors_carry_no_http_meaning():
    for cls in [errors.VideoJobsError, *ERROR_STATUS]:
        assert not hasattr(cls, "status"), cls
