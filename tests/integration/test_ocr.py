"""OCR tests: synthetic text, blank frames, reading order, and (slow) real caption frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from chalicelib.analysis.ocr import TextLine, TextReader, bundled_model_paths, load_text_reader
from chalicelib.config import TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE
from tests.support.videos import read_frame


@pytest.fixture(scope="module")
def reader(ocr_model_paths) -> TextReader:
    """The reader the pipelines use: with the fused OCR models."""
    return load_text_reader(
        ocr_model_paths[TEXT_DETECTOR_FILE], ocr_model_paths[TEXT_RECOGNIZER_FILE]
    )


def text_image(text: str, width: int = 640, height: int = 200) -> np.ndarray:
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    cv2.putText(image, text, (30, 130), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (0, 0, 0), 6, cv2.LINE_AA)
    return image


def test_reads_synthetic_text_with_relative_polygon(reader):
    lines = reader.read(text_image("HELLO 2026"))
    words = " ".join(line.text for line in lines).split()
    assert words == ["HELLO", "2026"]
    for line in lines:
        assert line.confidence >= 0.5
        assert len(line.polygon) == 4
        assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in line.polygon)
    xs = [x for line in lines for x, _ in line.polygon]
    ys = [y for line in lines for _, y in line.polygon]
    # putText drew from x=30 px with a baseline at y=130 px on a 640x200 image.
    assert min(xs) < 0.15 and max(xs) > 0.6
    assert 0.2 < min(ys) < 0.5 < max(ys) < 0.85


@pytest.mark.parametrize("shape", [(200, 640, 3), (0, 0, 3)], ids=["blank", "empty"])
def test_blank_or_empty_image_reads_nothing(reader, shape):
    assert reader.read(np.full(shape, 255, dtype=np.uint8)) == []


def test_sees_large_text_and_nothing_on_blank_frames(reader):
    assert reader.sees_text(text_image("HELLO 2026"))
    assert not reader.sees_text(np.full((200, 640, 3), 255, dtype=np.uint8))
    assert not reader.sees_text(np.zeros((0, 0, 3), dtype=np.uint8))


def small_print(pixels: int) -> np.ndarray:
    image = np.full((720, 1280, 3), 255, dtype=np.uint8)
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, pixels, 1)
    cv2.putText(image, "OPEN DAILY", (400, 360), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 1, cv2.LINE_AA)
    return image


def test_the_half_resolution_look_misses_small_print_that_read_reads(reader):
    """The price of yolo_ocr_fast, pinned: 12 px text on a 1280x720 frame (9 px at the 960 px
    side ``read`` works at) is read, but half resolution does not see it; 24 px is seen."""
    assert [line.text for line in reader.read(small_print(12))] == ["OPEN DAILY"]
    assert not reader.sees_text(small_print(12))
    assert reader.sees_text(small_print(24))


@pytest.mark.parametrize("shape", [(24, 2000, 3), (2000, 24, 3), (6, 900, 3), (1, 1, 3)])
def test_frames_far_from_square_are_padded_not_blown_up(reader, shape):
    """RapidOCR alone fails on a 2000x24 frame and takes seconds on a 900x6 one (it scales the
    short side up to 480 px); padded to 4:1 they cost what a normal frame does."""
    noise = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert isinstance(reader.read(noise), list)
    assert isinstance(reader.sees_text(noise), bool)


def test_text_on_a_wide_strip_keeps_its_place(reader):
    strip = np.full((60, 1600, 3), 255, dtype=np.uint8)
    cv2.putText(strip, "BREAKING", (20, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 0, 3, cv2.LINE_AA)
    [line] = reader.read(strip)
    assert line.text == "BREAKING"
    ys = [y for _, y in line.polygon]
    assert 0.0 < min(ys) < 0.4 and 0.6 < max(ys) < 1.0  # within the strip, not the padding
    assert max(x for x, _ in line.polygon) < 0.2


def test_reading_order_is_rows_then_left_to_right(reader):
    image = np.full((300, 640, 3), 255, dtype=np.uint8)
    for text, origin in [("TOP", (380, 80)), ("LEFT", (30, 100)), ("BOTTOM", (200, 250))]:
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 5, cv2.LINE_AA)
    assert [line.text for line in reader.read(image)] == ["LEFT", "TOP", "BOTTOM"]


def test_min_confidence_filters(reader):
    raw = [([[0, 0], [10, 0], [10, 5], [0, 5]], "KEEP", 0.9), ([[0, 9], [4, 9], [4, 10]], "", 0.9)]
    raw.append(([[0, 0], [10, 0], [10, 5], [0, 5]], "DROP", 0.4))
    lines = reader.postprocess(raw, 10, 10)
    assert lines == [TextLine("KEEP", 0.9, ((0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)))]


def test_models_are_the_bundled_files_and_reader_is_cached():
    paths = bundled_model_paths()
    assert {Path(p).name for p in paths.values()} == {
        "ch_PP-OCRv4_det_infer.onnx",
        "ch_PP-OCRv4_rec_infer.onnx",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    }
    assert all("rapidocr_onnxruntime" in p for p in paths.values())
    assert load_text_reader() is load_text_reader()


@pytest.mark.slow
@pytest.mark.parametrize(
    "video,seconds,expected",
    [
        ("captions_vertical.mp4", 0.5, "here's how to create"),
        ("captions_vertical.mp4", 1.5, "a SIMPLE & EASY"),
        ("letter_blocks.mp4", 9.6, "SAM TWO"),
    ],
)
def test_reads_real_frames(reader, video, seconds, expected):
    lines = reader.read(read_frame(video, seconds))
    print(video, seconds, [(line.text, round(line.confidence, 2)) for line in lines])
    words = {word for line in lines for word in line.text.split()}
    assert set(expected.split()) <= words


@pytest.mark.parametrize("shape", [(540, 960, 3), (1920, 1080, 3), (37, 61, 3)])
def test_table_normalisation_is_rapidocrs_bit_for_bit(shape):
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    from chalicelib.analysis.ocr import _TablePreProcess

    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for limit_side_len, limit_type in ((480, "min"), (736, "max")):
        args = (limit_side_len, limit_type, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
        expected = DetPreProcess(*args)(image)
        got = _TablePreProcess(*args)(image)
        assert got.dtype == expected.dtype == np.float32
        assert np.array_equal(got, expected)
    floats = image.astype(np.float32)  # not uint8: RapidOCR's own arithmetic
    args = (480, "min", [0.5] * 3, [0.5] * 3)
    assert np.array_equal(_TablePreProcess(*args)(floats), DetPreProcess(*args)(floats))


def test_thread_count_does_not_change_what_is_read(reader, ocr_model_paths):
    paths = ocr_model_paths[TEXT_DETECTOR_FILE], ocr_model_paths[TEXT_RECOGNIZER_FILE]
    single = TextReader(*paths, intra_op_num_threads=1)
    image = text_image("HELLO 2026")
    assert single.read(image) == reader.read(image)


def two_signs() -> np.ndarray:
    image = np.full((720, 1280, 3), 255, dtype=np.uint8)
    for text, origin in (("EXIT 24", (100, 150)), ("MAIN STREET", (700, 600))):
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 1.5, 0, 3, cv2.LINE_AA)
    return image


def test_a_window_reads_its_own_lines_exactly_as_the_whole_frame_does(reader):
    image = two_signs()
    whole = reader.read(image)
    assert [line.text for line in whole] == ["EXIT 24", "MAIN STREET"]
    lines, seen = reader.read_window(image, (0.55, 0.75, 0.95, 0.9))
    assert lines == whole[1:]  # same text, confidence, polygon and glyphs
    assert seen is not None and seen[0] <= 0.55 and seen[2] >= 0.95 and seen[3] >= 0.9
    assert reader.read_window(image, (0.4, 0.4, 0.5, 0.5)) == (
        [],
        reader.read_window(image, (0.4, 0.4, 0.5, 0.5))[1],
    )


def test_a_window_that_cuts_a_line_or_covers_most_of_the_frame_reads_it_whole(reader):
    image = two_signs()
    whole = reader.read(image)
    assert reader.read_window(image, (0.6, 0.75, 0.62, 0.9)) == (whole, None)  # cuts STREET
    assert reader.read_window(image, (0.0, 0.0, 0.9, 0.9)) == (whole, None)
    assert reader.read_window(image[:40, :40], (0.0, 0.0, 0.5, 0.5))[1] is None  # tiny frame
