"""video-jobs HTTP API and SQS-triggered analyzer: parse, make one chalicelib call, render.

This module owns HTTP: the routes, and the table that maps domain errors to statuses. The API
path imports no ML code (cv2, onnxruntime, numpy, rapidocr): the analyzer loads it lazily.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from chalice import Chalice, Rate, Response
from chalice.app import Request

from chalicelib import errors, logs
from chalicelib.access.sigv4 import SignedRequest
from chalicelib.bootstrap import courier, services
from chalicelib.config import DEFAULT_NOTICES_QUEUE_NAME, DEFAULT_QUEUE_NAME
from chalicelib.intake import idempotency
from chalicelib.intake.body import extract_video, video_name
from chalicelib.jobs.ids import parse_job_id
from chalicelib.jobs.record import JobRecord
from chalicelib.jobs.tenancy import Caller
from chalicelib.results.pages import results_page
from chalicelib.viewer.library import check_page_params

app = Chalice(app_name="video-jobs", configure_logs=False)  # logs.configure: JSON lines
app.log.setLevel(logging.INFO)
logs.configure()
# Without these, API Gateway hands uploads to the function as mangled text (Chalice's defaults
# omit them; `chalice local` would hide the problem).
app.api.binary_types.extend(["video/mp4", "multipart/form-data"])
ANY_TYPE = ["*/*"]  # we check Content-Type ourselves, to answer with a message that helps
RECONCILE_EVERY_MIN = 5
MAX_TRACE_ID_CHARS = 256  # an X-Ray header is under 100; a log line keeps no more than this


@dataclass(frozen=True)
class Answer:
    """How both APIs answer one domain error: the REST status and ``code`` (the error's class
    name unless given), and Rekognition's ``__type`` with its status."""

    status: int
    aws_type: str
    aws_status: int = 400
    code: str | None = None


INTERNAL = Answer(500, "InternalServerError", 500)
# Domain error -> its answers; the nearest class in an error's ancestry decides. An error not
# under any entry (AnalysisError, LeaseLost, ...) is never meant for a caller: INTERNAL.
ERRORS: dict[type[errors.VideoJobsError], Answer] = {
    errors.BadRequest: Answer(400, "InvalidParameterException"),
    errors.SourceUnreadable: Answer(400, "InvalidS3ObjectException"),
    errors.InvalidToken: Answer(400, "InvalidPaginationTokenException"),
    errors.UnknownOperation: Answer(400, "UnknownOperationException"),
    errors.Unauthorized: Answer(401, "UnrecognizedClientException", 403),
    errors.SignatureMissing: Answer(401, "MissingAuthenticationTokenException", 403),
    errors.SignatureIncomplete: Answer(401, "IncompleteSignatureException", 400),
    errors.SignatureMismatch: Answer(401, "InvalidSignatureException", 403),
    errors.UnknownAccessKey: Answer(401, "UnrecognizedClientException", 403),
    errors.AccessDenied: Answer(403, "AccessDeniedException"),
    errors.JobNotFound: Answer(404, "ResourceNotFoundException"),
    errors.ModelNotFound: Answer(404, "ResourceNotFoundException"),
    errors.ResultsNotReady: Answer(404, "ResourceNotFoundException"),
    errors.StatsUnavailable: Answer(404, "ResourceNotFoundException"),
    errors.Conflict: Answer(409, "InvalidParameterException"),
    errors.KeyReused: Answer(409, "IdempotentParameterMismatchException", code="Conflict"),
    errors.PayloadTooLarge: Answer(413, "VideoTooLargeException"),
    errors.UnsupportedMediaType: Answer(415, "InvalidParameterException"),
    errors.TooManyJobs: Answer(429, "LimitExceededException"),
    errors.ServiceUnavailable: Answer(503, "InternalServerError", 500),
    errors.ResultsDamaged: INTERNAL,  # stored results unreadable: not the caller's fault
}
AUTH_CHALLENGE = 'Bearer realm="video-jobs"'
INTERNAL_MESSAGE = "internal error; nothing was changed, try again later"


def answer_of(error: errors.VideoJobsError) -> Answer:
    for cls in type(error).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return INTERNAL


def error_headers(error: errors.VideoJobsError) -> dict[str, str]:
    if isinstance(error, errors.Unauthorized):
        return {"WWW-Authenticate": AUTH_CHALLENGE}
    if isinstance(error, errors.TooManyJobs):
        return {"Retry-After": str(error.retry_after_s)}
    return {}


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def rest_error(error: errors.VideoJobsError | None) -> Response:
    """The REST answer to a domain error (None: an unexpected one, already logged)."""
    if error is None:
        return _json({"code": "InternalError", "message": INTERNAL_MESSAGE}, 500)
    answer = answer_of(error)
    body = {"code": answer.code or type(error).__name__, "message": error.message}
    return _json(body, answer.status, error_headers(error))


def rekognition_error(error: errors.VideoJobsError | None) -> Response:
    """Rekognition's answer to a domain error: its ``__type`` and status."""
    if error is None:
        return _amz_json({"__type": INTERNAL.aws_type, "message": INTERNAL_MESSAGE}, 500)
    answer = answer_of(error)
    return _amz_json({"__type": answer.aws_type, "message": error.message}, answer.aws_status)


def maps_errors(render: Callable[[errors.VideoJobsError | None], Response]) -> Callable:
    """Turn domain errors into answers through ``render``; anything else is a logged,
    traceback-free 500. Every line logged meanwhile carries the request's ids, the route as its
    ``stage`` and the job it names (chalicelib/logs.py)."""

    def decorate(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            with logs.context(stage=handler.__name__, **_request_ids(kwargs.get("job_id"))):
                try:
                    return handler(*args, **kwargs)
                except errors.VideoJobsError as error:
                    return render(error)
                except Exception:
                    app.log.exception("unhandled error in %s", handler.__name__)
                    return render(None)

        return wrapper

    return decorate


def _request_ids(job_id: object) -> dict[str, Any]:
    """API Gateway's request id (locally, the invocation's), the X-Ray trace header, and the
    job a path names (a malformed one is left out: it names no job)."""
    request = app.current_request
    invocation = getattr(app, "lambda_context", None)
    request_id = (request.context.get("requestId") if request else None) or getattr(
        invocation, "aws_request_id", None
    )
    trace_id = request.headers.get("x-amzn-trace-id") if request else None
    trace_id = trace_id[:MAX_TRACE_ID_CHARS] if trace_id else None  # the caller's header
    try:
        named = parse_job_id(job_id) if job_id is not None else None
    except errors.JobNotFound:
        named = None
    return {"request_id": request_id, "trace_id": trace_id, "job_id": named}


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it for every route call
    return request


# What each path answers, for OPTIONS: without a route of its own, chalice local answered 200
# with no Allow header and API Gateway would answer 403 "Missing Authentication Token".
ALLOWED_METHODS = {
    "/video/submit": ("submit_options", "POST, OPTIONS"),
    "/video/uploads": ("create_upload_options", "POST, OPTIONS"),
    "/video/uploads/{job_id}/start": ("start_upload_options", "POST, OPTIONS"),
    "/video/status/{job_id}": ("job_status_options", "GET, HEAD, OPTIONS"),
    "/video/results/{job_id}": ("job_results_options", "GET, HEAD, OPTIONS"),
    "/video/view/{job_id}": ("view_job_options", "GET, HEAD, OPTIONS"),
    "/video/view/{job_id}/link": ("view_link_options", "POST, OPTIONS"),
    "/video/stats": ("job_stats_options", "GET, OPTIONS"),
    "/video/jobs": ("list_jobs_options", "GET, OPTIONS"),
    "/video/library": ("library_page_options", "GET, HEAD, OPTIONS"),
    "/video/library/link": ("library_link_options", "POST, OPTIONS"),
    "/video/search": ("search_jobs_options", "GET, OPTIONS"),
    "/video/{job_id}": ("delete_job_options", "DELETE, OPTIONS"),
    "/video/models": ("models_options", "GET, POST, OPTIONS"),
    "/video/models/{model_id}": ("model_options", "GET, DELETE, OPTIONS"),
    "/video/models/{model_id}/start": ("start_model_options", "POST, OPTIONS"),
    "/": ("rekognition_api_options", "POST, OPTIONS"),
}


def _options_view(allow: str) -> Callable[..., Response]:
    def options(job_id: str | None = None, model_id: str | None = None) -> Response:
        return Response(body="", status_code=204, headers={"Allow": allow})

    return options


for _path, (_name, _allow) in ALLOWED_METHODS.items():
    app.route(_path, methods=["OPTIONS"], name=_name, content_types=ANY_TYPE)(_options_view(_allow))


def _without_body(response: Response) -> Response:
    """A HEAD answer: the GET answer's status and headers, no body."""
    response.body = ""
    return response


def _caller(job_id: str | None = None, *, library: bool = False) -> Caller:
    """Who sends this request (chalicelib/access/authenticator.py); ``job_id``: a route that
    only reads that job, which a viewer link's token may do too; ``library``: a read-only route
    the library page calls, which a library link's token may too."""
    authorization = _request().headers.get("authorization")
    caller = services().auth.bearer(authorization, job_id=job_id, library=library)
    logs.bind(tenant=caller.tenant)
    return caller


def _accepted(job: JobRecord) -> Response:
    """202 with the job id and where to poll it."""
    status_url = f"/video/status/{job.job_id}"
    body = {"job_id": job.job_id, "status": job.status, "status_url": status_url}
    return _json(body, 202, {"Location": status_url})


@app.route("/video/submit", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def submit() -> Response:
    request, submissions, caller = _request(), services().submissions, _caller()
    body, content_type = cast(bytes, request.raw_body), request.headers.get("content-type")
    data, name = extract_video(body, content_type), video_name(body, content_type)
    options = submissions.parse_options(request.query_params, caller)
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    job = submissions.submit(data, options, idempotency_key=key, caller=caller, source_name=name)
    return _accepted(job)


@app.route("/video/uploads", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def create_upload() -> Response:
    submissions, caller = services().submissions, _caller()
    options = submissions.parse_options(_request().query_params, caller)
    ticket = submissions.create_upload(options, caller)
    job_id = ticket.job.job_id
    return _json(
        {
            "job_id": job_id,
            "status": ticket.job.status,
            "upload": {
                "url": ticket.url,
                "method": "PUT",
                "headers": ticket.headers,
                "expires_at": ticket.expires_at,
                "max_bytes": ticket.max_bytes,
            },
            "start_url": f"/video/uploads/{job_id}/start",
        },
        201,
    )


@app.route("/video/uploads/{job_id}/start", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def start_upload(job_id: str) -> Response:
    return _accepted(services().submissions.start_upload(job_id, _caller()))


@app.route("/video/status/{job_id}", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def job_status(job_id: str) -> Response:
    return _json(services().queries.status(job_id, _caller(job_id)))


@app.route("/video/status/{job_id}", methods=["HEAD"], content_types=ANY_TYPE)
def job_status_head(job_id: str) -> Response:
    return _without_body(job_status(job_id))


@app.route("/video/results/{job_id}", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def job_results(job_id: str) -> Response:
    caller = _caller(job_id)
    page = results_page(_request().query_params)
    return _json(services().queries.results(job_id, page, caller))


@app.route("/video/results/{job_id}", methods=["HEAD"], content_types=ANY_TYPE)
def job_results_head(job_id: str) -> Response:
    return _without_body(job_results(job_id))


@app.route("/video/view/{job_id}", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def view_job(job_id: str) -> Response:
    """The results viewer page (HTML); an unknown job is the usual 404 JSON error. With auth
    required it needs a viewer link's ``token`` (or the API token, as a Bearer header)."""
    params: Mapping[str, str] = _request().query_params or {}
    token, auth = params.get("token"), services().auth
    caller = auth.viewer(token, job_id) if token else _caller(job_id)
    page = services().viewer.page(job_id, caller, token)
    return Response(page.html, status_code=200, headers=page.headers)


@app.route("/video/view/{job_id}", methods=["HEAD"], content_types=ANY_TYPE)
def view_job_head(job_id: str) -> Response:
    return _without_body(view_job(job_id))


@app.route("/video/view/{job_id}/link", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def view_link(job_id: str) -> Response:
    """A link to the viewer page that works in a browser (it carries a short-lived view token
    for this one job when auth is required)."""
    return _json(services().viewer.link(job_id, _caller(library=True), services().auth))


@app.route("/video/stats", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def job_stats() -> Response:
    """The last ``minutes`` of the metrics, for the local operator (chalicelib/jobs/stats.py
    says who sees which tenants)."""
    return _json(services().stats.last(_request().query_params, _caller()))


@app.route("/video/jobs", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def list_jobs() -> Response:
    """The caller's jobs, newest first, paged (chalicelib/jobs/library.py)."""
    return _json(services().library.list(_request().query_params, _caller(library=True)))


@app.route("/video/library", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def library_page() -> Response:
    """The library page (HTML): the caller's jobs, thumbnails and a search box. With auth
    required it needs a library link's ``token`` (or the API token, as a Bearer header)."""
    token = check_page_params(_request().query_params)
    caller = services().auth.library(token) if token else _caller(library=True)
    page = services().library_pages.page(token if caller.restricted else None)
    return Response(page.html, status_code=200, headers=page.headers)


@app.route("/video/library", methods=["HEAD"], content_types=ANY_TYPE)
def library_page_head() -> Response:
    return _without_body(library_page())


@app.route("/video/library/link", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def library_link() -> Response:
    """A link to the library page that works in a browser (it carries a short-lived library
    token for the caller's tenant when auth is required)."""
    return _json(services().library_pages.link(_caller(), services().auth))


@app.route("/video/search", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def search_jobs() -> Response:
    """The caller's completed videos that show this text or these labels, best first, paged
    (chalicelib/search/service.py)."""
    return _json(services().search.search(_request().query_params, _caller(library=True)))


@app.route("/video/{job_id}", methods=["DELETE"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def delete_job(job_id: str) -> Response:
    """Cancel an unfinished job, or remove an ended one with everything stored for it."""
    return _json(services().library.delete(job_id, _caller()))


@app.route("/video/models", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def register_model() -> Response:
    """A tenant's own detector: its record, and where to PUT the .onnx file (chalicelib/models/)."""
    ticket = services().catalog.register(cast(bytes, _request().raw_body), _caller())
    model_id = ticket.model.model_id
    return _json(
        {
            "model": ticket.model.public(),
            "upload": {
                "url": ticket.url, "method": "PUT", "headers": ticket.headers,
                "expires_at": ticket.expires_at, "max_bytes": ticket.max_bytes,
            },
            "start_url": f"/video/models/{model_id}/start",
        },
        201,
        {"Location": f"/video/models/{model_id}"},
    )  # fmt: skip


@app.route("/video/models/{model_id}/start", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def start_model(model_id: str) -> Response:
    """The file is uploaded: check its size and queue its validation."""
    return _json(services().catalog.start(model_id, _caller()).public(), 202)


@app.route("/video/models", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def list_models() -> Response:
    return _json(services().catalog.list(_caller()))


@app.route("/video/models/{model_id}", methods=["GET"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def get_model(model_id: str) -> Response:
    return _json(services().catalog.get(model_id, _caller()).public())


@app.route("/video/models/{model_id}", methods=["DELETE"], content_types=ANY_TYPE)
@maps_errors(rest_error)
def delete_model(model_id: str) -> Response:
    """Jobs already queued with it fail (ModelUnavailable) when the analyzer reaches them."""
    return _json(services().catalog.delete(model_id, _caller()))


def _amz_json(body: dict, status: int) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return Response(body=json.dumps(body), status_code=status, headers=headers)


@app.route("/", methods=["POST"], content_types=ANY_TYPE)
@maps_errors(rekognition_error)
def rekognition_api() -> Response:
    """Rekognition Video's JSON 1.1 protocol: X-Amz-Target names the operation."""
    request = _request()
    target, signature = request.headers.get("x-amz-target"), request.headers.get("authorization")
    body = cast(bytes, request.raw_body) or b""
    caller = services().auth.signed(_signed_request(request, body))
    logs.bind(tenant=caller.tenant)
    return _amz_json(services().rekognition.call(target, signature, body, caller), 200)


def _signed_request(request: Request, body: bytes) -> SignedRequest:
    """What SigV4 covers. The client signed the path it sent: ``/`` locally, ``/api/`` through
    API Gateway's stage URL (the context's path), ``/`` again behind a custom domain."""
    sent = request.context.get("path") or "/"
    return SignedRequest(
        method=request.method,
        paths=tuple(dict.fromkeys((sent, "/"))),
        query=request.query_params or {},
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
    )


@app.on_sqs_message(queue=DEFAULT_QUEUE_NAME, batch_size=1)
def analyze_video(event: Any) -> None:
    """One job (or one slice of a long one) per invocation; raising makes SQS redeliver (and
    finally dead-letter) it."""
    worker = services().worker
    context = getattr(event, "context", None)
    for record in event:
        attributes = record.to_dict().get("attributes", {})
        remaining = context.get_remaining_time_in_millis() if context is not None else None
        count = int(attributes.get("ApproximateReceiveCount", 1))
        with logs.context(stage="analyze", **_invocation_ids(context, attributes)):
            worker.handle_message(record.body, count, remaining)


def _invocation_ids(context: Any, attributes: Mapping[str, str]) -> dict[str, Any]:
    """The invocation's request id, and the trace its message carries (SQS passes the
    sender's X-Ray header on as ``AWSTraceHeader``)."""
    return {
        "request_id": getattr(context, "aws_request_id", None),
        "trace_id": attributes.get("AWSTraceHeader"),
    }


@app.on_sqs_message(queue=DEFAULT_NOTICES_QUEUE_NAME, batch_size=1)
def deliver_notice(event: Any) -> None:
    """One webhook attempt per message; a failed one is re-queued with a delay (delivery.py)."""
    context = getattr(event, "context", None)
    for record in event:
        attributes = record.to_dict().get("attributes", {})
        with logs.context(stage="deliver_notice", **_invocation_ids(context, attributes)):
            courier().handle(record.body)


@app.schedule(Rate(RECONCILE_EVERY_MIN, unit=Rate.MINUTES))
def reconcile_jobs(event: Any) -> None:
    """Re-queue jobs stranded by a failed enqueue or by workers that died, fail expired uploads,
    free the places of ended jobs (see reconcile.py)."""
    report = services().reconcile()
    app.log.info(
        "reconcile: %d examined, %d re-queued, %d expired uploads failed, %d places freed",
        report.examined, len(report.requeued), len(report.expired), len(report.freed),
    )  # fmt: skip
