"""GetLabelDetection / GetTextDetection / GetSegmentDetection: a job's status and one page of its
results."""

from __future__ import annotations

from chalicelib.adapters.storage import StorageService
from chalicelib.errors import DamagedPiece, JobNotFound
from chalicelib.jobs.queries import damaged
from chalicelib.jobs.record import CANCELLED, COMPLETED, FAILED, JobRecord
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import Caller
from chalicelib.rekognition import label_results, segment_results, text_results, tokens
from chalicelib.rekognition.timecodes import FrameClock
from chalicelib.results import pieces

MAX_RESULTS = 1000  # the most one page holds, and the default (a larger MaxResults gets 1000)
JOB_STATUS = {
    COMPLETED: "SUCCEEDED",
    FAILED: "FAILED",
    CANCELLED: "FAILED",
}  # every other status: IN_PROGRESS
STARTED_BY = {
    "GetLabelDetection": "StartLabelDetection",
    "GetTextDetection": "StartTextDetection",
    "GetSegmentDetection": "StartSegmentDetection",
}
ENTRIES_KEY = {
    "GetLabelDetection": "Labels",
    "GetTextDetection": "TextDetections",
    "GetSegmentDetection": "Segments",
}
FALLBACK_FPS = 30.0  # timecodes of a video whose rate could not be read (never seen in practice)
MP4_FORMAT = "QuickTime / MOV"  # how Rekognition names the MP4 family's container


def find_job(jobs: JobStore, operation: str, job_id: str, caller: Caller) -> tuple[JobRecord, dict]:
    """The job and its stored Start* request; ResourceNotFound unless that Start* made it (for
    the caller's tenant)."""
    try:
        job = jobs.get(job_id, caller)
    except JobNotFound:
        raise JobNotFound(f"no job with JobId {job_id!r}") from None
    request = (job.options or {}).get("rekognition") or {}
    if request.get("Operation") != STARTED_BY[operation]:
        raise JobNotFound(
            f"job {job.job_id} was not started by {STARTED_BY[operation]}: "
            f"{operation} reads only jobs that operation started",
        )
    return job, request


def video_metadata(video: dict) -> dict:
    metadata = {
        "Codec": video.get("codec"),
        "DurationMillis": video.get("duration_ms"),
        "Format": MP4_FORMAT,
        "FrameRate": video.get("fps"),
        "FrameHeight": video.get("height"),
        "FrameWidth": video.get("width"),
    }
    return {key: value for key, value in metadata.items() if value is not None}


def get_results(
    operation: str,
    params: dict,
    caller: Caller,
    *,
    jobs: JobStore,
    storage: StorageService,
    signing_key: bytes,
) -> dict:
    """One page of a Start* job's results, in Rekognition's shapes; ``signing_key`` signs the
    NextTokens."""
    job, request = find_job(jobs, operation, params["JobId"], caller)
    key = ENTRIES_KEY[operation]
    answer: dict = {
        "JobStatus": JOB_STATUS.get(job.status, "IN_PROGRESS"),
        "JobId": job.job_id,
        "Video": request["Video"],
    }
    if "JobTag" in request:
        answer["JobTag"] = request["JobTag"]
    sort_by, aggregate_by = (
        params.get("SortBy", "TIMESTAMP"),
        params.get("AggregateBy", "TIMESTAMPS"),
    )
    if operation == "GetLabelDetection":
        answer["GetRequestMetadata"] = {"SortBy": sort_by, "AggregateBy": aggregate_by}
    if job.status == FAILED:
        answer["StatusMessage"] = job.error_message or "analysis failed"
    if job.status == CANCELLED:
        answer["StatusMessage"] = "the job was cancelled by its owner"
    if job.status != COMPLETED:
        return {**answer, key: []}
    members, entries = _rendered(operation, request, params, _load(storage, job))
    answer.update(members)
    view = f"{operation}|{sort_by}|{aggregate_by}"
    return {**answer, **_page(entries, key, job.job_id, view, params, signing_key)}


def _rendered(operation: str, request: dict, params: dict, results: dict) -> tuple[dict, list]:
    """The answer's members that describe the results, and its entries (before paging)."""
    video, models = results.get("video", {}), results.get("models", {})
    if operation == "GetSegmentDetection":
        kept = segment_results.SegmentFilter(request)
        clock = FrameClock.of(video.get("fps") or FALLBACK_FPS)
        model_version = models.get("shots", {}).get("name", "unknown")
        members = {
            "SelectedSegmentTypes": segment_results.selected_types(kept, model_version),
            "VideoMetadata": [video_metadata(video)],  # a list here: one per video
            "AudioMetadata": [],  # no audio is analyzed
        }
        return members, segment_results.segment_entries(results, kept, clock)
    if operation == "GetLabelDetection":
        accept = label_results.LabelFilter(request)
        if params.get("AggregateBy") == "SEGMENTS":
            entries = label_results.segments(results, accept)
        else:
            entries = label_results.by_timestamp(results["frames"], accept, results.get("tracks"))
        model = models.get("detector", {}).get("name", "unknown")
        entries = label_results.sort_labels(entries, params.get("SortBy", "TIMESTAMP"))
        return {"VideoMetadata": video_metadata(video), "LabelModelVersion": model}, entries
    entries = text_results.text_entries(results["frames"], text_results.WordFilter(request))
    model = models.get("ocr", {}).get("name", "unknown")
    return {"VideoMetadata": video_metadata(video), "TextModelVersion": model}, entries


def _load(storage: StorageService, job: JobRecord) -> dict:
    try:
        return pieces.read_document(storage, job.output_path or "")
    except FileNotFoundError:
        raise JobNotFound(f"the results of job {job.job_id} are gone (expired?)") from None
    except DamagedPiece as error:
        raise damaged(job.job_id, error) from None


def _page(entries: list, key: str, job_id: str, view: str, params: dict, secret: bytes) -> dict:
    start = tokens.read(secret, job_id, view, params.get("NextToken"))
    if start > len(entries):
        raise tokens.invalid_token()
    end = start + min(params.get("MaxResults", MAX_RESULTS), MAX_RESULTS)
    page: dict[str, list | str] = {key: entries[start:end]}
    if end < len(entries):
        page["NextToken"] = tokens.issue(secret, job_id, view, end)
    return page
