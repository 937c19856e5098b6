"""Object tracks: the same object across sampled frames gets one ``track_id``.

Tracking by detection in the spirit of ByteTrack: small, deterministic, and measured in
``make bench`` against objects counted by eye. Per sampled frame:

1. One object read twice is read once: a box over a more confident box of another label (IoU
   at least ``DUPLICATE_IOU``: "sports ball" and "frisbee" on one ball) is dropped, and so is a
   box lying (``NESTED``) inside a larger box of the same label, whatever its confidence (a
   woman's legs inside the woman; the detector's NMS drops only less confident ones).
2. Every live track predicts where its box is now from its smoothed velocity (centre and
   size), so a moving object still overlaps its prediction at 1 frame/s.
3. The frame's reported boxes (at or above the job's ``min_confidence``) are matched to live
   tracks, each stage taking what the previous one left:
   a. by overlap with the prediction (IoU at least ``IOU_MIN``), best first, a track already
      seen with the box's label first;
   b. by distance, nearest first, within ``GATE`` box sizes, between boxes of a similar size
      (areas within ``SIZE_RATIO``), confirmed tracks first: a juggled ball moves more than its
      size between samples;
   c. lone instances: a box and a track of a similar size that are each other's only
      candidate are one object, however far it moved (a running dog at 1 frame/s).
   Stages b and c match a box only to a track seen with its label or one of the same category
   (``chalicelib/results/labels.py``): a ball read as a frisbee stays the ball; a person
   never continues a tv.
4. Weak boxes (below ``min_confidence``, down to the detector's floor) only continue confirmed
   tracks of their label, by overlap: they carry an object through a dip in confidence, never
   start a track, and are never reported.
5. Reported boxes left over start tentative tracks. A track is confirmed once it has been seen
   in samples ``CONFIRM_MS`` apart or more, one of them at ``REPORT_MIN`` or more, or in one
   sample at ``CONFIDENT`` or more: one-off and flickering false objects are never reported.
   Only confirmed tracks are reported, with their objects; a tentative track that ends
   unconfirmed takes its objects with it (``Assembler`` holds frames back until every object
   in them is decided: at most ``LOST_MS``).
6. A track lives ``LOST_MS`` after its last sighting, whatever the sampling rate.
7. A track's label is the one with the most summed confidence over its life, so a ball read
   as "frisbee" now and then stays one "sports ball" (segments, summaries and the Rekognition
   API name its objects by it; each object keeps the label the detector gave it in its frame).

Ids are 1, 2, 3, ... in the order tracks are confirmed (frame order, then the detector's own
order), so the same video always gets the same ids.

No library: the tracking libraries that fit (norfair, motpy) need scipy (113 MB installed),
norfair also numpy < 2 (we run 2.2), motpy also filterpy, which pulls in matplotlib. With a
handful of boxes per frame, three greedy stages cost tens of microseconds a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from chalicelib.results.labels import category_of

IOU_MIN = 0.2  # overlap with the predicted box that continues a track
GATE = 6.0  # box sizes a box may be from a track's prediction and still continue it
SIZE_RATIO = 4.0  # areas further apart than this are not one object
DUPLICATE_IOU = 0.6  # two labels on one box
NESTED = 0.9  # share of a box inside a larger same-label box that makes it a part of that one
LOST_MS = 2500  # a track not seen for this long has ended
REPORT_MIN = 0.4  # a confirmed track was seen at least this confident once...
CONFIRM_MS = 500  # ...in samples at least this far apart...
CONFIDENT = 0.85  # ...or once this confident
SMOOTHING = 0.5  # weight of the newest velocity

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


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _named(track: Track, label: str) -> bool:
    """Whether ``label`` could name the track's object: one it was seen as, or one of the same
    category (a ball read as a frisbee, a car as a truck; never a person as a tv)."""
    if label in track.votes:
        return True
    category = category_of(label)
    return category is not None and any(category_of(seen) == category for seen in track.votes)


def _same_kind(track: Track, detection: Detected) -> bool:
    """Could this be the object the track follows: a label that names it, a similar size."""
    return _named(track, detection.label) and _sizes_fit(track.last_box, detection.box)


def _sizes_fit(a: Box, b: Box) -> bool:
    ratio = (a[2] * a[3]) / max(b[2] * b[3], 1e-12)
    return 1 / SIZE_RATIO <= ratio <= SIZE_RATIO


@dataclass
class Track:
    key: int  # creation order, internal
    votes: dict[str, float]  # label -> summed confidence
    first_ms: int
    last_ms: int
    first_box: Box
    last_box: Box
    velocity: tuple[float, float, float, float] | None = None  # per ms: centre x, y, w, h
    frames: int = 1
    max_confidence: float = 0.0
    track_id: int | None = None  # once confirmed

    @property
    def label(self) -> str:
        return min(self.votes, key=lambda label: (-self.votes[label], label))

    def predict(self, timestamp_ms: int) -> Box:
        if self.velocity is None:
            return self.last_box
        dt = timestamp_ms - self.last_ms
        x, y, w, h = self.last_box
        vx, vy, vw, vh = self.velocity
        w2, h2 = max(w + vw * dt, w / 2), max(h + vh * dt, h / 2)
        cx, cy = x + w / 2 + vx * dt, y + h / 2 + vy * dt
        return (cx - w2 / 2, cy - h2 / 2, w2, h2)

    def extend(self, timestamp_ms: int, detection: Detected, *, counted: bool = True) -> None:
        dt = timestamp_ms - self.last_ms
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(self.last_box), _centre(detection.box)
            ow, oh, nw, nh = self.last_box[2], self.last_box[3], detection.box[2], detection.box[3]
            seen = ((nx - ox) / dt, (ny - oy) / dt, (nw - ow) / dt, (nh - oh) / dt)
            old = self.velocity or seen
            self.velocity = tuple(  # type: ignore[assignment]
                SMOOTHING * s + (1 - SMOOTHING) * o for s, o in zip(seen, old, strict=True)
            )
        self.last_ms, self.last_box = timestamp_ms, detection.box
        if counted:
            label = detection.label
            self.votes[label] = self.votes.get(label, 0.0) + detection.confidence
            self.frames += 1
            self.max_confidence = max(self.max_confidence, detection.confidence)

    @property
    def confirmable(self) -> bool:
        seen_for = self.last_ms - self.first_ms
        return self.max_confidence >= CONFIDENT or (
            self.frames >= 2 and seen_for >= CONFIRM_MS and self.max_confidence >= REPORT_MIN
        )


@dataclass
class _Frame:
    """One frame's matching: which detection went to which track."""

    timestamp_ms: int
    live: list[Track]
    free: set[int] = field(default_factory=set)  # indexes into live
    assigned: dict[int, Track] = field(default_factory=dict)  # detection index -> track

    def take(self, index: int, track_at: int, detection: Detected, counted: bool = True) -> None:
        self.free.discard(track_at)
        track = self.live[track_at]
        track.extend(self.timestamp_ms, detection, counted=counted)
        self.assigned[index] = track


class Tracker:
    """Feed it the sampled frames in order (``update``); ``tracks`` lists the confirmed ones."""

    def __init__(self) -> None:
        self._tracks: list[Track] = []
        self._confirmed = 0
        self.now_ms = -1

    def update(
        self, timestamp_ms: int, reported: Sequence[Detected], weak: Sequence[Detected] = ()
    ) -> list[int | None]:
        """The track key of each reported detection, or None for a duplicate (dropped)."""
        self.now_ms = timestamp_ms
        kept = _without_duplicates([*reported, *weak])
        live = [t for t in self._tracks if timestamp_ms - t.last_ms <= LOST_MS]
        frame = _Frame(timestamp_ms, live, set(range(len(live))))
        strong = [i for i, d in enumerate(reported) if id(d) in kept]
        self._by_overlap(frame, {i: reported[i] for i in strong})
        self._by_distance(frame, {i: reported[i] for i in strong if i not in frame.assigned})
        self._lone(frame, {i: reported[i] for i in strong if i not in frame.assigned})
        confirmed = {i for i in frame.free if live[i].track_id is not None}
        weak_frame = _Frame(timestamp_ms, live, confirmed)
        self._by_overlap(weak_frame, {i: d for i, d in enumerate(weak) if id(d) in kept}, False)
        keys: list[int | None] = []
        for i, detection in enumerate(reported):
            if i not in frame.assigned and i in strong:
                frame.assigned[i] = self._start(timestamp_ms, detection)
            keys.append(frame.assigned[i].key if i in frame.assigned else None)
        for track in self._tracks:
            if track.track_id is None and track.confirmable:
                self._confirmed += 1
                track.track_id = self._confirmed
        return keys

    def _by_overlap(
        self, frame: _Frame, detections: dict[int, Detected], counted: bool = True
    ) -> None:
        pairs = []
        for i, detection in detections.items():
            for at in frame.free:
                track = frame.live[at]
                if not counted and detection.label not in track.votes:
                    continue  # a weak box continues only what it names
                overlap = iou(track.predict(frame.timestamp_ms), detection.box)
                if overlap >= IOU_MIN:
                    pairs.append((detection.label not in track.votes, -overlap, at, i))
        for _, _, at, i in sorted(pairs):
            if at in frame.free and i not in frame.assigned:
                frame.take(i, at, detections[i], counted)

    def _by_distance(self, frame: _Frame, detections: dict[int, Detected]) -> None:
        pairs = []
        for i, detection in detections.items():
            for at in frame.free:
                track = frame.live[at]
                predicted = track.predict(frame.timestamp_ms)
                if not _named(track, detection.label) or not _sizes_fit(predicted, detection.box):
                    continue
                (px, py), (dx, dy) = _centre(predicted), _centre(detection.box)
                size = (predicted[2] * predicted[3] + detection.box[2] * detection.box[3]) / 2
                distance = ((px - dx) ** 2 + (py - dy) ** 2) ** 0.5 / max(size**0.5, 1e-9)
                if distance <= GATE:
                    unconfirmed = track.track_id is None
                    pairs.append((unconfirmed, detection.label not in track.votes, distance, at, i))
        for *_, at, i in sorted(pairs):
            if at in frame.free and i not in frame.assigned:
                frame.take(i, at, detections[i])

    def _lone(self, frame: _Frame, detections: dict[int, Detected]) -> None:
        candidates = {
            i: [at for at in sorted(frame.free) if _same_kind(frame.live[at], d)]
            for i, d in detections.items()
        }
        for i, tracks in candidates.items():
            if len(tracks) == 1 and sum(tracks[0] in other for other in candidates.values()) == 1:
                frame.take(i, tracks[0], detections[i])

    def _start(self, timestamp_ms: int, detection: Detected) -> Track:
        track = Track(
            len(self._tracks) + 1,
            {detection.label: detection.confidence},
            timestamp_ms,
            timestamp_ms,
            detection.box,
            detection.box,
            max_confidence=detection.confidence,
        )
        self._tracks.append(track)
        return track

    def decided(self, key: int) -> bool:
        """Whether the track's objects can be written: it is confirmed, or it ended without."""
        track = self._tracks[key - 1]
        return track.track_id is not None or self.now_ms - track.last_ms > LOST_MS

    def reported(self, key: int) -> Track | None:
        """The confirmed track of this key, or None (the track ended unconfirmed)."""
        track = self._tracks[key - 1]
        return track if track.track_id is not None else None

    @property
    def tracks(self) -> list[Track]:
        """The confirmed tracks, by id."""
        confirmed = [t for t in self._tracks if t.track_id is not None]
        return sorted(confirmed, key=lambda t: t.track_id or 0)

    def state(self) -> dict:
        """Everything ``from_state`` needs to go on exactly where this tracker is (JSON)."""
        return {"now_ms": self.now_ms, "confirmed": self._confirmed,
                "tracks": [asdict(t) for t in self._tracks]}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict | None) -> Tracker:
        tracker = cls()
        if state:
            tracker.now_ms, tracker._confirmed = state["now_ms"], state["confirmed"]
            tracker._tracks = [_track_of(t) for t in state["tracks"]]
        return tracker


def _track_of(stored: dict) -> Track:
    velocity = stored["velocity"]
    return Track(**{
        **stored,
        "first_box": tuple(stored["first_box"]),
        "last_box": tuple(stored["last_box"]),
        "velocity": None if velocity is None else tuple(velocity),
    })  # fmt: skip


def _inside(small: Box, big: Box) -> float:
    """The share of ``small``'s area that lies inside ``big``."""
    ix = max(0.0, min(small[0] + small[2], big[0] + big[2]) - max(small[0], big[0]))
    iy = max(0.0, min(small[1] + small[3], big[1] + big[3]) - max(small[1], big[1]))
    return ix * iy / max(small[2] * small[3], 1e-12)


def _without_duplicates(detections: Sequence[Detected]) -> set[int]:
    """The ids of the detections kept: a box over a more confident box of another label, or
    inside a larger box of the same label, is the same object read twice."""
    ranked = sorted(detections, key=lambda d: -d.confidence)
    kept: list[Detected] = []
    for detection in ranked:
        if not any(
            other.label != detection.label and iou(other.box, detection.box) >= DUPLICATE_IOU
            for other in kept
        ):
            kept.append(detection)
    area = {id(d): d.box[2] * d.box[3] for d in kept}
    return {
        id(d)
        for d in kept
        if not any(
            o.label == d.label and area[id(o)] > area[id(d)] and _inside(d.box, o.box) >= NESTED
            for o in kept
        )
    }
