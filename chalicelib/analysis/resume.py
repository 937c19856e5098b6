"""What a pipeline carries from one sampled frame to the next, as JSON for a checkpoint.

A slice of analysis ends after any frame; the next slice (another invocation, maybe another
machine) must go on as if nothing had happened, or the results would differ. Three things carry
over: where sampling stands (``ReadPosition``), the change gate's thumbnail (OCR is skipped
on frames that look the same as it), and the text last read (an unchanged frame reuses it, a
frame changed in part keeps its lines outside that part).
Counters for the ``sampling`` block come along. JSON keeps floats exact (shortest repr), so a
restored value is the same number, and the thumbnail is stored as its bytes.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chalicelib.analysis.frames import ReadPosition
from chalicelib.errors import DamagedCheckpoint
from chalicelib.results.text_lines import Glyph, TextLine


@dataclass
class AnalysisState:
    position: ReadPosition | None = None  # None: from the first frame
    gate: np.ndarray | None = None  # the change gate's last thumbnail (int16 grey levels)
    text: list = field(default_factory=list)  # the lines last read (TextLine), as reported
    # The same before the job's text filter, where lines are carried over by region
    # (text_carry.py); None: not kept, the next changed frame is read whole.
    lines: list | None = None
    ocr_runs: int = 0
    frames_sampled: int = 0

    def to_json(self) -> dict[str, Any]:
        gate = None
        if self.gate is not None:
            raw = base64.b64encode(self.gate.astype(np.uint8).tobytes()).decode("ascii")
            gate = {"shape": list(self.gate.shape), "grey": raw}
        return {
            "position": asdict(self.position) if self.position else None,
            "gate": gate,
            "text": [asdict(line) for line in self.text],
            "lines": None if self.lines is None else [asdict(line) for line in self.lines],
            "ocr_runs": self.ocr_runs,
            "frames_sampled": self.frames_sampled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AnalysisState:
        """The state ``to_json`` gave; ``DamagedCheckpoint`` if ``data`` is not one (the slice
        then goes on from an earlier checkpoint)."""
        if not data:
            return cls()
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            message = f"the checkpoint's analysis state is not one: {error!r}"
            raise DamagedCheckpoint(message) from None

    @classmethod
    def _parse(cls, data: dict[str, Any]) -> AnalysisState:
        gate = data["gate"]
        if gate is not None:
            grey = np.frombuffer(base64.b64decode(gate["grey"], validate=True), dtype=np.uint8)
            gate = grey.reshape(gate["shape"]).astype(np.int16)
        state = cls(
            position=ReadPosition(**data["position"]) if data["position"] else None,
            gate=gate,
            text=[_line(line) for line in data["text"]],
            # Checkpoints written before regions were read have none.
            lines=None if data.get("lines") is None else [_line(ln) for ln in data["lines"]],
            ocr_runs=data["ocr_runs"],
            frames_sampled=data["frames_sampled"],
        )
        if not all(isinstance(n, int) for n in (state.ocr_runs, state.frames_sampled)):
            raise TypeError("ocr_runs and frames_sampled are counts")
        return state


def _points(polygon: list) -> tuple:
    return tuple(tuple(point) for point in polygon)


def _line(data: dict[str, Any]) -> TextLine:
    glyphs = tuple(Glyph(g["char"], g["confidence"], _points(g["polygon"])) for g in data["glyphs"])
    return TextLine(data["text"], data["confidence"], _points(data["polygon"]), glyphs)
