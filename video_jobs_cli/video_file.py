"""The video a ``submit`` sends: a regular file, no larger than the API takes, read in bounds.

A device (``/dev/zero``), a FIFO, a socket or a directory is refused before anything is read
(opening a FIFO does not wait for a writer), and a file is never read past the size it had when
it was checked: one that grows or shrinks meanwhile (still being written) is refused, because
neither its size on the wire nor its contents would be the video that was checked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import click

from video_jobs_cli.errors import CliError

GIB = 1024**3
# The most the API takes through a presigned upload: one S3 PUT, 5 GiB
# (chalicelib/config.py, MAX_PRESIGNED_PUT_BYTES; the deployed limit, VIDEO_JOBS_MAX_UPLOAD_BYTES,
# comes back as the upload's max_bytes and can be lower). The CLI cannot import chalicelib:
# tests/unit/test_cli_files.py keeps the two equal.
MAX_VIDEO_BYTES = 5 * GIB
# The API's cap on a direct submit, Lambda's synchronous payload limit (chalicelib/config.py,
# max_direct_upload_bytes): a direct submit is read whole into memory, so it is never larger
# than this.
API_MAX_DIRECT_UPLOAD_BYTES = 6 * 1024 * 1024

_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket")]  # fmt: skip


class VideoPath(click.ParamType):
    """A path to a regular file of at most ``MAX_VIDEO_BYTES``; anything else is a usage
    error (exit 2), like a missing file."""

    name = "file"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        if not value:  # Path("") is the current directory
            self.fail("must not be empty", param, ctx)
        path = Path(value)
        try:
            info = path.stat()
        except OSError as error:
            self.fail(f"{value!r}: {error.strerror}", param, ctx)
        problem = _not_a_video_file(info)
        if problem:
            self.fail(f"{value!r} {problem}", param, ctx)
        return path


def _not_a_video_file(info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        return f"is {kind}, not a regular file"
    if info.st_size > MAX_VIDEO_BYTES:
        return (
            f"is {info.st_size} bytes, above the API's {MAX_VIDEO_BYTES}-byte "
            f"({MAX_VIDEO_BYTES // GIB} GiB) limit for an upload"
        )
    return None


def open_video(path: Path) -> tuple[BinaryIO, int]:
    """The file open for reading, and its size; checked again on the open file, since the
    path may have been replaced since ``VideoPath`` looked at it."""
    try:  # O_NONBLOCK: opening a FIFO would otherwise wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise CliError(f"cannot open {str(path)!r}: {error.strerror}") from None
    info = os.fstat(fd)
    problem = _not_a_video_file(info)
    if problem:
        os.close(fd)
        raise CliError(f"{str(path)!r} {problem}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


class BoundedFile:
    """Reads exactly ``size`` bytes of ``handle`` (what requests sends as Content-Length), and
    one more to see that there is none: a file longer or shorter than that is a ``CliError``."""

    def __init__(
        self,
        handle: BinaryIO,
        size: int,
        label: str,
        on_read: Callable[[int], object] | None = None,
    ):
        self._handle, self._size, self._label, self._on_read = handle, size, label, on_read
        self._done = 0

    def __len__(self) -> int:
        return self._size

    def read(self, n: int | None = -1) -> bytes:
        left = self._size - self._done
        want = left if n is None or n < 0 else min(n, left)
        chunk = self._handle.read(want) if want else b""
        self._done += len(chunk)
        if len(chunk) < want or (want and self._done == self._size and self._handle.read(1)):
            raise CliError(
                f"{self._label!r} changed size while it was read ({self._size} bytes when "
                "checked): submit it once it is complete"
            )
        if self._on_read is not None:
            self._on_read(len(chunk))
        return chunk
