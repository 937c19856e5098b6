"""Per-job options from a request's query parameters, each bad value a ``BadRequest`` that says
what to fix."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.analysis.labels import known_class_names, unknown_labels
from chalicelib.analysis.registry import OBJECT_PIPELINES, check_pipeline_id
from chalicelib.config import (
    DEFAULT_DETECTOR_SIZE,
    DEFAULT_TEXT_SCRIPTS,
    DETECTOR_SIZES,
    LOCAL_STAGE,
    MAX_SAMPLE_FPS,
    MIN_SAMPLE_FPS,
    TEXT_SCRIPTS,
    Settings,
)
from chalicelib.errors import BadRequest, quoted, quoted_list
from chalicelib.jobs.options import JobOptions
from chalicelib.notices.callbacks import check_callback_url

# ASCII digits only: float() also takes "1_0" (10), " 2 " and Arabic-Indic digits.
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
_BLACK_PARAMS = {  # the shots pipeline's black frames (Rekognition's BlackFrame filter)
    "black_max_pixel_threshold": (
        1.0, "the darkest share of the luma range a black pixel has, e.g. 0.2"),
    "black_min_coverage_percentage": (
        100.0, "the percentage of black pixels a black frame has, e.g. 99"),
}  # fmt: skip
_NUMBER_PARAMS = ("sample_fps", "min_confidence", "text_min_confidence", *_BLACK_PARAMS)
_LIST_PARAMS = ("labels", "exclude_labels")
PARAMS = (
    "pipeline_id",
    *_NUMBER_PARAMS,
    *_LIST_PARAMS,
    "text_scripts",
    "callback_url",
    "detector_size",
    "shots",
    "model_id",
)
# model id -> the snapshot of the caller's ready model (``ModelCatalog.usable``), or raises
ModelLookup = Callable[[str], dict[str, Any]]


def parse_job_options(
    params: Mapping[str, str] | None, settings: Settings, model_of: ModelLookup | None = None
) -> JobOptions:
    """Per-job options from query parameters; each bad value is a BadRequest saying what to fix.
    ``model_of``: how a ``model_id`` is looked up (None: no tenant models here)."""
    params = params or {}
    accepted = PARAMS if model_of is not None else tuple(n for n in PARAMS if n != "model_id")
    unknown = set(params) - set(accepted)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {quoted_list(unknown)}: the accepted ones are "
            + ", ".join(accepted)
        )
    values: dict[str, Any] = {
        "pipeline_id": check_pipeline_id(params.get("pipeline_id", settings.default_pipeline))
    }
    known = known_class_names(settings)
    if model_of is not None and "model_id" in params:
        values["model"] = _model(params, values["pipeline_id"], model_of)
        known = tuple(values["model"]["class_names"])
    if "sample_fps" in params:
        values["sample_fps"] = _number(
            params, "sample_fps", MIN_SAMPLE_FPS, MAX_SAMPLE_FPS,
            "frames analyzed per second of video",
        )  # fmt: skip
    for name, what in (("min_confidence", "objects"), ("text_min_confidence", "text lines")):
        if name in params:
            values[name] = _number(params, name, 0.0, 1.0, f"the lowest confidence of {what}")
    if "shots" in params:
        if params["shots"] not in ("true", "false"):
            raise BadRequest(
                f"shots must be true or false (find shots and technical cues too), "
                f"got {quoted(params['shots'])}"
            )
        values["shots"] = params["shots"] == "true"
    for name, (high, meaning) in _BLACK_PARAMS.items():
        if name in params:
            values[name] = _number(params, name, 0.0, high, meaning, example=None)
    for name in _LIST_PARAMS:
        if name in params:
            values[name] = _label_list(params[name], name, known)
    # An unencoded "+" in a URL arrives as a space: "latin chinese" means "latin+chinese".
    scripts = "+".join(params.get("text_scripts", DEFAULT_TEXT_SCRIPTS).split())
    if scripts not in TEXT_SCRIPTS:
        raise BadRequest(
            f"text_scripts must be one of {', '.join(TEXT_SCRIPTS)}, got {quoted(scripts)}"
        )
    values["text_scripts"] = scripts
    if "detector_size" in params:
        values["detector_size"] = _detector_size(params["detector_size"])
    callback_url = params.get("callback_url")
    if callback_url is not None:  # resolved and checked now; again at each delivery
        check_callback_url(callback_url, allow_loopback=settings.stage == LOCAL_STAGE)
        values["callback_url"] = callback_url
    return JobOptions(**values)


def _number(
    params: Mapping[str, str],
    name: str,
    low: float,
    high: float,
    meaning: str,
    *,
    example: str | None = "0.5",
) -> float:
    """``example`` None: ``meaning`` gives its own."""
    raw = params[name]
    value = float(raw) if _DECIMAL.fullmatch(raw) else None  # no 1_0, nan, inf, other digits
    if value is None or not low <= value <= high:
        hint = meaning if example is None else f"{meaning}, e.g. {example}"
        raise BadRequest(
            f"{name} must be a decimal number from {low:g} to {high:g} ({hint}), got {quoted(raw)}"
        )
    return value


def _detector_size(raw: str) -> int:
    """Exactly one of the sizes, spelt as digits: no 608.0, 0608 or other look-alikes."""
    sizes = {str(size): size for size in DETECTOR_SIZES}
    if raw not in sizes:
        raise BadRequest(
            f"detector_size must be {' or '.join(sizes)} (the detector's input in pixels a side: "
            f"{DEFAULT_DETECTOR_SIZE}, the default, or 608 to find smaller objects at about "
            f"twice the detector's time), got {quoted(raw)}"
        )
    return sizes[raw]


def _model(params: Mapping[str, str], pipeline_id: str, model_of: ModelLookup) -> dict[str, Any]:
    """The snapshot of the caller's ready model that ``model_id`` names."""
    if pipeline_id not in OBJECT_PIPELINES:
        raise BadRequest(
            f"model_id needs a pipeline that detects objects ({', '.join(OBJECT_PIPELINES)}), "
            f"not {pipeline_id}"
        )
    if "detector_size" in params:
        raise BadRequest(
            "detector_size applies to the built-in detector: a model of your own runs at the "
            "input size it was registered with; leave detector_size out"
        )
    return model_of(params["model_id"])


def _label_list(raw: str, name: str, known: tuple[str, ...] | None) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in raw.split(","))
    if not raw.strip() or "" in labels:
        raise BadRequest(
            f"{name} must be a comma-separated list of class names without empty entries, "
            f"e.g. {name}=person,dog; got {quoted(raw)}"
        )
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise BadRequest(f"{name} names {', '.join(repeated)} more than once: list each once")
    wrong = [] if known is None else unknown_labels(labels, known)
    if wrong:
        raise BadRequest(
            f"{name}: unknown class name(s) {quoted_list(wrong)}; "
            f"the model's classes are: {', '.join(known or ())}"
        )
    return labels
