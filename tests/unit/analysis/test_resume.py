"""AnalysisState (chalicelib/analysis/resume.py): what a pipeline carries across a checkpoint
comes back exactly, and a state that is not one raises DamagedCheckpoint, not a KeyError."""

import numpy as np
import pytest

from chalicelib.analysis.frames import ReadPosition
from chalicelib.analysis.resume import AnalysisState
from chalicelib.errors import DamagedCheckpoint
from chalicelib.results.text_lines import Glyph, TextLine

STATE = AnalysisState(
    position=ReadPosition(index=41, position_ms=1366.6666666666667, origin_ms=0.0, step=2),
    gate=np.arange(12, dtype=np.int16).reshape(3, 4),
    text=[
        TextLine(
            "EXIT",
            0.97,
            ((0, 0), (1, 0), (1, 1), (0, 1)),
            (Glyph("E", 0.9, ((0, 0), (0.25, 0), (0.25, 1), (0, 1))),),
        )
    ],  # fmt: skip
    lines=[TextLine("EXIT", 0.97, ((0, 0), (1, 0), (1, 1), (0, 1)))],
    ocr_runs=3,
    frames_sampled=7,
)


def test_a_state_comes_back_exactly():
    restored = AnalysisState.from_json(STATE.to_json())
    assert restored.to_json() == STATE.to_json()
    assert restored.position == STATE.position and restored.text == STATE.text
    assert restored.lines == STATE.lines
    assert np.array_equal(restored.gate, STATE.gate) and restored.gate.dtype == np.int16


def test_a_checkpoint_from_before_regions_reads_the_next_changed_frame_whole():
    data = STATE.to_json()
    del data["lines"]
    assert AnalysisState.from_json(data).lines is None


def broken(change):
    data = STATE.to_json()
    change(data)
    return data


@pytest.mark.parametrize(
    "data",
    [
        broken(lambda d: d.pop("gate")),
        broken(lambda d: d.update(position={"index": 1})),
        broken(lambda d: d["gate"].update(grey="not base64!")),
        broken(lambda d: d["gate"].update(shape=[5, 5])),
        broken(lambda d: d.update(text=["EXIT"])),
        broken(lambda d: d.update(frames_sampled="7")),
        ["not", "a", "state"],
    ],
    ids=[
        "no gate",
        "position incomplete",
        "gate not base64",
        "gate of another shape",
        "text not lines",
        "count not a number",
        "a list",
    ],  # fmt: skip
)
def test_a_state_that_is_not_one_raises_damaged_checkpoint(data):
    with pytest.raises(DamagedCheckpoint, match="analysis state"):
        AnalysisState.from_json(data)
