"""Settings, read from the environment at call time (never at import time).

Reading lazily lets tests, ``chalice local`` and Lambda each point the same code at their own AWS:
moto in-process, the local ``moto_server``, or the real account. Every variable has a default
that works for the embedded local stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LOCAL_STAGE = "local"
DEFAULT_LOCAL_ENDPOINT = "http://127.0.0.1:5010"
# The emulator takes any credentials, but boto3 and pynamodb refuse to send a request without
# some: every client aimed at an emulator carries these (``emulator_credentials``), so nothing
# local needs AWS_* variables or ~/.aws. The local stack gives its processes the same ones.
EMULATOR_ACCESS_KEY_ID = "local"
EMULATOR_SECRET_ACCESS_KEY = "local"
MODEL_FILE = "yolov3-tiny-coco.onnx"  # built by layers/model (make model)
# RapidOCR's text detector and recognizer with their elementwise steps folded in: the same
# output, less time (layers/model/ocr_models.py; make model writes them into model_dir()).
TEXT_DETECTOR_FILE = "ppocrv4-det-fused.onnx"
TEXT_RECOGNIZER_FILE = "ppocrv4-rec-fused.onnx"
# The ONNX files inside the rapidocr-onnxruntime wheel, by RapidOCR's keyword for each.
RAPIDOCR_MODEL_FILES = {
    "det_model_path": "ch_PP-OCRv4_det_infer.onnx",
    "rec_model_path": "ch_PP-OCRv4_rec_infer.onnx",
    "cls_model_path": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
}
MIB = 1024 * 1024
# Resource names are fixed at deploy time (the SQS trigger is bound to a queue by name).
DEFAULT_TABLE_NAME = "video-jobs"
DEFAULT_BUCKET = "video-jobs-media"
DEFAULT_QUEUE_NAME = "video-jobs-queue"
DEFAULT_MAX_ATTEMPTS = 3  # also the queue's maxReceiveCount (infra/resources.py)
DEFAULT_RETENTION_DAYS = 30  # jobs, keys and files (DynamoDB TTL, S3 lifecycle)
# Long videos are analyzed in slices (chalicelib/analysis/slices.py), so a job is bounded by these,
# not by one invocation: Rekognition's limits, 6 hours and 10 GB (Lambda's /tmp holds 10 GiB).
DEFAULT_MAX_DURATION_S = 6 * 3600
DEFAULT_MAX_VIDEO_BYTES = 10 * 1024 * MIB
# S3 refuses a single PUT above 5 GB, and a presigned upload is one PUT: larger videos come in
# through the Rekognition-compatible Start* (a server-side multipart copy from the caller's S3).
MAX_PRESIGNED_PUT_BYTES = 5 * 1024 * MIB
# Frames one job may sample: 6 hours at 2 frames/s. It bounds one job's cost and results
# (make bench: ~106 ms a frame on 2 cores, ~210 on the template's one vCPU, so ~77 or ~150 min
# of analyzer time in ~9 or ~17 slices; ~1.5 KB of results a frame, ~65 MB) whatever the rate
# asked: 6 hours at 30 frames/s would be 19 hours.
DEFAULT_MAX_FRAMES_PER_JOB = 43_200
# A slice stops this long before the invocation's timeout, to finish its frames in flight and
# store the checkpoint or the results (the head of 21,600 frames: a few seconds).
SLICE_STORE_MARGIN_S = 60.0
MAX_SAMPLE_FPS = 30.0  # frames analyzed per second of video, at most
MIN_SAMPLE_FPS = 0.001  # one frame per 1000 s; DynamoDB cannot store numbers below 1e-130
DEFAULT_NOTICES_QUEUE_NAME = "video-jobs-notices"  # webhook deliveries and their retries
DEFAULT_EVENTS_TOPIC = "video-jobs-events"  # SNS: every job's final event
# Of a webhook receiver's answer only the status line matters: no more than this is read.
WEBHOOK_MAX_ANSWER_BYTES = 4096
# Signs webhooks on the local stage only; other stages must configure their own secret.
LOCAL_WEBHOOK_SECRET = "video-jobs-local-webhook-secret"
# Signs NextTokens and viewer links where nothing else is configured: published, so it is
# refused with auth required (bootstrap.py); the template gives every stack its own key.
LOCAL_SIGNING_KEY = "video-jobs-local-pagination-key"

# Per-job result options (query parameters of submit and uploads) and their defaults.
DEFAULT_OBJECT_MIN_CONFIDENCE = 0.25  # objects below it are not reported (0: down to the floor)
DETECTION_FLOOR = 0.1  # the detector's own cut; boxes under min_confidence only carry tracks
DEFAULT_TEXT_MIN_CONFIDENCE = 0.8  # Rekognition's default text filter
# The detector's input, in pixels a side: 416 is what YOLOv3-tiny was trained at; 608 sees
# smaller objects for about twice the detector's time (docs/measurements.md, make bench 2c).
DETECTOR_SIZES = (416, 608)
DEFAULT_DETECTOR_SIZE = 416
TEXT_SCRIPTS = ("latin", "latin+chinese")  # what text to report; the OCR reads both
DEFAULT_TEXT_SCRIPTS = "latin"  # what Rekognition reads: Latin letters, digits, punctuation
AUTH_OFF, AUTH_REQUIRED = "off", "required"
DEFAULT_KEYS_KMS_KEY = "alias/video-jobs-keys"  # encrypts access keys' secrets (moto locally)
MAX_ACTIVE_JOBS_LIMIT = 1000  # ~80 KB of places in one item
DEFAULT_METRICS_SERVICE = "video-jobs"  # the template sets the stack's name instead
DEFAULT_MAX_ACTIVE_JOBS_PER_TENANT = 20  # on every stage but local (0 there: no limit)
DEFAULT_LIST_LIMIT = 20  # jobs on one page of GET /video/jobs
MAX_LIST_LIMIT = 100
THUMBNAIL_AT_S = 1.0  # the library's picture of a job: its frame nearest this time
THUMBNAIL_WIDTH_PX = 320  # scaled down to this width (a smaller video keeps its own)
THUMBNAIL_QUALITY = 80  # JPEG quality: about 10-20 KB a picture
MAX_SOURCE_NAME_CHARS = 255  # a video's file name, as the library lists it
LIMIT_RETRY_AFTER_S = 30  # what a 429 for too many active jobs tells the client to wait
# A tenant's own detectors (chalicelib/models/): what one may register, and what the analyzer
# does with them. A model is untrusted input: every cap below is checked before it can run.
DEFAULT_MAX_MODELS_PER_TENANT = 10
DEFAULT_MAX_MODEL_BYTES = 300 * MIB  # one file; a YOLOv8-L export is ~170 MB
DEFAULT_MAX_MODEL_BYTES_PER_TENANT = 1024 * MIB  # all of a tenant's model files together
MAX_MODEL_NODES = 10_000  # graph nodes, subgraphs included (YOLOv8-X has ~450)
MAX_MODEL_INPUT_SIDE = 1280  # pixels: a fixed or requested input side above it is refused
MIN_MODEL_INPUT_SIDE = 32
MAX_MODEL_CLASSES = 1000
MAX_MODEL_CLASS_NAME_CHARS = 64
MAX_MODEL_NAME_CHARS = 64
MODEL_UPLOAD_CONTENT_TYPE = "application/octet-stream"
DEFAULT_MODEL_CHECK_S = 60.0  # wall clock of one validation (its child process is killed after)
DEFAULT_MODEL_CHECK_MEMORY_BYTES = 3 * 1024 * MIB  # the validating child's address space
DEFAULT_MODEL_CACHE_BYTES = 512 * MIB  # loaded custom models a worker keeps (file bytes, LRU)

# GET /video/search (chalicelib/search/): the query, and what one completed job may put in the index
DEFAULT_SEARCH_LIMIT = 20  # hits on one page
MAX_SEARCH_LIMIT = 100
MAX_SEARCH_TEXT_CHARS = 200  # of `text`; its words are looked up, at most MAX_SEARCH_WORDS
MAX_SEARCH_WORDS = 10
MAX_SEARCH_LABELS = 10
MAX_WITHIN_MS = DEFAULT_MAX_DURATION_S * 1000  # within_ms: 0 to the longest video
MAX_SEARCH_POSTINGS = 20_000  # videos one term may be read for; a broader term must be narrowed
MAX_TERMS_PER_JOB = 5_000  # index items of one job (the longest-seen terms are kept)
MAX_RANGES_PER_TERM = 200  # time ranges one index item keeps (the first ones)
MAX_INDEXED_LINE_CHARS = 200  # of a line's normalized text kept for phrase checks

# Threads one job analyzes frames on (VIDEO_JOBS_ANALYZER_THREADS; unset: one per usable CPU).
MAX_ANALYZER_THREADS = 8
# The local stack's analyzer processes (make run WORKERS=N), each with CPUs / N threads. Unset:
# one per LOCAL_THREADS_PER_JOB CPUs (make bench section 7b: a job runs 1.78x faster on 2 CPUs;
# through Amdahl's law a 3rd CPU would save 26% of its time, a 4th 18%, while two jobs on 4 CPUs
# get through 1.21x what one gets), so a second job never takes the first one's 2 CPUs. On 2
# CPUs a second worker clears a backlog no sooner (section 7c: 0.89-0.97x).
MAX_LOCAL_WORKERS = 8
LOCAL_THREADS_PER_JOB = 2


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    aws_endpoint: str | None  # None on real AWS; the emulator's URL locally
    table_name: str
    bucket: str
    queue_name: str
    max_direct_upload_bytes: int  # Lambda's synchronous payload limit
    max_upload_bytes: int  # presigned-upload limit
    upload_url_expiry_s: int
    view_url_expiry_s: int  # the viewer page's presigned GET of the video
    default_pipeline: str
    sample_fps: float
    model_path: Path
    # the OCR models make model fuses (TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE)
    text_detector_path: Path
    text_recognizer_path: Path
    job_lease_s: float  # a running job whose lease is not renewed for this long is taken over
    max_attempts: int  # deliveries of one job before it is failed (= the queue's maxReceiveCount)
    visibility_timeout_s: int  # of the queue: 60 s locally, 6x the function timeout on AWS
    job_retention_days: int  # jobs and their files expire after this (DynamoDB TTL, S3 lifecycle)
    max_queued_jobs: int  # Rekognition Start* answers LimitExceededException above this backlog
    signing_key: bytes  # signs NextTokens and viewer links, unless signing_key_arn is set
    signing_key_arn: str | None  # on AWS: that key, a generated secret in Secrets Manager
    state_dir: Path  # where the local stack's emulator keeps its S3 and DynamoDB state
    notices: NoticeSettings
    idempotency_lease_s: float  # an Idempotency-Key whose job was never recorded is free after this
    max_frames_per_job: int  # duration x sample_fps above this fails the job before analysis
    max_duration_s: float  # a longer video fails the job before analysis
    slice_s: float | None  # analysis per invocation; None: the invocation's time less a margin
    auth: str = AUTH_OFF  # "required": API tokens / SigV4 keys per tenant (chalicelib/access/)
    keys_kms_key: str = DEFAULT_KEYS_KMS_KEY  # KMS key id, ARN or alias
    max_active_jobs_per_tenant: int = 0  # uploading + pending + running; 0: no limit
    # the local stack's copy of the metrics' EMF lines (GET /video/stats); None: stdout only
    metrics_file: Path | None = None
    metrics_service: str = DEFAULT_METRICS_SERVICE  # the metrics' Service dimension
    models: ModelSettings | None = None  # tenants' own detectors; None: the defaults

    # threads one job analyzes frames on; None: one per CPU the process may use (the local stack
    # gives each of its WORKERS processes cores / WORKERS)
    analyzer_threads: int | None = None

    @property
    def stale_after_s(self) -> float:
        """How long past its lease (or pending, unqueued) a job waits before the sweep re-queues
        it: two leases, so a live worker's renewal always lands first."""
        return self.job_lease_s * 2


@dataclass(frozen=True)
class NoticeSettings:
    """Completion notices: the SNS events topic and signed webhooks (chalicelib/notices/)."""

    topic: str  # SNS topic name; the ARN is looked up by name unless topic_arn is given
    topic_arn: str | None  # set by the deploy template
    queue_name: str  # webhook deliveries
    dlq_name: str  # where deliveries that never succeed end ("<queue_name>-dlq" by default)
    secret: str | None  # HMAC-SHA256 key of X-Video-Jobs-Signature
    secret_arn: str | None  # on AWS: a Secrets Manager secret holding the key (read at start)
    public_url: str  # prefix of status_url/results_url in events ("" keeps them relative)
    attempt_deadline_s: float  # one delivery attempt, wall clock: connect, TLS, send, answer
    local_threads: int  # attempts at once in the local worker runner (AWS: one per invocation)
    first_retry_s: int  # wait after the first failed attempt; doubles after each failure
    max_retry_delay_s: int  # no single wait is longer
    retry_window_s: int  # no attempt later than this after the first; then the dead-letter queue


@dataclass(frozen=True)
class ModelSettings:
    """Tenants' own detectors (chalicelib/models/): the per-tenant limits and the checks."""

    max_per_tenant: int = DEFAULT_MAX_MODELS_PER_TENANT
    max_bytes: int = DEFAULT_MAX_MODEL_BYTES
    max_bytes_per_tenant: int = DEFAULT_MAX_MODEL_BYTES_PER_TENANT
    check_s: float = DEFAULT_MODEL_CHECK_S
    check_memory_bytes: int = DEFAULT_MODEL_CHECK_MEMORY_BYTES
    cache_bytes: int = DEFAULT_MODEL_CACHE_BYTES


def model_settings(settings: Settings) -> ModelSettings:
    return settings.models or ModelSettings()


def _model_settings() -> ModelSettings:
    return ModelSettings(
        max_per_tenant=_int("VIDEO_JOBS_MAX_MODELS_PER_TENANT", DEFAULT_MAX_MODELS_PER_TENANT),
        max_bytes=_int("VIDEO_JOBS_MAX_MODEL_BYTES", DEFAULT_MAX_MODEL_BYTES),
        max_bytes_per_tenant=_int(
            "VIDEO_JOBS_MAX_MODEL_BYTES_PER_TENANT", DEFAULT_MAX_MODEL_BYTES_PER_TENANT
        ),
        check_s=float(os.environ.get("VIDEO_JOBS_MODEL_CHECK_S", DEFAULT_MODEL_CHECK_S)),
        check_memory_bytes=_int(
            "VIDEO_JOBS_MODEL_CHECK_MEMORY_BYTES", DEFAULT_MODEL_CHECK_MEMORY_BYTES
        ),
        cache_bytes=_int("VIDEO_JOBS_MODEL_CACHE_BYTES", DEFAULT_MODEL_CACHE_BYTES),
    )


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _limit(value: int) -> int:
    """A tenant's places are one DynamoDB item (400 KB at most): the limit stays far below."""
    if not 0 <= value <= MAX_ACTIVE_JOBS_LIMIT:
        raise ValueError(
            f"VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT is {value}: use 0 (no limit) to "
            f"{MAX_ACTIVE_JOBS_LIMIT}"
        )
    return value


def _analyzer_threads() -> int | None:
    value = os.environ.get("VIDEO_JOBS_ANALYZER_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_ANALYZER_THREADS:
        raise ValueError(
            f"VIDEO_JOBS_ANALYZER_THREADS is {value!r}: use a whole number from 1 to "
            f"{MAX_ANALYZER_THREADS}, or leave it unset (one thread per CPU)"
        )
    return int(value)


def _model_path() -> Path:
    if os.environ.get("VIDEO_JOBS_MODEL_PATH"):
        return Path(os.environ["VIDEO_JOBS_MODEL_PATH"]).expanduser()
    return model_dir() / MODEL_FILE


def model_dir() -> Path:
    """Where ``make model`` writes the models and the analyzer reads them."""
    configured = os.environ.get("VIDEO_JOBS_MODEL_DIR") or Path.home() / ".cache/video-jobs/models"
    return Path(configured).expanduser()


def sized_model_path(model_path: Path, size: int) -> Path:
    """The detector model for an input size: the model itself at the default size, else the
    file beside it that layers/model builds for that size (``<stem>-<size>.onnx``)."""
    if size == DEFAULT_DETECTOR_SIZE:
        return model_path
    return model_path.with_name(f"{model_path.stem}-{size}{model_path.suffix}")


def _state_dir() -> Path:
    if os.environ.get("VIDEO_JOBS_STATE_DIR"):
        return Path(os.environ["VIDEO_JOBS_STATE_DIR"]).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local/state"
    return Path(state_home).expanduser() / "video-jobs"


def _notice_settings(stage: str) -> NoticeSettings:
    default_secret = LOCAL_WEBHOOK_SECRET if stage == LOCAL_STAGE else None
    queue_name = os.environ.get("VIDEO_JOBS_NOTICES_QUEUE", DEFAULT_NOTICES_QUEUE_NAME)
    return NoticeSettings(
        topic=os.environ.get("VIDEO_JOBS_EVENTS_TOPIC", DEFAULT_EVENTS_TOPIC),
        topic_arn=os.environ.get("VIDEO_JOBS_EVENTS_TOPIC_ARN") or None,
        queue_name=queue_name,
        dlq_name=os.environ.get("VIDEO_JOBS_NOTICES_DLQ", f"{queue_name}-dlq"),
        secret=os.environ.get("VIDEO_JOBS_WEBHOOK_SECRET") or default_secret,
        secret_arn=os.environ.get("VIDEO_JOBS_WEBHOOK_SECRET_ARN") or None,
        public_url=os.environ.get("VIDEO_JOBS_PUBLIC_URL", "").rstrip("/"),
        attempt_deadline_s=float(os.environ.get("VIDEO_JOBS_WEBHOOK_DEADLINE_S", "10")),
        local_threads=_int("VIDEO_JOBS_WEBHOOK_THREADS", 8),
        first_retry_s=_int("VIDEO_JOBS_WEBHOOK_FIRST_RETRY_S", 30),
        max_retry_delay_s=_int("VIDEO_JOBS_WEBHOOK_MAX_RETRY_DELAY_S", 3600),
        retry_window_s=_int("VIDEO_JOBS_WEBHOOK_RETRY_WINDOW_S", 24 * 3600),
    )


def _auth(stage: str) -> str:
    default = AUTH_OFF if stage == LOCAL_STAGE else AUTH_REQUIRED
    value = os.environ.get("VIDEO_JOBS_AUTH") or default
    if value not in (AUTH_OFF, AUTH_REQUIRED):
        raise ValueError(f"VIDEO_JOBS_AUTH is {value!r}: use {AUTH_OFF!r} or {AUTH_REQUIRED!r}")
    return value


def emulator_credentials(endpoint: str | None) -> dict[str, str]:
    """Keyword arguments for a boto3 client or a pynamodb ``Meta`` aimed at ``endpoint``: the
    emulator's fixed credentials on the local stage, none elsewhere (boto3's own chain: the
    function's role, AWS_* variables, ~/.aws), even with an endpoint override."""
    if not endpoint or _stage() != LOCAL_STAGE:
        return {}
    return {
        "aws_access_key_id": EMULATOR_ACCESS_KEY_ID,
        "aws_secret_access_key": EMULATOR_SECRET_ACCESS_KEY,
    }


def _stage() -> str:
    return os.environ.get("VIDEO_JOBS_STAGE", LOCAL_STAGE)


def load_settings() -> Settings:
    stage = _stage()
    # The local stage talks to the emulator unless told otherwise; other stages to real AWS.
    endpoint = os.environ.get("VIDEO_JOBS_AWS_ENDPOINT") or (
        DEFAULT_LOCAL_ENDPOINT if stage == LOCAL_STAGE else None
    )
    return Settings(
        stage=stage,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_endpoint=endpoint,
        table_name=os.environ.get("VIDEO_JOBS_TABLE", DEFAULT_TABLE_NAME),
        bucket=os.environ.get("VIDEO_JOBS_BUCKET", DEFAULT_BUCKET),
        queue_name=os.environ.get("VIDEO_JOBS_QUEUE", DEFAULT_QUEUE_NAME),
        max_direct_upload_bytes=_int("VIDEO_JOBS_MAX_DIRECT_UPLOAD_BYTES", 6 * MIB),
        max_upload_bytes=_int("VIDEO_JOBS_MAX_UPLOAD_BYTES", DEFAULT_MAX_VIDEO_BYTES),
        upload_url_expiry_s=_int("VIDEO_JOBS_UPLOAD_URL_EXPIRY_S", 900),
        view_url_expiry_s=_int("VIDEO_JOBS_VIEW_URL_EXPIRY_S", 3600),
        default_pipeline=os.environ.get("VIDEO_JOBS_PIPELINE", "yolo_ocr"),
        sample_fps=float(os.environ.get("VIDEO_JOBS_SAMPLE_FPS", "1.0")),
        model_path=_model_path(),
        text_detector_path=model_dir() / TEXT_DETECTOR_FILE,
        text_recognizer_path=model_dir() / TEXT_RECOGNIZER_FILE,
        job_lease_s=float(os.environ.get("VIDEO_JOBS_JOB_LEASE_S", "60")),
        max_attempts=_int("VIDEO_JOBS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS),
        visibility_timeout_s=_int("VIDEO_JOBS_VISIBILITY_TIMEOUT_S", 60),
        job_retention_days=_int("VIDEO_JOBS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
        max_queued_jobs=_int("VIDEO_JOBS_MAX_QUEUED_JOBS", 1000),
        signing_key=os.environ.get("VIDEO_JOBS_PAGINATION_KEY", LOCAL_SIGNING_KEY).encode(),
        signing_key_arn=os.environ.get("VIDEO_JOBS_SIGNING_KEY_ARN") or None,
        state_dir=_state_dir(),
        notices=_notice_settings(stage),
        # above the API function's 30 s timeout: the request that reserved a key is surely dead
        idempotency_lease_s=float(os.environ.get("VIDEO_JOBS_IDEMPOTENCY_LEASE_S", "60")),
        max_frames_per_job=_int("VIDEO_JOBS_MAX_FRAMES_PER_JOB", DEFAULT_MAX_FRAMES_PER_JOB),
        max_duration_s=float(os.environ.get("VIDEO_JOBS_MAX_DURATION_S", DEFAULT_MAX_DURATION_S)),
        slice_s=float(os.environ["VIDEO_JOBS_SLICE_S"])
        if os.environ.get("VIDEO_JOBS_SLICE_S")
        else None,
        auth=_auth(stage),
        keys_kms_key=os.environ.get("VIDEO_JOBS_KEYS_KMS_KEY", DEFAULT_KEYS_KMS_KEY),
        max_active_jobs_per_tenant=_limit(
            _int(
                "VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT",
                0 if stage == LOCAL_STAGE else DEFAULT_MAX_ACTIVE_JOBS_PER_TENANT,
            )
        ),
        metrics_file=_optional_path("VIDEO_JOBS_METRICS_FILE"),
        metrics_service=os.environ.get("VIDEO_JOBS_METRICS_SERVICE") or DEFAULT_METRICS_SERVICE,
        models=_model_settings(),
        analyzer_threads=_analyzer_threads(),
    )


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None
