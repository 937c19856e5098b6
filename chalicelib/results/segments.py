"""Time segments: when each label is on screen, and text as spans instead of rows per frame.

Both work on sampled frames in order, and both forgive a gap: a label (or a sign) missing from
up to ``GAP_TOLERANCE`` consecutive sampled frames between two that show it stays one segment
(one detector blink, or one frame the OCR misread, does not split it). Times are those of the
first and last sampled frames it was seen on.

Text spans. A line continues an open span when the two lie in the same place (the smaller box
is at least ``SAME_PLACE`` inside the other, axis-aligned) and read alike: the same text, or
one contains the other (spaces ignored). The second case keeps one sign one span when the OCR
splits or merges it differently between frames ("HELLO WORLD", then "HELLO" + "WORLD"); a line
that joins two open spans merges them. A span reports its fullest reading (most characters;
the first such on a tie) and that reading's polygon.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

GAP_TOLERANCE = 1  # sampled frames
SAME_PLACE = 0.5

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


class ReadLine(Protocol):
    """A line of text as read here: a ``TextLine``, or a line of stored results."""

    @property
    def text(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def polygon(self) -> Sequence[Sequence[float]]: ...


def _bounds(polygon: Sequence[Sequence[float]]) -> Box:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def _inside_share(a: Box, b: Box) -> float:
    """How much of the smaller of the two boxes lies inside the other."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def label_segments(frames: Iterable) -> list[dict]:
    """``[{label, start_ms, end_ms, frames, max_confidence}]`` ordered by start, then label."""
    open_: dict[str, dict] = {}
    done: list[dict] = []
    for index, frame in enumerate(frames):
        best: dict[str, float] = {}
        for d in frame.objects:
            best[d.label] = max(best.get(d.label, 0.0), d.confidence)
        for label in sorted(best):
            segment = open_.get(label)
            if segment is None or index - segment["_last"] > GAP_TOLERANCE + 1:
                if segment is not None:
                    done.append(segment)
                segment = open_[label] = {"label": label, "start_ms": frame.timestamp_ms,
                                          "frames": 0, "max_confidence": 0.0}  # fmt: skip
            segment.update(end_ms=frame.timestamp_ms, _last=index)
            segment["frames"] += 1
            segment["max_confidence"] = max(segment["max_confidence"], best[label])
    done.extend(open_.values())
    for segment in done:
        del segment["_last"]
    return sorted(done, key=lambda s: (s["start_ms"], s["label"], s["end_ms"]))


@dataclass
class _Span:
    text: str
    polygon: tuple
    start_ms: int
    end_ms: int
    last: int  # sampled-frame position last seen at
    max_confidence: float
    seen: set[int] = field(default_factory=set)

    @property
    def key(self) -> str:
        return "".join(self.text.split())

    def add(self, line: ReadLine, index: int, timestamp_ms: int) -> None:
        self.seen.add(index)
        self.last, self.end_ms = max(self.last, index), max(self.end_ms, timestamp_ms)
        self.max_confidence = max(self.max_confidence, line.confidence)
        if len("".join(line.text.split())) > len(self.key):
            self.text, self.polygon = line.text, tuple(line.polygon)

    def absorb(self, other: _Span) -> None:
        self.seen |= other.seen
        self.start_ms, self.end_ms = (
            min(self.start_ms, other.start_ms),
            max(self.end_ms, other.end_ms),
        )
        self.last = max(self.last, other.last)
        self.max_confidence = max(self.max_confidence, other.max_confidence)
        if len(other.key) > len(self.key):
            self.text, self.polygon = other.text, other.polygon


def _matches(span: _Span, line: ReadLine, key: str) -> bool:
    if not (key in span.key or span.key in key):
        return False
    return _inside_share(_bounds(span.polygon), _bounds(line.polygon)) >= SAME_PLACE


def text_spans(frames: Iterable) -> list[dict]:
    """``[{text, start_ms, end_ms, frames, max_confidence, polygon}]`` ordered by start."""
    spans: list[_Span] = []
    live: list[_Span] = []  # those recent enough to go on, in the order of ``spans``
    for index, frame in enumerate(frames):
        live = [s for s in live if index - s.last <= GAP_TOLERANCE + 1]  # others never return
        for line in frame.text:
            key = "".join(line.text.split())
            hits = [s for s in live if _matches(s, line, key)]
            if not hits:
                span = _Span(line.text, tuple(line.polygon), frame.timestamp_ms,
                             frame.timestamp_ms, index, line.confidence)  # fmt: skip
                spans.append(span)
                live.append(span)
                hits = [span]
            for other in hits[1:]:  # one line across several spans: they were one sign
                hits[0].absorb(other)
                spans.remove(other)
                live.remove(other)
            hits[0].add(line, index, frame.timestamp_ms)
    rows = [
        {
            "text": s.text,
            "start_ms": s.start_ms,
            "end_ms": s.end_ms,
            "frames": len(s.seen),
            "max_confidence": s.max_confidence,
            "polygon": s.polygon,
        }
        for s in spans
    ]
    return sorted(rows, key=lambda r: (r["start_ms"], r["text"], r["end_ms"]))
