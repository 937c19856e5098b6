"""Turning an HTTP request body into video bytes: raw MP4 or multipart/form-data field ``file``."""

from __future__ import annotations

import re

from chalicelib.config import MAX_SOURCE_NAME_CHARS
from chalicelib.errors import BadRequest, UnsupportedMediaType, quoted

RAW_TYPES = frozenset({"video/mp4", "application/octet-stream"})
MULTIPART = "multipart/form-data"
ACCEPTED = "video/mp4, application/octet-stream or multipart/form-data (field 'file')"
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_FIELD_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)
_FILE_NAME = re.compile(rb'\bfilename="([^"]*)"', re.IGNORECASE)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def extract_video(body: bytes | None, content_type: str | None) -> bytes:
    """The video's bytes from a submit request; 415 or 400 with what to send instead."""
    kind = media_type(content_type)
    if kind in RAW_TYPES:
        return body or b""
    if kind == MULTIPART:
        return _multipart_file(body or b"", content_type or "")
    shown = kind or "none"
    raise UnsupportedMediaType(f"Content-Type {quoted(shown)} is not accepted: send {ACCEPTED}")


def source_name(path: str | None) -> str | None:
    """What the library calls a video: the last part of a path or key, without control
    characters, at most ``MAX_SOURCE_NAME_CHARS``; None when nothing is left."""
    name = _UNPRINTABLE.sub("", (path or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:MAX_SOURCE_NAME_CHARS] or None


def video_name(body: bytes | None, content_type: str | None) -> str | None:
    """The file name a multipart upload gave its ``file`` field (a raw body has none)."""
    if media_type(content_type) != MULTIPART:
        return None
    try:
        headers, _ = _file_part(body or b"", content_type or "")
    except BadRequest:
        return None
    found = _FILE_NAME.search(headers)
    return source_name(found.group(1).decode("utf-8", "replace")) if found else None


def _multipart_file(body: bytes, content_type: str) -> bytes:
    return _file_part(body, content_type)[1]


def _file_part(body: bytes, content_type: str) -> tuple[bytes, bytes]:
    """The headers and content of the ``file`` field."""
    match = _BOUNDARY.search(content_type)
    if not match:
        raise BadRequest("multipart/form-data without a boundary parameter in Content-Type")
    delimiter = b"--" + match.group(1).encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        headers, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            continue
        name = _FIELD_NAME.search(headers)
        if name and name.group(1) == b"file":
            return headers, content.removesuffix(b"\r\n")
    raise BadRequest(
        "multipart/form-data body has no 'file' field: send the video as -F 'file=@video.mp4'"
    )
