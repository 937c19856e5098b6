"""RegionGate and carry_over (chalicelib/analysis/text_carry.py): where a frame changed, and
which of the last lines stand beside what was read again there."""

import numpy as np

from chalicelib.analysis.text_carry import WHOLE, RegionGate, carry_over
from chalicelib.results.text_lines import TextLine


def frame(grey: int = 100) -> np.ndarray:
    return np.full((720, 1280, 3), grey, dtype=np.uint8)


def box(x0: float, y0: float, x1: float, y1: float, text: str = "A") -> TextLine:
    return TextLine(text, 0.9, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_the_first_frame_is_read_whole_and_a_still_one_not_at_all():
    gate = RegionGate()
    assert gate.changed_window(frame()) == WHOLE
    assert gate.changed_window(frame(103)) is None


def test_the_window_is_the_box_around_the_changed_cells_and_only_those_are_renewed():
    gate = RegionGate()
    gate.changed_window(frame())
    changed = frame()
    changed[360:400, 640:720] = 255  # cells 64-71 across, 36-39 down (10x10 px each)
    assert gate.changed_window(changed) == (64 / 128, 36 / 72, 72 / 128, 40 / 72)
    drifted = changed.copy()
    drifted[:80, :80] = 130  # moved 30 levels: under the threshold, nothing to read
    assert gate.changed_window(drifted) is None
    drifted[:80, :80] = 145  # 45 from the frame those cells were read on: read again
    assert gate.changed_window(drifted) == (0.0, 0.0, 8 / 128, 8 / 72)


def test_a_new_size_is_read_whole():
    gate = RegionGate()
    gate.changed_window(frame())
    assert gate.changed_window(np.zeros((100, 100, 3), dtype=np.uint8)) == WHOLE


def test_lines_outside_what_was_read_are_carried_beside_the_fresh_ones():
    seen = (0.4, 0.4, 0.6, 0.6)
    old_inside, old_outside = box(0.45, 0.45, 0.55, 0.5, "OLD"), box(0.1, 0.1, 0.3, 0.2, "KEPT")
    fresh = [box(0.42, 0.5, 0.58, 0.55, "NEW")]
    assert carry_over([old_inside, old_outside], fresh, seen) == [old_outside, *fresh]


def test_a_line_across_the_edge_or_no_record_means_reading_the_whole_frame():
    seen = (0.4, 0.4, 0.6, 0.6)
    assert carry_over([box(0.3, 0.45, 0.5, 0.5)], [], seen) is None
    assert carry_over(None, [], seen) is None
    assert carry_over([], [], seen) == []
