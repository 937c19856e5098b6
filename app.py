"""video-jobs HTTP API and SQS-triggered analyzer: parse, call chalicelib, map errors. Nothing else.

The API path imports no ML code (cv2, onnxruntime, numpy, rapidocr): the analyzer loads it lazily.
"""

from __future__ import annotations

import functools
import json
import logging

from chalice import Chalice, Rate, Response

from chalicelib import idempotency, submissions
from chalicelib.bootstrap import services
from chalicelib.config import DEFAULT_QUEUE_NAME
from chalicelib.errors import JobNotFound, ResultsNotReady, VideoJobsError
from chalicelib.jobs import COMPLETED, FAILED, Job
from chalicelib.reconcile import reconcile
from chalicelib.results import results_page
from chalicelib.uploads import extract_video

app = Chalice(app_name="video-jobs")
app.log.setLevel(logging.INFO)
# Without these, API Gateway hands uploads to the function as mangled text (Chalice's defaults
# omit them; `chalice local` would hide the problem).
app.api.binary_types.extend(["video/mp4", "multipart/form-data"])
ANY_TYPE = ["*/*"]  # we check Content-Type ourselves, to answer with a message that helps
RECONCILE_EVERY_MIN = 5


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def maps_errors(handler):
    """Turn domain errors into JSON 4xx answers; anything else is a logged, traceback-free 500."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except VideoJobsError as error:
            return _json({"code": type(error).__name__, "message": error.message}, error.status)
        except Exception:
            app.log.exception("unhandled error in %s", handler.__name__)
            return _json(
                {
                    "code": "InternalError",
                    "message": "internal error; nothing was changed, try again later",
                },
                500,
            )

    return wrapper


# What each path answers, for OPTIONS: without a route of its own, chalice local answered 200
# with no Allow header and API Gateway would answer 403 "Missing Authentication Token".
ALLOWED_METHODS = {
    "/video/submit": ("submit_options", "POST, OPTIONS"),
    "/video/uploads": ("create_upload_options", "POST, OPTIONS"),
    "/video/uploads/{job_id}/start": ("start_upload_options", "POST, OPTIONS"),
    "/video/status/{job_id}": ("job_status_options", "GET, HEAD, OPTIONS"),
    "/video/results/{job_id}": ("job_results_options", "GET, HEAD, OPTIONS"),
}


def _options_view(allow: str):
    def options(job_id: str | None = None) -> Response:
        return Response(body="", status_code=204, headers={"Allow": allow})

    return options


for _path, (_name, _allow) in ALLOWED_METHODS.items():
    app.route(_path, methods=["OPTIONS"], name=_name, content_types=ANY_TYPE)(_options_view(_allow))


def _without_body(response: Response) -> Response:
    """A HEAD answer: the GET answer's status and headers, no body."""
    response.body = ""
    return response


def _accepted(job: Job) -> Response:
    """202 with the job id and where to poll it."""
    status_url = f"/video/status/{job.job_id}"
    body = {"job_id": job.job_id, "status": job.status, "status_url": status_url}
    return _json(body, 202, {"Location": status_url})


def _job_view(job: Job) -> dict:
    view = {
        "job_id": job.job_id,
        "status": job.status,
        "progress": job.progress,
        "pipeline_id": job.pipeline_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
    if job.status == FAILED:
        view["error_message"] = job.error_message
    return view


@app.route("/video/submit", methods=["POST"], content_types=ANY_TYPE)
@maps_errors
def submit():
    request, ctx = app.current_request, services()
    data = extract_video(request.raw_body, request.headers.get("content-type"))
    options = submissions.parse_job_options(request.query_params, ctx.settings)
    job = submissions.submit_video(
        data,
        options,
        storage=ctx.storage,
        queue=ctx.queue,
        settings=ctx.settings,
        idempotency_key=idempotency.parse_key(request.headers.get(idempotency.HEADER)),
    )
    return _accepted(job)


@app.route("/video/uploads", methods=["POST"], content_types=ANY_TYPE)
@maps_errors
def create_upload():
    ctx = services()
    options = submissions.parse_job_options(app.current_request.query_params, ctx.settings)
    ticket = submissions.create_upload(options, storage=ctx.storage, settings=ctx.settings)
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
@maps_errors
def start_upload(job_id):
    ctx = services()
    job = submissions.start_upload(
        job_id, storage=ctx.storage, queue=ctx.queue, settings=ctx.settings
    )
    return _accepted(job)


@app.route("/video/status/{job_id}", methods=["GET"], content_types=ANY_TYPE)
@maps_errors
def job_status(job_id):
    services()  # binds the Job model to the configured table
    return _json(_job_view(Job.get_by_id(job_id)))


@app.route("/video/status/{job_id}", methods=["HEAD"], content_types=ANY_TYPE)
def job_status_head(job_id):
    return _without_body(job_status(job_id))


@app.route("/video/results/{job_id}", methods=["GET"], content_types=ANY_TYPE)
@maps_errors
def job_results(job_id):
    ctx = services()
    page = results_page(app.current_request.query_params)
    job = Job.get_by_id(job_id)
    if job.status != COMPLETED:
        reason = f": {job.error_message}" if job.status == FAILED else "; poll its status"
        raise ResultsNotReady(f"job {job.job_id} has no results: it is {job.status}{reason}")
    try:
        results = json.loads(ctx.storage.load_file(job.output_path))
    except FileNotFoundError:
        raise JobNotFound(f"results of job {job.job_id} are gone (expired?)") from None
    results["frames"], next_token = page.cut(results["frames"])
    body = {
        "job_id": job.job_id,
        "results": results,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
    if next_token:
        body["next_token"] = next_token
    return _json(body)


@app.route("/video/results/{job_id}", methods=["HEAD"], content_types=ANY_TYPE)
def job_results_head(job_id):
    return _without_body(job_results(job_id))


@app.on_sqs_message(queue=DEFAULT_QUEUE_NAME, batch_size=1)
def analyze_video(event):
    """One job per invocation; raising makes SQS redeliver (and finally dead-letter) it."""
    worker = services().worker
    for record in event:
        attributes = record.to_dict().get("attributes", {})
        worker.handle_message(record.body, int(attributes.get("ApproximateReceiveCount", 1)))


@app.schedule(Rate(RECONCILE_EVERY_MIN, unit=Rate.MINUTES))
def reconcile_jobs(event):
    """Re-queue jobs stranded by a failed enqueue or by workers that died (see reconcile.py)."""
    ctx = services()
    report = reconcile(ctx.queue, stale_after_s=ctx.settings.job_lease_s * 2)
    app.log.info("reconcile: %d examined, %d re-queued", report.examined, len(report.requeued))
