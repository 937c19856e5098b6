import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.analysis.mp4 import (
    MAX_MOOV_BYTES,
    READ_AHEAD_BYTES,
    Track,
    bytes_reader,
    file_reader,
    iter_boxes,
    read_tracks,
    validate_mp4,
    validate_mp4_bytes,
)
from chalicelib.errors import InvalidVideo
from tests.fixtures import make_tiny_mp4 as fx
from tests.support.videos import shared_video, shared_video_names


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def ftyp(major=b"isom", compatible=(b"isom", b"mp41")) -> bytes:
    return box(b"ftyp", major + b"\x00\x00\x02\x00" + b"".join(compatible))


MOOV = box(b"moov", box(b"mvhd", b"\x00" * 100) + box(b"trak", box(b"tkhd", b"\x00" * 84)))
MINIMAL = ftyp() + MOOV + box(b"mdat", b"\x00" * 64)


def test_generated_clip_is_valid(tiny_mp4):
    validate_mp4_bytes(tiny_mp4.read_bytes())


@pytest.mark.parametrize("name", shared_video_names())
def test_real_clips_are_valid(name):
    validate_mp4_bytes(shared_video(name).read_bytes())


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
    data = ftyp() + MOOV + box(b"mdat", b"\x00" * 1_000_000)

    def read(offset, length):
        reads.append(data[offset : offset + length])
        return reads[-1]

    validate_mp4(read, len(data))
    assert len(reads) == 1  # one read-ahead held every header
    assert sum(map(len, reads)) <= READ_AHEAD_BYTES  # the 1 MB of media data was never read


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


# --- read_tracks: the index, read leniently --------------------------------------------------


def timed(kind: bytes, scale: int, units: int, v1: bool = False) -> bytes:
    """An mvhd or mdhd box: version/flags, creation and modification times, scale, duration."""
    if v1:
        return box(kind, struct.pack(">IQQIQ4x", 1 << 24, 0, 0, scale, units))
    return box(kind, struct.pack(">5I4x", 0, 0, 0, scale, units))


def elst(*entries: tuple[int, int], v1: bool = False) -> bytes:
    fmt = ">Qq4x" if v1 else ">Ii4x"
    rows = b"".join(struct.pack(fmt, segment, media_time) for segment, media_time in entries)
    return box(b"elst", bytes([v1, 0, 0, 0]) + struct.pack(">I", len(entries)) + rows)


def trak(handler: bytes, size=(0, 0), mdhd=(1000, 0), edits: bytes = b"", v1=False) -> bytes:
    tkhd = box(b"tkhd", b"\x00" * 76 + struct.pack(">II", size[0] << 16, size[1] << 16))
    hdlr = box(b"hdlr", b"\x00" * 8 + handler + b"\x00" * 13)
    mdia = box(b"mdia", timed(b"mdhd", *mdhd, v1=v1) + hdlr)
    return box(b"trak", tkhd + (box(b"edts", edits) if edits else b"") + mdia)


def tracks_of(data: bytes) -> list[Track] | None:
    return read_tracks(bytes_reader(data), len(data))


def test_tracks_of_a_built_index():
    video = trak(b"vide", (640, 360), (90_000, 180_000), elst((500, -1), (1500, 0)))
    audio = trak(b"soun", mdhd=(48_000, 96_000), v1=True)
    moov = box(b"moov", timed(b"mvhd", 1000, 2000) + video + audio)
    # The edit list says what a player presents (an empty edit is a pause, not media): 1.5 s.
    assert tracks_of(ftyp() + moov + box(b"mdat")) == [
        Track("vide", 640.0, 360.0, 1.5),
        Track("soun", 0.0, 0.0, 2.0),
    ]


def test_track_durations_that_are_unknown_or_cannot_use_the_edit_list():
    unknown = trak(b"vide", mdhd=(1000, 2**32 - 1))
    zero = trak(b"vide", mdhd=(0, 5000), v1=True)
    edits_without_mvhd = trak(b"vide", mdhd=(1000, 3000), edits=elst((9000, 0), v1=True))
    moov = box(b"moov", unknown + zero + edits_without_mvhd)
    assert [t.duration_s for t in tracks_of(ftyp() + moov)] == [None, None, 3.0]


def test_tracks_of_generated_clips(tiny_mp4, tmp_path):
    assert tracks_of(tiny_mp4.read_bytes()) == [Track("vide", 320.0, 240.0, 2.0)]
    audio = fx.make_audio_only_mp4(tmp_path / "audio.mp4")
    assert [t.handler for t in tracks_of(audio.read_bytes())] == ["soun"]
    late = fx.make_mp4(tmp_path / "late.mp4", seconds=1, faststart=False)  # moov after mdat
    assert tracks_of(late.read_bytes()) == [Track("vide", 320.0, 240.0, 1.0)]


def test_vfr_duration_comes_from_the_edit_list(tmp_path):
    # x264 shifts decode times on VFR input, so the media duration (mdhd) is ~460 ms short;
    # the edit list says what a player presents: last frame at 1500 ms plus one frame.
    vfr = fx.make_vfr_mp4(tmp_path / "vfr.mp4", [0, 40, 45, 300, 310, 1000, 1001, 1500])
    (track,) = tracks_of(vfr.read_bytes())
    assert 1.5 < track.duration_s <= 1.6


@pytest.mark.parametrize("name", shared_video_names())
def test_real_clips_have_one_video_track(name):
    with file_reader(shared_video(name)) as (read, size):
        tracks = read_tracks(read, size)
    video = [t for t in tracks if t.handler == "vide"]
    assert len(video) == 1 and video[0].width > 0 and video[0].height > 0
    assert 5 < video[0].duration_s < 140


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a video at all\n" * 50,
        ftyp() + box(b"mdat", b"\x00" * 8),  # no index
        ftyp() + struct.pack(">I4s", 1000, b"mdat") + MOOV,  # a cut before the index hides it
        ftyp() + struct.pack(">I4s", 4, b"free") + MOOV,
        ftyp() + b"\x00\x00\x00\x01mdat" + MOOV[:4],  # 64-bit size cut short
    ],
)
def test_no_readable_index_is_none(data):
    assert tracks_of(data) is None


def test_a_cut_after_the_index_does_not_matter():
    cut = ftyp() + box(b"moov", timed(b"mvhd", 1000, 0) + trak(b"vide", (8, 8), (10, 20)))
    cut += struct.pack(">I4s", 100_000, b"mdat") + b"\x00" * 10
    assert tracks_of(cut) == [Track("vide", 8.0, 8.0, 2.0)]


def test_damage_inside_the_index_hides_only_what_follows():
    bad = struct.pack(">I4s", 10_000, b"trak")
    moov = box(b"moov", trak(b"vide", (8, 8), (10, 20)) + bad + trak(b"soun"))
    assert tracks_of(ftyp() + moov) == [Track("vide", 8.0, 8.0, 2.0)]
    odd_type = box(b"\xff\x00ud", b"\x00" * 4)  # garbage type, good size: walked past
    moov = box(b"moov", odd_type + trak(b"vide", (8, 8), (10, 20)))
    assert tracks_of(ftyp() + moov) == [Track("vide", 8.0, 8.0, 2.0)]


def test_lenient_box_walk_stops_quietly():
    data = box(b"free") + box(b"\xff\xfe\x00\x01") + struct.pack(">I4s", 99, b"mdat")
    walked = iter_boxes(bytes_reader(data), 0, len(data), strict=False)
    assert [(b.type, b.offset, b.end) for b in walked] == [
        ("free", 0, 8),
        ("\xff\xfe\x00\x01", 8, 16),
    ]
    with pytest.raises(InvalidVideo, match="garbage"):
        list(iter_boxes(bytes_reader(data), 0, len(data)))


def test_tracks_read_only_headers_and_the_index():
    reads = []
    data = ftyp() + box(b"mdat", b"\x00" * 100_000) + MOOV

    def read(offset, length):
        reads.append(length)
        return data[offset : offset + length]

    assert read_tracks(read, len(data)) == [Track("", 0.0, 0.0, None)]
    assert sum(reads) < 1000


def test_an_implausibly_large_index_is_not_read():
    head = ftyp() + struct.pack(">I4s", MAX_MOOV_BYTES + 9, b"moov")
    reads = []

    def read(offset, length):
        reads.append(length)
        return head[offset : offset + length]

    assert read_tracks(read, len(head) + MAX_MOOV_BYTES + 1) is None
    assert max(reads) == 16


def test_file_reader(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(MINIMAL)
    with file_reader(path) as (read, size):
        assert (size, read(len(MINIMAL) - 4, 100)) == (len(MINIMAL), MINIMAL[-4:])
        assert len(tracks_of(MINIMAL)) == 1 == len(read_tracks(read, size))
    with pytest.raises(OSError), file_reader(tmp_path / "missing.mp4"):
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_fuzz_read_tracks_never_raises(data):
    for nest in (b"", b"moov", b"moovtrak", b"moovtrakmdia", b"moovtrakedts"):
        for kind in (nest[i : i + 4] for i in range(len(nest) - 4, -1, -4)):
            data = box(kind, data)
        tracks_of(ftyp() + data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(MINIMAL) - 1), st.integers(0, 255))
def test_fuzz_read_tracks_of_a_corrupted_index(position, value):
    corrupted = bytearray(MINIMAL)
    corrupted[position] = value
    tracks = tracks_of(bytes(corrupted))
    assert tracks is None or all(isinstance(t, Track) for t in tracks)
