import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.errors import InvalidVideo
from chalicelib.mp4 import validate_mp4, validate_mp4_bytes
from tests.conftest import SHARED_VIDEOS


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def ftyp(major=b"isom", compatible=(b"isom", b"mp41")) -> bytes:
    return box(b"ftyp", major + b"\x00\x00\x02\x00" + b"".join(compatible))


MOOV = box(b"moov", box(b"mvhd", b"\x00" * 100) + box(b"trak", box(b"tkhd", b"\x00" * 84)))
MINIMAL = ftyp() + MOOV + box(b"mdat", b"\x00" * 64)


def test_generated_clip_is_valid(tiny_mp4):
    validate_mp4_bytes(tiny_mp4.read_bytes())


@pytest.mark.parametrize("name", sorted(p.name for p in SHARED_VIDEOS.glob("*.mp4")))
def test_real_clips_are_valid(name):
    validate_mp4_bytes((SHARED_VIDEOS / name).read_bytes())


def test_minimal_structure_and_large_size_boxes():
    validate_mp4_bytes(MINIMAL)
    large_mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + 8) + b"\x00" * 8
    validate_mp4_bytes(ftyp() + MOOV + large_mdat)
    to_end = struct.pack(">I4s", 0, b"mdat") + b"\x00" * 10
    validate_mp4_bytes(ftyp() + MOOV + to_end)


@pytest.mark.parametrize(
    "data, hint",
    [
        (b"", "empty"),
        (b"\x00\x00\x00\x18ftypis", "ftyp"),
        (box(b"moov") + ftyp(), "ftyp"),
        (ftyp(b"M4A ", (b"M4A ",)) + MOOV, "audio file"),
        (ftyp(b"heic", (b"mif1",)) + MOOV, "unsupported MP4 brand"),
        (ftyp() + box(b"mdat", b"\x00" * 8), "no 'moov'"),
        (ftyp() + box(b"moov", box(b"free")), "no movie header"),
        (ftyp() + MOOV + b"\x00\x00", "ends inside a box header"),
        (ftyp() + MOOV + struct.pack(">I4s", 4, b"mdat"), "impossible size"),
        (ftyp() + MOOV + struct.pack(">I4s", 1000, b"mdat"), "truncated"),
        (ftyp() + MOOV + b"\x00\x00\x00\x10\xff\xfe\x00\x01" + b"\x00" * 8, "garbage"),
        (ftyp() + box(b"moov", b"\x00\x00\x00\x50mvhd"), "'moov' box ends"),
    ],
)
def test_broken_files_are_explained(data, hint):
    with pytest.raises(InvalidVideo, match=hint):
        validate_mp4_bytes(data)


def test_validation_reads_only_headers_and_moov():
    reads = []
    data = ftyp() + MOOV + box(b"mdat", b"\x00" * 100_000)

    def read(offset, length):
        reads.append(length)
        return data[offset : offset + length]

    validate_mp4(read, len(data))
    assert sum(reads) < 1000  # the 100 kB of media data were never read


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes_only_ever_raise_invalid_video(data):
    with contextlib.suppress(InvalidVideo):  # any other exception fails the test
        validate_mp4_bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(MINIMAL) - 1), st.integers(0, 255))
def test_fuzz_single_byte_corruption_of_a_valid_file(position, value):
    corrupted = bytearray(MINIMAL)
    corrupted[position] = value
    with contextlib.suppress(InvalidVideo):
        validate_mp4_bytes(bytes(corrupted))
