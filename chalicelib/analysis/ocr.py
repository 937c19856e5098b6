"""On-screen text from single frames with rapidocr-onnxruntime (PP-OCRv4 det + rec, CPU).

The det/rec/cls ONNX models ship inside the rapidocr wheel; they are passed by explicit path so
the container image provably needs no download and a missing file fails loudly at load time.

Two defaults differ from RapidOCR's (the measurements behind them: docs/measurements.md):
- No angle classifier (``use_cls=False``). It only detects text turned 180 degrees, which video
  captions and signs are not; it cost time and added spurious characters.
- Frames are shrunk to a 960 px long side (``max_side_len``): full-resolution vertical video
  costs several times more and read the sample captions no better.
  ``max_side_len=None`` restores RapidOCR's full-resolution behaviour for small text.

The product reads with the text detector and recognizer ``make model`` fuses (``detector_path``,
``recognizer_path``: the affine steps folded into the convolutions, layers/model/ocr_models.py):
the same output up to float rounding, every line on the sample clips the same, in less time
(docs/measurements.md).

And two changes that do the same arithmetic faster (the results are bit-identical):
- The text detector's session keeps onnxruntime's memory arena (RapidOCR turns it off): its
  input size is fixed per video, so the arena reuses its buffers instead of allocating every
  intermediate tensor again for each frame.
- The detector's input is normalised through a 256-entry table per channel (``cv2.LUT``), built
  with the same float operations RapidOCR applies to every pixel.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import onnxruntime as ort
import rapidocr_onnxruntime
from rapidocr_onnxruntime import RapidOCR
from rapidocr_onnxruntime.ch_ppocr_det.text_detect import TextDetector
from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

from chalicelib.analysis.detector import session_options
from chalicelib.config import RAPIDOCR_MODEL_FILES
from chalicelib.errors import AnalysisError
from chalicelib.results.text_lines import Glyph, Point, TextLine

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

_MODEL_DIR = Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"

# (line box, text, confidence, a box per character, the characters, their confidences)
RawLine = tuple[list[list[float]], str, float, list, list[str], list[float]]
# Frames longer than this many times their width (or the other way round) are padded with black
# before OCR. RapidOCR scales a frame's short side up to the detector's 480 px, so a 900x6 strip
# became 72000x480 (3.4 s a frame), and past about 60:1 its resize fails outright.
MAX_ASPECT = 4


def bundled_model_paths() -> dict[str, str]:
    """RapidOCR constructor kwargs naming the ONNX files inside the installed wheel."""
    paths = {key: _MODEL_DIR / name for key, name in RAPIDOCR_MODEL_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise AnalysisError(
            f"OCR models missing from the rapidocr-onnxruntime install: {', '.join(missing)}; "
            "reinstall rapidocr-onnxruntime==1.4.4 with --no-deps "
            "(see layers/analyzer/requirements-nodeps.txt)."
        )
    return {key: str(path) for key, path in paths.items()}


class TextReader:
    """Reads text lines from BGR frames; build it through ``load_text_reader``."""

    def __init__(
        self,
        detector_path: Path | None = None,
        recognizer_path: Path | None = None,
        *,
        min_confidence: float = 0.5,
        use_cls: bool = False,
        max_side_len: int | None = 960,
        intra_op_num_threads: int | None = None,
    ):
        options: dict[str, object] = {
            **bundled_model_paths(),
            **({} if detector_path is None else {"det_model_path": _existing(detector_path)}),
            **({} if recognizer_path is None else {"rec_model_path": _existing(recognizer_path)}),
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
        detector = self._engine.text_det
        detector.infer.session = _session(str(options["det_model_path"]), intra_op_num_threads)
        detector.infer = self._windowed = WindowedDetection(detector.infer, detector.postprocess_op)
        # The pipeline reads frames from several threads at once. RapidOCR's TextDetector keeps
        # the preprocessing step it builds per call on itself; with limit_type "min" (ours) that
        # step does not depend on the frame, so a call that picks up another thread's is fine.
        detector.get_preprocess = functools.partial(_table_preprocess, detector)
        # For ``sees_text``, which sizes its own input: only the lookup table is used.
        self._normalise = _TablePreProcess(0, "max", detector.mean, detector.std)
        self.min_confidence = min_confidence

    def read(self, image_bgr: np.ndarray) -> list[TextLine]:
        """Text lines at or above ``min_confidence``, top-to-bottom then left-to-right."""
        height, width = image_bgr.shape[:2]
        return self.postprocess(self.infer(image_bgr), width, height)

    def read_window(
        self, image_bgr: np.ndarray, window: Window
    ) -> tuple[list[TextLine], Window | None]:
        """The lines ``read`` would find inside ``window`` (relative x0, y0, x1, y1), with the
        text detector run only on that part of the frame (plus a margin), and the part it ran
        on; ``None`` instead when it ran on the whole frame (``read`` exactly): the window was
        most of the frame, or text ran across the margin's edge. The same lines as ``read`` on
        the sample clips' text, not always on large letters (the detector's map there depends
        on more than the margin sees: docs/measurements.md)."""
        height, width = image_bgr.shape[:2]
        if min(height, width) < MIN_WINDOWED_SIDE:
            return self.read(image_bgr), None
        padded = _padded(image_bgr)
        scale_x, scale_y = width / padded.shape[1], height / padded.shape[0]
        x0, y0, x1, y1 = window
        lines = self._windowed.run(
            (x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y),
            lambda: self.read(image_bgr),
        )
        read_part = self._windowed.last_part()
        if read_part is None:
            return lines, None
        x0, y0, x1, y1 = read_part
        return lines, (x0 / scale_x, y0 / scale_y, min(1.0, x1 / scale_x), min(1.0, y1 / scale_y))

    def sees_text(self, image_bgr: np.ndarray) -> bool:
        """Whether the text detector, run at half the resolution ``read`` uses, finds any text.

        A quarter of the pixels, so a fraction of the cost of ``read``; the price is small text
        (``make bench`` prints the recall by text size; docs/measurements.md has a run)."""
        if image_bgr.size == 0:
            return False
        engine = self._engine
        image, _ratio_h, _ratio_w = engine.preprocess(_padded(image_bgr))
        image, _record = engine.maybe_add_letterbox(image, {})
        detector = engine.text_det
        # What ``read`` feeds the detector (its resize may also enlarge a small frame), halved.
        # Area averaging keeps thin strokes that a plain bilinear shrink drops; the sides stay
        # multiples of 32, as the network needs.
        full = detector.get_preprocess(max(image.shape[:2])).resize(image)
        height, width = full.shape[:2]
        size = (max(32, round(width / 64) * 32), max(32, round(height / 64) * 32))
        half = cv2.resize(full, size, interpolation=cv2.INTER_AREA)
        probability = detector.infer(self._normalise.tensor(half))[0]
        # The same cut the detector's own post-processing binarises its map at.
        return bool(probability.max() > detector.postprocess_op.thresh)

    def infer(self, image_bgr: np.ndarray) -> list[RawLine]:
        """The bare RapidOCR call (det + optional cls + rec, with RapidOCR's own resizing and
        cropping), so benchmarks can time it apart from ``postprocess``, which is negligible.

        With ``return_word_box`` RapidOCR also places each character (from the recogniser's
        columns; same lines, same text, no measurable cost). Passing any keyword resets its
        detector thresholds to the keywords' defaults, so ours are passed along unchanged."""
        if image_bgr.size == 0:
            return []
        engine, post = self._engine, self._engine.text_det.postprocess_op
        raw, _elapsed = engine(
            _padded(image_bgr),
            return_word_box=True,
            box_thresh=post.box_thresh,
            unclip_ratio=post.unclip_ratio,
            text_score=engine.text_score,
        )
        return [
            (row[0], row[1], float(row[2]), *(row[3:6] if len(row) >= 6 else ([], [], [])))
            for row in raw or []
        ]

    def postprocess(self, raw: list[RawLine], width: int, height: int) -> list[TextLine]:
        lines = [
            TextLine(
                text.strip(),
                score,
                _relative_polygon(box, width, height),
                _glyphs(text, placed, width, height),
            )
            for box, text, score, *placed in raw
            if text.strip() and score >= self.min_confidence
        ]
        return reading_order(lines)


Window = tuple[float, float, float, float]  # x0, y0, x1, y1, relative to the frame
# Frames smaller than this are always read whole (and RapidOCR letterboxes the tiniest ones,
# which a window in frame coordinates would not follow).
MIN_WINDOWED_SIDE = 64
# Context kept around a window, in detector input pixels (the network downsamples by 32): the
# detector's output near the edge of what it sees depends on the padding, so the window's own
# lines are read from the interior only.
WINDOW_MARGIN = 64
# Text this close (input pixels) to an inner edge of the part seen may run out of it.
EDGE_BAND = 16
# A window that, with its margin, covers more than this share of the frame is read whole.
MAX_WINDOW_SHARE = 0.6


class WindowedDetection:
    """RapidOCR's text detector session, run on part of its input when a thread asks.

    ``run(window, read)`` calls ``read()`` (a whole RapidOCR call) with the detector seeing
    only the window (aligned outward to the network's 32 px grid, plus the margin); its output
    elsewhere is zero, so RapidOCR's own post-processing finds the boxes inside it, at the
    coordinates a whole-frame call would give them. If the detector's text map crosses an
    inner edge of the part it saw (a line running out of it), the whole input is run instead.
    """

    def __init__(self, infer: Callable[[np.ndarray], list], postprocess: object) -> None:
        self._infer, self._thresh = infer, float(getattr(postprocess, "thresh", 0.3))
        self._local = threading.local()

    def run(self, window: Window, read: Callable[[], list[TextLine]]) -> list[TextLine]:
        self._local.window, self._local.part = window, None
        try:
            return read()
        finally:
            self._local.window = None

    def last_part(self) -> Window | None:
        """The part of the frame (relative) the last ``run`` on this thread saw, or None."""
        return getattr(self._local, "part", None)

    def __call__(self, tensor: np.ndarray) -> list:
        window = getattr(self._local, "window", None)
        self._local.window = None  # one detector call per read
        if window is None:
            return self._infer(tensor)
        height, width = tensor.shape[2:]
        (top, bottom), (left, right) = (
            _span(window[1], window[3], height), _span(window[0], window[2], width)
        )  # fmt: skip
        if (bottom - top) * (right - left) > MAX_WINDOW_SHARE * height * width:
            return self._infer(tensor)
        part = self._infer(np.ascontiguousarray(tensor[:, :, top:bottom, left:right]))[0]
        if self._runs_out(part, top > 0, bottom < height, left > 0, right < width):
            return self._infer(tensor)
        whole = np.zeros((*part.shape[:2], height, width), dtype=part.dtype)
        whole[:, :, top:bottom, left:right] = part
        self._local.part = (left / width, top / height, right / width, bottom / height)
        return [whole]

    def _runs_out(self, part: np.ndarray, top: bool, bottom: bool, left: bool, right: bool) -> bool:
        """Whether text comes within EDGE_BAND of an inner edge (the detector's output fades
        towards the edge of what it sees, so a line cut there can end a few pixels short)."""
        band = EDGE_BAND
        edges = (
            part[..., :band, :],
            part[..., -band:, :],
            part[..., :, :band],
            part[..., :, -band:],
        )
        inner = (top, bottom, left, right)
        return any(
            cut and bool((edge > self._thresh).any())
            for cut, edge in zip(inner, edges, strict=True)
        )


def _span(start: float, end: float, size: int) -> tuple[int, int]:
    """``start``-``end`` (relative) in input pixels, widened by the margin and out to the grid."""
    low = max(0, (int(start * size) - WINDOW_MARGIN) // 32 * 32)
    high = min(size, -(-(int(np.ceil(end * size)) + WINDOW_MARGIN) // 32) * 32)
    return low, max(high, min(size, low + 32))


def _existing(path: Path) -> str:
    if not path.is_file():
        raise AnalysisError(
            f"the fused OCR model {path} is missing: build it with `make model` "
            "(python -m layers.model.ocr_models; VIDEO_JOBS_MODEL_DIR chooses the folder)"
        )
    return str(path)


def _session(model_path: str, intra_op_num_threads: int | None) -> ort.InferenceSession:
    """RapidOCR's session options, with the memory arena on and no idle spinning."""
    options = session_options(intra_op_num_threads)
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


class _TablePreProcess(DetPreProcess):
    """RapidOCR's ``DetPreProcess`` (resize to multiples of 32, ``(x / 255 - mean) / std``,
    HWC to NCHW float32), with the normalisation looked up in a table of the 256 values a
    uint8 channel can take, computed with the same numpy operations: identical output."""

    def __init__(
        self, limit_side_len: int, limit_type: str, mean: ArrayLike, std: ArrayLike
    ) -> None:
        super().__init__(limit_side_len, limit_type, mean, std)
        levels = np.arange(256, dtype=np.float32)[None, :] * self.scale  # float32, as per pixel
        self._table = ((levels - self.mean[:, None]) / self.std[:, None]).astype(np.float32)

    def __call__(self, img: np.ndarray) -> np.ndarray | None:
        resized = self.resize(img)
        if resized is None or resized.dtype != np.uint8 or resized.shape[2:] != (3,):
            return None if resized is None else super().__call__(img)
        return self.tensor(resized)

    def tensor(self, image: np.ndarray) -> np.ndarray:
        """The normalised NCHW tensor of a uint8 BGR image already at the network's size."""
        height, width = image.shape[:2]
        tensor = np.empty((1, 3, height, width), dtype=np.float32)
        # cv2.LUT on each contiguous plane: much less CPU than indexing strided channels
        for channel, plane in enumerate(cv2.split(image)):
            cv2.LUT(plane, self._table[channel], dst=tensor[0, channel])
        return tensor


def _table_preprocess(detector: TextDetector, max_wh: int) -> DetPreProcess:
    plain = TextDetector.get_preprocess(detector, max_wh)
    return _TablePreProcess(plain.limit_side_len, plain.limit_type, plain.mean, plain.std)


def _padded(image: np.ndarray) -> np.ndarray:
    """``image``, padded with black at the bottom or right to at most MAX_ASPECT:1, so that the
    pixel coordinates of what is on it do not move."""
    height, width = image.shape[:2]
    short = -(-max(height, width) // MAX_ASPECT)  # ceiling division
    bottom, right = max(0, short - height), max(0, short - width)
    if not bottom and not right:
        return image
    return cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=0)


def _relative_polygon(box: list[list[float]], width: int, height: int) -> tuple[Point, ...]:
    return tuple(
        (min(max(float(x) / width, 0.0), 1.0), min(max(float(y) / height, 0.0), 1.0))
        for x, y in box
    )


def _glyphs(text: str, placed: list, width: int, height: int) -> tuple[Glyph, ...]:
    """One glyph per character of the stripped text, if RapidOCR placed every character
    (``placed``: its character boxes, characters and confidences, or nothing)."""
    boxes, chars, confidences = placed or ([], [], [])
    if not (len(boxes) == len(chars) == len(confidences) == len(text)) or "".join(chars) != text:
        return ()
    lead = len(text) - len(text.lstrip())
    kept = range(lead, lead + len(text.strip()))
    return tuple(
        Glyph(text[i], float(confidences[i]), _relative_polygon(boxes[i], width, height))
        for i in kept
    )


def reading_order(lines: list[TextLine]) -> list[TextLine]:
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


# A worker uses one reader; the bench and the tests build up to four (the fused models and the
# wheel's, each thread count), and evicting one would break the sharing of sessions between
# pipelines.
@functools.lru_cache(maxsize=4)
def load_text_reader(
    detector_path: Path | None = None,
    recognizer_path: Path | None = None,
    *,
    min_confidence: float = 0.5,
    use_cls: bool = False,
    max_side_len: int | None = 960,
    intra_op_num_threads: int | None = None,
) -> TextReader:
    """The process-wide reader for these options: a warm Lambda keeps its three ONNX sessions.
    ``detector_path``, ``recognizer_path``: the fused models (``Settings.text_detector_path``,
    ``text_recognizer_path``); None reads with the wheel's own."""
    return TextReader(
        detector_path,
        recognizer_path,
        min_confidence=min_confidence,
        use_cls=use_cls,
        max_side_len=max_side_len,
        intra_op_num_threads=intra_op_num_threads,
    )
