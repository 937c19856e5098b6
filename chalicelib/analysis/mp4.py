"""MP4 (ISO base media file format) boxes, read without decoding: validation and track facts.

Checks what a playable MP4 must have: a leading ``ftyp`` box with a video brand of the MP4 or
QuickTime family, a chain of top-level boxes whose sizes exactly tile the file (so a truncated
upload is caught), and a ``moov`` box whose children parse and include ``mvhd`` and a ``trak``.

It reads through ``read(offset, length)``, so the same code validates bytes in memory and an
object in S3 via a handful of ranged GETs, never a full download (``bytes_reader`` and
``file_reader`` make such a ``read``). Pure Python: it runs on the light API path. On S3 each
read costs a round trip whatever its size, so ``validate_mp4`` reads ahead (``ReadAhead``):
box headers that lie close together come out of one buffer, and at most
``MAX_TOP_LEVEL_BOXES`` are walked, so a check costs a bounded number of reads.

``read_tracks`` lists the index's tracks (kind, display size, duration) for the analyzer: what
OpenCV cannot tell (audio only? how long?) and an absurd frame size before anything is decoded.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chalicelib.errors import InvalidVideo

Reader = Callable[[int, int], bytes]

VIDEO_BRANDS = frozenset({
    "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9",
    "mp41", "mp42", "mp71", "avc1", "avc2", "hvc1", "hev1", "av01", "M4V ", "M4VH", "M4VP",
    "qt  ", "3gp4", "3gp5", "3gp6", "3gp7", "3gp8", "3gp9", "3g2a", "3g2b", "3g2c",
    "mmp4", "MSNV", "dash", "f4v ", "XAVC", "CAEP", "caqv",
    "NDSC", "NDSH", "NDSM", "NDSP", "NDSS", "NDXC", "NDXH", "NDXM", "NDXP", "NDXS",
    "da0a", "da0b", "da1a", "da1b", "da2a", "da2b", "da3a", "da3b",
})  # fmt: skip
AUDIO_ONLY_BRANDS = frozenset({"M4A ", "M4B ", "M4P "})
MAX_BOXES = 100_000
MAX_MOOV_BYTES = 256 * 1024 * 1024
# Top-level boxes ``validate_mp4`` walks: each may cost one ranged GET (~5 ms on the emulator,
# 10-30 ms on S3), and ``start`` must answer within API Gateway's 30 s. A regular MP4 has a
# handful; a fragmented one two per fragment (500 fragments: 8-16 min at 1-2 s each).
MAX_TOP_LEVEL_BOXES = 1000
READ_AHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Box:
    type: str
    offset: int
    size: int
    header: int  # 8, or 16 for a 64-bit size

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header

    @property
    def payload_size(self) -> int:
        return self.size - self.header

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Track:
    handler: str  # "vide", "soun", ...
    width: float  # display size from the track header (before any rotation)
    height: float
    duration_s: float | None  # what a player presents (edit list), else the media's; None: unknown
    timescale: int | None = field(default=None, compare=False)  # media ticks per second (mdhd)


class ReadAhead:
    """A ``Reader`` that fetches at least ``chunk`` bytes at a time and serves small reads that
    fall inside the last fetch from memory; ``reads`` counts the fetches."""

    def __init__(self, read: Reader, chunk: int = READ_AHEAD_BYTES):
        self._read, self._chunk = read, chunk
        self._start, self._data = 0, b""
        self._to_end = False  # the last fetch came back short: it holds the rest of the file
        self.reads = 0

    def __call__(self, offset: int, length: int) -> bytes:
        at = offset - self._start
        if not (at >= 0 and (self._to_end or at + length <= len(self._data))):
            wanted = max(length, self._chunk)
            self._start, self._data = offset, self._read(offset, wanted)
            self._to_end = len(self._data) < wanted
            self.reads += 1
            at = 0
        return self._data[at : at + length]


def bytes_reader(data: bytes) -> Reader:
    return lambda offset, length: data[offset : offset + length]


@contextlib.contextmanager
def file_reader(path: str | os.PathLike[str]) -> Iterator[tuple[Reader, int]]:
    """``(read, size)`` over a local file, open for the ``with`` block; OSError if unreadable."""
    with open(path, "rb") as f:

        def read(offset: int, length: int) -> bytes:
            f.seek(offset)
            return f.read(length)

        yield read, os.fstat(f.fileno()).st_size


def _box_type(raw: bytes, offset: int, strict: bool) -> str:
    printable = all(0x20 <= b < 0x7F or b == 0xA9 for b in raw)  # ASCII, or '©' (iTunes)
    if strict and not printable:
        raise InvalidVideo(f"not an MP4: garbage where a box header should be (byte {offset})")
    return raw.decode("latin-1")


def iter_boxes(
    read: Reader, start: int, end: int, *, where: str = "file", strict: bool = True
) -> Iterator[Box]:
    """Yield the boxes tiling [start, end); InvalidVideo if their sizes do not add up.

    With ``strict=False`` a box that does not fit ends the walk quietly instead, after the boxes
    before it, and unprintable box types pass: for reading what a damaged file still has.
    """
    boxes = _walk(read, start, end, where, strict)
    return boxes if strict else _until_invalid(boxes)


def _until_invalid(boxes: Iterator[Box]) -> Iterator[Box]:
    with contextlib.suppress(InvalidVideo):
        yield from boxes


def _walk(read: Reader, start: int, end: int, where: str, strict: bool) -> Iterator[Box]:
    offset, count = start, 0
    while offset < end:
        header = read(offset, 16)
        if len(header) < 8 or offset + 8 > end:
            raise InvalidVideo(
                f"not a complete MP4: the {where} ends inside a box header "
                f"at byte {offset} (truncated upload?)"
            )
        size, raw_type = struct.unpack(">I4s", header[:8])
        box_type, header_size = _box_type(raw_type, offset, strict), 8
        if size == 1:
            if len(header) < 16:
                raise InvalidVideo(f"not a complete MP4: box {box_type!r} header is cut short")
            size, header_size = struct.unpack(">Q", header[8:16])[0], 16
        elif size == 0:  # "extends to the end of the file"
            size = end - offset
        if size < header_size:
            raise InvalidVideo(
                f"not an MP4: box {box_type!r} at byte {offset} has an impossible size {size}"
            )
        if offset + size > end:
            raise InvalidVideo(
                f"not a complete MP4: box {box_type!r} at byte {offset} needs "
                f"{size} bytes but the {where} ends at byte {end} "
                "(truncated upload?)"
            )
        count += 1
        if count > MAX_BOXES:
            raise InvalidVideo("not an MP4: too many boxes")
        yield Box(box_type, offset, size, header_size)
        offset += size


def _check_brand(read: Reader, ftyp: Box) -> None:
    if ftyp.payload_size < 8:
        raise InvalidVideo("not an MP4: the 'ftyp' box is too short")
    payload = read(ftyp.payload_offset, min(ftyp.payload_size, 1024))
    brands = {payload[0:4].decode("latin-1")}
    brands |= {payload[i : i + 4].decode("latin-1") for i in range(8, len(payload) - 3, 4)}
    if brands & VIDEO_BRANDS:
        return
    if brands & AUDIO_ONLY_BRANDS:
        raise InvalidVideo("this is an audio file (M4A/M4B), not a video: upload an MP4 video")
    raise InvalidVideo(
        f"unsupported MP4 brand {payload[0:4]!r}: upload an MP4 or QuickTime "
        "video (e.g. H.264 in MP4)"
    )


def validate_mp4(read: Reader, total_size: int) -> None:
    """Raise InvalidVideo with a plain-words reason unless this looks like a playable MP4."""
    if total_size <= 0:
        raise InvalidVideo("the video is empty: send the MP4 file's bytes as the request body")
    read = ReadAhead(read)
    head = read(0, 12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        raise InvalidVideo(
            "not an MP4: the file does not start with an 'ftyp' box; "
            "upload an MP4 video (H.264/H.265 in an MP4 container)"
        )
    boxes = _top_level_boxes(read, total_size)
    _check_brand(read, boxes[0])
    moov = next((box for box in boxes if box.type == "moov"), None)
    if moov is None:
        raise InvalidVideo(
            "not a playable MP4: it has no 'moov' box (the index of the "
            "video); re-export it, or upload the complete file"
        )
    if moov.size > MAX_MOOV_BYTES:
        raise InvalidVideo("the MP4's 'moov' index is implausibly large")
    moov_bytes = read(moov.payload_offset, moov.payload_size)
    inside = iter_boxes(bytes_reader(moov_bytes), 0, len(moov_bytes), where="'moov' box")
    children = {box.type for box in inside}
    if "mvhd" not in children or "trak" not in children:
        raise InvalidVideo("not a playable MP4: its 'moov' box has no movie header or tracks")


def _top_level_boxes(read: Reader, total_size: int) -> list[Box]:
    boxes = []
    for box in iter_boxes(read, 0, total_size):
        boxes.append(box)
        if len(boxes) > MAX_TOP_LEVEL_BOXES:
            raise InvalidVideo(
                f"the MP4 has more than {MAX_TOP_LEVEL_BOXES} top-level boxes (a fragmented MP4 "
                "with many fragments, or padding): re-mux it as a regular MP4, e.g. "
                "ffmpeg -i in.mp4 -c copy -movflags +faststart out.mp4"
            )
    return boxes


def validate_mp4_bytes(data: bytes) -> None:
    validate_mp4(bytes_reader(data), len(data))


def read_tracks(read: Reader, total_size: int) -> list[Track] | None:
    """Tracks from the MP4 index (moov), or None when the file has no readable index.

    Lenient, unlike ``validate_mp4``: the top-level walk stops at ``moov`` (a cut after it does
    not matter) and a damaged box inside it hides only what follows it. A track's duration is
    that of its edit list (what a player presents) when it has one, else its media duration:
    encoders that shift decode times (B-frames) leave the media duration off by a reorder delay.
    """
    top = iter_boxes(read, 0, total_size, strict=False)
    moov = next((box for box in top if box.type == "moov"), None)
    if moov is None or moov.size > MAX_MOOV_BYTES:
        return None
    data = read(moov.payload_offset, moov.payload_size)
    children = _children(data)
    movie_scale = next((_time(data, box)[0] for box in children if box.type == "mvhd"), 0)
    return [_track(data, box, movie_scale) for box in children if box.type == "trak"]


def _children(data: bytes, parent: Box | None = None) -> list[Box]:
    """The boxes in ``parent``'s payload, or in all of ``data`` (moov's payload)."""
    start, end = (parent.payload_offset, parent.end) if parent else (0, len(data))
    return list(iter_boxes(bytes_reader(data), start, end, strict=False))


def _track(data: bytes, trak: Box, movie_scale: int) -> Track:
    handler, width, height, media_s, edits_s, timescale = "", 0.0, 0.0, None, 0.0, None
    for box in _children(data, trak):
        if box.type == "tkhd" and box.payload_size >= 84:  # width, height: last 8 bytes, 16.16
            width, height = (v / 65536 for v in struct.unpack_from(">II", data, box.end - 8))
        elif box.type == "edts" and movie_scale:
            for segment, media_time in _edits(data, box):
                edits_s += segment / movie_scale if media_time >= 0 else 0.0
        elif box.type == "mdia":
            for sub in _children(data, box):
                at = sub.payload_offset
                if sub.type == "hdlr" and sub.payload_size >= 12:
                    handler = data[at + 8 : at + 12].decode("latin-1")
                elif sub.type == "mdhd":
                    scale, units = _time(data, sub)
                    media_s = units / scale if scale and units else None
                    timescale = scale if scale or units else None
    return Track(handler, width, height, edits_s or media_s, timescale)


def _time(data: bytes, box: Box) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd box; (0, 0) when unreadable or unknown."""
    at, size = box.payload_offset, box.payload_size
    v1 = data[at] == 1 if size >= 24 else None
    if v1 is None or (v1 and size < 36):
        return 0, 0
    scale, units = struct.unpack_from(">IQ" if v1 else ">II", data, at + (20 if v1 else 12))
    return (0, 0) if units in (2**32 - 1, 2**64 - 1) else (scale, units)


def _edits(data: bytes, edts: Box) -> Iterator[tuple[int, int]]:
    """(segment duration in movie timescale, media time; -1 = empty edit) of each elst entry."""
    for elst in _children(data, edts):
        at = elst.payload_offset
        if elst.type != "elst" or elst.payload_size < 8:
            continue
        fmt = ">Qq4x" if data[at] == 1 else ">Ii4x"
        count, size = struct.unpack_from(">I", data, at + 4)[0], struct.calcsize(fmt)
        for i in range(min(count, (elst.payload_size - 8) // size)):
            yield struct.unpack_from(fmt, data, at + 8 + i * size)
