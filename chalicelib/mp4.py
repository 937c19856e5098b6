"""MP4 (ISO base media file format) validation without decoding.

Checks what a playable MP4 must have: a leading ``ftyp`` box with a video brand of the MP4 or
QuickTime family, a chain of top-level boxes whose sizes exactly tile the file (so a truncated
upload is caught), and a ``moov`` box whose children parse and include ``mvhd`` and a ``trak``.

It reads through ``read(offset, length)``, so the same code validates bytes in memory and an
object in S3 via a handful of ranged GETs, never a full download. Pure Python: it runs on the
light API path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.errors import InvalidVideo

Reader = Callable[[int, int], bytes]

VIDEO_BRANDS = frozenset(
    {
        "isom",
        "iso2",
        "iso3",
        "iso4",
        "iso5",
        "iso6",
        "iso7",
        "iso8",
        "iso9",
        "mp41",
        "mp42",
        "mp71",
        "avc1",
        "avc2",
        "hvc1",
        "hev1",
        "av01",
        "M4V ",
        "M4VH",
        "M4VP",
        "qt  ",
        "3gp4",
        "3gp5",
        "3gp6",
        "3gp7",
        "3gp8",
        "3gp9",
        "3g2a",
        "3g2b",
        "3g2c",
        "mmp4",
        "MSNV",
        "dash",
        "f4v ",
        "XAVC",
        "NDSC",
        "NDSH",
        "NDSM",
        "NDSP",
        "NDSS",
        "NDXC",
        "NDXH",
        "NDXM",
        "NDXP",
        "NDXS",
        "CAEP",
        "caqv",
        "da0a",
        "da0b",
        "da1a",
        "da1b",
        "da2a",
        "da2b",
        "da3a",
        "da3b",
    }
)
AUDIO_ONLY_BRANDS = frozenset({"M4A ", "M4B ", "M4P "})
MAX_BOXES = 100_000
MAX_MOOV_BYTES = 256 * 1024 * 1024


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


def _box_type(raw: bytes, offset: int) -> str:
    if not all(0x20 <= b < 0x7F or b == 0xA9 for b in raw):  # printable ASCII, or '©' (iTunes)
        raise InvalidVideo(f"not an MP4: garbage where a box header should be (byte {offset})")
    return raw.decode("latin-1")


def iter_boxes(read: Reader, start: int, end: int, *, where: str = "file"):
    """Yield the boxes tiling [start, end); InvalidVideo if their sizes do not add up."""
    offset, count = start, 0
    while offset < end:
        header = read(offset, 16)
        if len(header) < 8 or offset + 8 > end:
            raise InvalidVideo(
                f"not a complete MP4: the {where} ends inside a box header "
                f"at byte {offset} (truncated upload?)"
            )
        size, raw_type = struct.unpack(">I4s", header[:8])
        box_type, header_size = _box_type(raw_type, offset), 8
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
    head = read(0, 12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        raise InvalidVideo(
            "not an MP4: the file does not start with an 'ftyp' box; "
            "upload an MP4 video (H.264/H.265 in an MP4 container)"
        )
    boxes = list(iter_boxes(read, 0, total_size))
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
    children = {
        box.type
        for box in iter_boxes(
            lambda offset, length: moov_bytes[offset : offset + length],
            0,
            len(moov_bytes),
            where="'moov' box",
        )
    }
    if "mvhd" not in children or "trak" not in children:
        raise InvalidVideo("not a playable MP4: its 'moov' box has no movie header or tracks")


def validate_mp4_bytes(data: bytes) -> None:
    validate_mp4(lambda offset, length: data[offset : offset + length], len(data))
