"""What a submit's body says about its video: the bytes (elsewhere) and the file name."""

from __future__ import annotations

import pytest

from chalicelib.intake.body import extract_video, source_name, video_name

MULTIPART = "multipart/form-data; boundary=b"


def form(disposition: str, content: bytes = b"MP4") -> bytes:
    return b"--b\r\n" + disposition.encode() + b"\r\n\r\n" + content + b"\r\n--b--\r\n"


@pytest.mark.parametrize(
    ("path", "name"),
    [("clip.mp4", "clip.mp4"), ("in/2026/clip.mp4", "clip.mp4"),
     ("C:\\Users\\me\\clip.mp4", "clip.mp4"), ("a\x00b\x1f.mp4", "ab.mp4"),
     ("folder/", None), ("", None), (None, None), (" \t", None), ("x" * 300, "x" * 255)],
)  # fmt: skip
def test_a_source_name_is_the_last_part_without_control_characters(path, name):
    assert source_name(path) == name


def test_a_multipart_files_name_is_kept_and_its_bytes_unchanged():
    body = form('Content-Disposition: form-data; name="file"; filename="dir/harbour walk.mp4"')
    assert video_name(body, MULTIPART) == "harbour walk.mp4"
    assert extract_video(body, MULTIPART) == b"MP4"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"MP4", "video/mp4"),  # a raw body has no name
     (form('Content-Disposition: form-data; name="file"'), MULTIPART),  # none given
     (form('Content-Disposition: form-data; name="other"; filename="x.mp4"'), MULTIPART),
     (b"no parts at all", MULTIPART), (b"", "multipart/form-data")],
)  # fmt: skip
def test_no_name_where_the_body_gives_none(body, content_type):
    assert video_name(body, content_type) is None
