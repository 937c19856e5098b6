"""On-screen text from single frames with rapidocr-onnxruntime (PP-OCRv4 det + rec, CPU).

The det/rec/cls ONNX models ship inside the rapidocr wheel; they are passed by explicit path so
the container image provably needs no download and a missing file fails loudly at load time.

Two defaults differ from RapidOCR's, measured on the sample clips (2 shared cores):
- No angle classifier (``use_cls=False``). It only detects text turned 180 degrees, which video
  captions and signs are not; on the sample frames it changed no caption, added a spurious "R"
  on letter_blocks, and cost +25-35 ms per frame (10-15%).
- Frames are shrunk to a 960 px long side (``max_side_len``). RapidOCR's own settings run the
  text detector at full 1080x1920 on vertical video (600-780 ms/frame); at 960 the same captions
  read the same in 160-220 ms, and letter_blocks reads "SAM", "TWO" instead of "SAM DWO".
  ``max_side_len=None`` restores RapidOCR's full-resolution behaviour for small text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rapidocr_onnxruntime
from rapidocr_onnxruntime import RapidOCR

from chalicelib.errors import AnalysisError

_MODEL_DIR = Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"
_MODEL_FILES = {
    "det_model_path": "ch_PP-OCRv4_det_infer.onnx",
    "rec_model_path": "ch_PP-OCRv4_rec_infer.onnx",
    "cls_model_path": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
}

Point = tuple[float, float]
RawLine = tuple[list[list[float]], str, float]


@dataclass(frozen=True)
class TextLine:
    """One line of text; ``polygon`` is 4 (x, y) corners, clockwise from top-left, relative to
    the frame (0..1) like detection boxes."""

    text: str
    confidence: float
    polygon: tuple[Point, ...]


def bundled_model_paths() -> dict[str, str]:
    """RapidOCR constructor kwargs naming the ONNX files inside the installed wheel."""
    paths = {key: _MODEL_DIR / name for key, name in _MODEL_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise AnalysisError(
            f"OCR models missing from the rapidocr-onnxruntime install: {', '.join(missing)}; "
            "reinstall rapidocr-onnxruntime==1.4.4 (with --no-deps, see ARCHITECTURE.md)."
        )
    return {key: str(path) for key, path in paths.items()}


class TextReader:
    """Reads text lines from BGR frames; build it through ``load_text_reader``."""

    def __init__(
        self,
        *,
        min_confidence: float = 0.5,
        use_cls: bool = False,
        max_side_len: int | None = 960,
        intra_op_num_threads: int | None = None,
    ):
        options: dict[str, object] = {
            **bundled_model_paths(),
            "use_cls": use_cls,
            "text_score": min_confidence,
            # -1 is RapidOCR's "onnxruntime default" (one thread per physical core).
            "intra_op_num_threads": -1 if intra_op_num_threads is None else intra_op_num_threads,
        }
        if max_side_len is not None:
            # The det stage upscales the short side to det_limit_side_len ("min" mode); at half
            # the long-side cap a 16:9 frame is never blown back up past the cap.
            options.update(max_side_len=max_side_len, det_limit_side_len=max_side_len // 2)
        self._engine = RapidOCR(**options)
        self.min_confidence = min_confidence

    def read(self, image_bgr: np.ndarray) -> list[TextLine]:
        """Text lines at or above ``min_confidence``, top-to-bottom then left-to-right."""
        height, width = image_bgr.shape[:2]
        return self.postprocess(self.infer(image_bgr), width, height)

    def infer(self, image_bgr: np.ndarray) -> list[RawLine]:
        """The bare RapidOCR call (det + optional cls + rec, with RapidOCR's own resizing and
        cropping), so benchmarks can time it apart from ``postprocess``, which is negligible."""
        if image_bgr.size == 0:
            return []
        raw, _elapsed = self._engine(image_bgr)
        return [(box, text, float(score)) for box, text, score in raw or []]

    def postprocess(self, raw: list[RawLine], width: int, height: int) -> list[TextLine]:
        lines = [
            TextLine(text.strip(), score, _relative_polygon(box, width, height))
            for box, text, score in raw
            if text.strip() and score >= self.min_confidence
        ]
        return _reading_order(lines)


def _relative_polygon(box: list[list[float]], width: int, height: int) -> tuple[Point, ...]:
    return tuple(
        (min(max(float(x) / width, 0.0), 1.0), min(max(float(y) / height, 0.0), 1.0))
        for x, y in box
    )


def _reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Group lines into rows (a line whose vertical centre lies above the bottom of the row's
    first line joins that row), then read each row left to right. RapidOCR's own sort uses a
    fixed 10 px tolerance, which breaks on large captions and depends on the frame size."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (_top(ln), _left(ln), ln.text)):
        if rows and _centre_y(line) < _bottom(rows[-1][0]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [ln for row in rows for ln in sorted(row, key=lambda ln: (_left(ln), _top(ln), ln.text))]


def _top(line: TextLine) -> float:
    return min(y for _, y in line.polygon)


def _bottom(line: TextLine) -> float:
    return max(y for _, y in line.polygon)


def _left(line: TextLine) -> float:
    return min(x for x, _ in line.polygon)


def _centre_y(line: TextLine) -> float:
    return (_top(line) + _bottom(line)) / 2


@functools.lru_cache(maxsize=2)
def load_text_reader(
    *,
    min_confidence: float = 0.5,
    use_cls: bool = False,
    max_side_len: int | None = 960,
    intra_op_num_threads: int | None = None,
) -> TextReader:
    """The process-wide reader for these options: a warm Lambda keeps its three ONNX sessions."""
    return TextReader(
        min_confidence=min_confidence,
        use_cls=use_cls,
        max_side_len=max_side_len,
        intra_op_num_threads=intra_op_num_threads,
    )
