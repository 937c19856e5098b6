"""Which text to read again on a sampled frame, and which lines to carry over from before.

OCR costs several times the object detector per frame, and most of it is the text detector
looking at parts of the frame that have not changed. The change gates compare grey thumbnails
cell by cell: a cell is "the same" when its mean grey level (0-255) moved by at most
CHANGE_THRESHOLD since it was last read. Cells are 1/128 of the frame (10x10 px at 1280x720),
close to a subtitle's stroke height, so an 18 px subtitle that appears, changes or goes moves
some cell by 44-67 levels, while a still scene's compression noise moves none by more than a
few (coarser cells average small captions away; docs/measurements.md has the numbers).

- ``ChangeGate`` says whether a frame changed at all (then it is read whole).
- ``RegionGate`` says where: the box around the changed cells. ``TextReader.read_window`` runs
  the text detector there only (with a margin), and ``carry_over`` keeps the last lines that lie
  wholly outside what it saw. A line the window cuts is not guessed at: the frame is read whole.

Both approximate a whole read of every frame: every frame of the sample clips reads the same
at 1 frame/s, but large letters can read otherwise in a part (letter_blocks at 3 frames/s: 2 of
30 frames; docs/measurements.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from chalicelib.analysis.ocr import reading_order
from chalicelib.results.text_lines import TextFilter, TextLine

if TYPE_CHECKING:
    from chalicelib.analysis.ocr import TextReader
    from chalicelib.analysis.resume import AnalysisState

THUMB_SIZE = (128, 72)
CHANGE_THRESHOLD = 40.0
WHOLE: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


class ChangeGate:
    """Says whether a frame differs enough from the last one that was let through."""

    def __init__(self, threshold: float = CHANGE_THRESHOLD, last: np.ndarray | None = None):
        self.threshold = threshold
        self.last = last  # the thumbnail of the last frame let through (checkpoints keep it)

    def changed(self, image_bgr: np.ndarray) -> bool:
        thumb = thumbnail(image_bgr)
        same_size = self.last is not None and thumb.shape == self.last.shape
        if same_size and np.abs(thumb - self.last).max() <= self.threshold:
            return False
        self.last = thumb
        return True


class RegionGate(ChangeGate):
    """``ChangeGate`` by region: ``last`` holds each cell as it was when last read, and only
    the cells inside the returned window are renewed (the rest stay compared with the frame
    they were read on, so slow drift still adds up to a change)."""

    def changed_window(self, image_bgr: np.ndarray) -> tuple[float, float, float, float] | None:
        """None if no cell changed; else the box (x0, y0, x1, y1, relative) around the cells
        that did, the whole frame for the first one or after a change of size."""
        thumb = thumbnail(image_bgr)
        if self.last is None or thumb.shape != self.last.shape:
            self.last = thumb
            return WHOLE
        moved = np.abs(thumb - self.last) > self.threshold
        if not moved.any():
            return None
        rows, cols = np.flatnonzero(moved.any(axis=1)), np.flatnonzero(moved.any(axis=0))
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        self.last[top:bottom, left:right] = thumb[top:bottom, left:right]
        height, width = thumb.shape
        return (left / width, top / height, right / width, bottom / height)


def carry_over(
    previous: list[TextLine] | None,
    fresh: list[TextLine],
    seen: tuple[float, float, float, float],
) -> list[TextLine] | None:
    """The last frame's lines that lie wholly outside ``seen`` (the part just read) with the
    ``fresh`` ones read there; None when that is not enough to know the frame's lines (a
    previous line runs across the part's edge, or there are no previous lines on record)."""
    if previous is None:
        return None
    kept = []
    for line in previous:
        xs, ys = [x for x, _ in line.polygon], [y for _, y in line.polygon]
        outside = (
            max(xs) <= seen[0] or min(xs) >= seen[2] or max(ys) <= seen[1] or min(ys) >= seen[3]
        )
        inside = min(xs) >= seen[0] and max(xs) <= seen[2] and min(ys) >= seen[1]
        if outside:
            kept.append(line)
        elif not (inside and max(ys) <= seen[3]):
            return None
    return kept + fresh


class TextStage:
    """The text side of one pass: ``plan`` decides in decoding order what to read on a frame
    (on the main thread; the returned call runs on a worker), ``settle`` turns what was read
    into the frame's lines in frame order. ``regions``: read only the changed part of a frame
    and carry the other lines over; otherwise a changed frame is read whole."""

    def __init__(
        self,
        reader: TextReader,
        text_filter: TextFilter,
        state: AnalysisState,
        *,
        skip_unchanged: bool,
        prefilter: bool,
        regions: bool,
    ) -> None:
        self.reader, self.filter, self.state, self.prefilter = reader, text_filter, state, prefilter
        self.skip_unchanged, self.regions = skip_unchanged, regions and skip_unchanged
        self.gate = (RegionGate if self.regions else ChangeGate)(last=state.gate)

    def plan(self, image: np.ndarray) -> Callable[[], tuple] | None:
        """What to run for this frame's text, or None: its text is the last frame's."""
        if not self.regions:
            if self.skip_unchanged and not self.gate.changed(image):
                return None
            return functools.partial(self._whole, image)
        assert isinstance(self.gate, RegionGate)
        window = self.gate.changed_window(image)
        if window is None:
            return None
        if window == WHOLE:
            return lambda: (self.reader.read(image), None, True)
        return lambda: (*self.reader.read_window(image, window), True)

    def _whole(self, image: np.ndarray) -> tuple[list[TextLine], None, bool]:
        if self.prefilter and not self.reader.sees_text(image):
            return [], None, False
        return self.reader.read(image), None, True

    def settle(self, image: np.ndarray, outcome: tuple) -> None:
        """Make ``outcome`` (what a planned call returned: the lines read, the part of the
        frame they were read on or None for all of it, whether the reader ran) the text of
        ``image``, the frame it was planned for."""
        lines, seen, was_read = outcome
        if seen is not None:
            merged = carry_over(self.state.lines, lines, seen)
            lines = self.reader.read(image) if merged is None else reading_order(merged)
        height, width = image.shape[:2]
        self.state.lines = lines if self.regions else None
        self.state.text = self.filter.apply(lines, width / max(height, 1))
        self.state.ocr_runs += was_read
