"""Request validation against botocore's own model of the service (``rekognition`` 2016-06-27).

botocore checks only required members, types and minimums on the client; the server must also
enforce maximums, patterns and enums, and refuse members the operation does not have. Every
refusal is a ``BadRequest`` (Rekognition's InvalidParameterException). The model
is loaded on the first Rekognition request (about 20 ms, once per process), never at import, so
the REST routes' cold start does not pay for it.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import TYPE_CHECKING, NoReturn

from chalicelib.errors import BadRequest

if TYPE_CHECKING:  # botocore is imported on the first request only (and has no type hints)
    from botocore.model import ServiceModel, Shape

OPERATIONS = (
    "StartLabelDetection",
    "GetLabelDetection",
    "StartTextDetection",
    "GetTextDetection",
    "StartSegmentDetection",
    "GetSegmentDetection",
)
_NUMBERS: dict[str, type | tuple[type, ...]] = {
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
}


@functools.cache
def service_model() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model("rekognition")


def parse_body(raw: bytes | None) -> dict:
    """The request body: one JSON object (an empty body counts as ``{}``)."""
    try:
        body = json.loads(raw or b"{}", parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def validate(operation: str, params: dict) -> dict:
    """``params`` if they fit the operation's input shape, else InvalidParameterException."""
    shape = service_model().operation_model(operation).input_shape
    _check(shape, params, "")
    return params


def _check(shape: Shape, value: object, where: str) -> None:
    kind = shape.type_name
    name = where or "the request"
    if kind == "structure":
        _check_structure(shape, value, where)
    elif kind == "list":
        if not isinstance(value, list):
            raise BadRequest(f"{name} must be a list")
        _check_size(shape, len(value), name, "items")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{name}[{index}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be a string")
        _check_size(shape, len(value), name, "characters")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise BadRequest(f"{name} {value[:80]!r} does not match the pattern {pattern}")
        if shape.enum and value not in shape.enum:
            raise BadRequest(f"{name} must be one of {', '.join(shape.enum)}, got {value[:40]!r}")
    elif kind in _NUMBERS:
        _check_number(shape, value, name)
    else:  # no other kinds occur in the operations' inputs (a unit test walks them)
        raise BadRequest(f"{name} is not supported here")


def _check_structure(shape: Shape, value: object, where: str) -> None:
    name = where or "the request"
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object")
    unknown = sorted(set(value) - set(shape.members))
    if unknown:
        known = ", ".join(shape.members)
        raise BadRequest(f"{name} has unknown member(s) {unknown[:5]}: it takes {known}")
    for member in shape.required_members:
        if member not in value:
            raise BadRequest(f"{name} needs {member}")
    for member, item in value.items():
        _check(shape.members[member], item, f"{where}.{member}" if where else member)


def _check_number(shape: Shape, value: object, name: str) -> None:
    kinds = _NUMBERS[shape.type_name]
    if isinstance(value, bool) or not isinstance(value, kinds):
        whole = "a whole number" if kinds is int else "a number"
        raise BadRequest(f"{name} must be {whole}")
    if isinstance(value, float) and not math.isfinite(value):  # ints are all finite
        raise BadRequest(f"{name} must be a finite number")
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"at least {low}" if high is None else f"from {low} to {high}"
        raise BadRequest(f"{name} must be {span}, got {value}")


def _check_size(shape: Shape, size: int, name: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        raise BadRequest(f"{name} must have at least {low} {unit}")
    if high is not None and size > high:
        raise BadRequest(f"{name} must have at most {high} {unit}")
