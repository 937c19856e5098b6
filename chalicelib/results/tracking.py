"""Object tracks: the same object across sampled frames gets one ``track_id``.

Tracking by detection, matched on overlap: a detection continues the track of the same label
whose last box overlaps it most (IoU at least ``IOU_MIN``), if that track was seen within the
last ``MAX_MISSED + 1`` sampled frames; pairs are taken greedily, best IoU first. Then the lone
instance rule: when a frame has exactly one detection of a label and exactly one live track of
that label is left, they are the same object, however far it moved. Sampled at 1 frame/s a
running dog moves more than its own width between samples (IoU 0); the rule keeps it one track
as long as it is the only dog on screen. Its failure mode: one object leaving and another of the
same label entering within the gap tolerance share an id. Everything else starts a new track.
Ids are 1, 2, 3, ... in order of first appearance (frame order, then the detector's own
order), so the same video always gets the same ids.

Why greedy and not the Hungarian assignment (``scipy.optimize.linear_sum_assignment``): scipy
is not in the analyzer's image and would add about 113 MB installed (a 35 MB wheel) to it, and
the tracking libraries that fit (norfair, motpy) need scipy too, norfair also numpy < 2 (we run
2.2), motpy also filterpy, which pulls in matplotlib. With a handful of boxes per frame, of
which only boxes of the same label compete, the two assignments differ only when two boxes
cross at the same moment; the greedy one is 40 lines and costs microseconds a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

IOU_MIN = 0.3  # at 1 frame/s a walking person's box still overlaps its last one this much
MAX_MISSED = 1  # sampled frames a track may miss (a detector blink) and still continue

Box = tuple[float, float, float, float]  # x, y, w, h (relative)


class Detected(Protocol):
    """What tracking reads of a detection (``chalicelib.analysis.detector.Detection``)."""

    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def box(self) -> Box: ...


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    track_id: int
    label: str
    first_ms: int
    last_ms: int
    first_box: Box
    last_box: Box
    last_index: int  # sampled-frame position it was last seen at
    frames: int = 1
    max_confidence: float = 0.0


class Tracker:
    """Feed it the sampled frames in order (``update``); ``tracks`` lists what it found."""

    def __init__(self, iou_min: float = IOU_MIN, max_missed: int = MAX_MISSED) -> None:
        self.iou_min, self.max_missed = iou_min, max_missed
        self._tracks: list[Track] = []
        self._index = -1

    def update(self, timestamp_ms: int, detections: Sequence[Detected]) -> list[int]:
        """The track id of each detection (objects with ``label``, ``confidence``, ``box``)."""
        self._index += 1
        live = [t for t in self._tracks if self._index - t.last_index <= self.max_missed + 1]
        pairs = sorted(
            (-iou(t.last_box, d.box), t.track_id, i, t)
            for t in live
            for i, d in enumerate(detections)
            if t.label == d.label
        )
        ids: list[int | None] = [None] * len(detections)
        taken: set[int] = set()
        for negative_iou, track_id, i, track in pairs:
            if -negative_iou < self.iou_min:
                break
            if ids[i] is None and track_id not in taken:
                ids[i] = track_id
                taken.add(track_id)
                self._extend(track, timestamp_ms, detections[i])
        self._lone_instances(live, taken, detections, ids, timestamp_ms)
        for i, detection in enumerate(detections):
            if ids[i] is None:
                ids[i] = self._start(timestamp_ms, detection).track_id
        return [int(i) for i in ids if i is not None]

    def _lone_instances(
        self,
        live: list[Track],
        taken: set[int],
        detections: Sequence[Detected],
        ids: list[int | None],
        timestamp_ms: int,
    ) -> None:
        for i, detection in enumerate(detections):
            same = [d for d in detections if d.label == detection.label]
            tracks = [t for t in live if t.label == detection.label]
            lone = ids[i] is None and len(same) == 1 and len(tracks) == 1
            if lone and tracks[0].track_id not in taken:
                ids[i] = tracks[0].track_id
                taken.add(tracks[0].track_id)
                self._extend(tracks[0], timestamp_ms, detection)

    def _extend(self, track: Track, timestamp_ms: int, detection: Detected) -> None:
        track.last_ms, track.last_box, track.last_index = timestamp_ms, detection.box, self._index
        track.frames += 1
        track.max_confidence = max(track.max_confidence, detection.confidence)

    def _start(self, timestamp_ms: int, detection: Detected) -> Track:
        track = Track(
            len(self._tracks) + 1,
            detection.label,
            timestamp_ms,
            timestamp_ms,
            detection.box,
            detection.box,
            self._index,
            max_confidence=detection.confidence,
        )
        self._tracks.append(track)
        return track

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    def state(self) -> dict:
        """Everything ``from_state`` needs to go on exactly where this tracker is (JSON)."""
        return {"index": self._index, "tracks": [asdict(t) for t in self._tracks]}

    @classmethod
    def from_state(cls, state: dict | None) -> Tracker:
        tracker = cls()
        if state:
            tracker._index = state["index"]
            tracker._tracks = [
                Track(**dict(t, first_box=tuple(t["first_box"]), last_box=tuple(t["last_box"])))
                for t in state["tracks"]
            ]
        return tracker
