"""Object tracks: the same object across sampled frames gets one ``track_id``.

Tracking by detection in the spirit of ByteTrack: small, deterministic, and measured in
``make bench`` against objects counted by eye. Per sampled frame:

1. One object read twice is read once: a box over a more confident box of another label (IoU
   at least ``DUPLICATE_IOU``: "sports ball" and "frisbee" on one ball) is dropped, and so is a
   box lying (``NESTED``) inside a larger reported box of the same label, whatever its
   confidence (a woman's legs inside the woman; the detector's NMS drops only less confident
   ones).
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
   A box continues only a track seen with its label or one of the same category
   (``chalicelib/results/labels.py``), or, by overlap, the track whose very box it is (IoU at
   least ``SAME_BOX_IOU``): a ball read as a frisbee stays the ball; a person walking past a
   tv never continues it.
4. Weak boxes (below ``min_confidence``, down to the detector's floor) only continue confirmed
   tracks of their label, by overlap: they carry an object through a dip in confidence (its
   prediction and life), never start a track, and are never reported (not in the track's
   ``last_ms``, ``last_box``, ``frames`` or label either).
5. Reported boxes left over start tentative tracks. A track is confirmed once it has been seen
   in samples ``CONFIRM_MS`` apart or more, one of them at ``REPORT_MIN`` or more, or in one
   sample at ``CONFIDENT`` or more: one-off and flickering false objects are never reported.
   Only confirmed tracks are reported, with their objects. A tentative track is rejected once
   it has been lost, or has lived a track's lifetime (below) without confirming (a faint chair
   seen all along): it ends there and takes its objects with it. So ``Assembler``, which holds
   frames back until every object in them is decided, holds at most a lifetime of them.
6. A track lives ``LOST_MS`` after its last sighting, or two sampling intervals when samples
   are further apart than that (0.2 frame/s still follows an object), and never past a shot
   boundary (when the job finds shots, ``chalicelib/analysis/shots.py``): a cut to another
   camera is another picture, whatever is where the object was.
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

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from chalicelib.results.labels import category_of

IOU_MIN = 0.2  # overlap with the predicted box that continues a track
GATE = 6.0  # box sizes a box may be from a track's prediction and still continue it
SIZE_RATIO = 4.0  # areas further apart than this are not one object
DUPLICATE_IOU = 0.6  # two labels on one box
SAME_BOX_IOU = 0.6  # a box of another kind continues a track only when it is that track's box
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
    inter = _intersection(a, b)
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
    return _named(track, detection.label) and _sizes_fit(track.seen_box, detection.box)


def _sizes_fit(a: Box, b: Box) -> bool:
    ratio = (a[2] * a[3]) / max(b[2] * b[3], 1e-12)
    return 1 / SIZE_RATIO <= ratio <= SIZE_RATIO


@dataclass
class Track:
    key: int  # creation order, internal
    votes: dict[str, float]  # label -> summed confidence of its reported boxes
    first_ms: int
    last_ms: int  # its last reported box
    first_box: Box
    last_box: Box
    seen_ms: int  # its last box, reported or weak: what its life and prediction go by
    seen_box: Box
    velocity: tuple[float, float, float, float] | None = None  # per ms: centre x, y, w, h
    frames: int = 1
    max_confidence: float = 0.0
    track_id: int | None = None  # once confirmed
    rejected: bool = False  # ended unconfirmed

    @property
    def label(self) -> str:
        return min(self.votes, key=lambda label: (-self.votes[label], label))

    def predict(self, timestamp_ms: int) -> Box:
        if self.velocity is None:
            return self.seen_box
        dt = timestamp_ms - self.seen_ms
        x, y, w, h = self.seen_box
        vx, vy, vw, vh = self.velocity
        w2, h2 = max(w + vw * dt, w / 2), max(h + vh * dt, h / 2)
        cx, cy = x + w / 2 + vx * dt, y + h / 2 + vy * dt
        return (cx - w2 / 2, cy - h2 / 2, w2, h2)

    def extend(self, timestamp_ms: int, detection: Detected, *, counted: bool = True) -> None:
        dt = timestamp_ms - self.seen_ms
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(self.seen_box), _centre(detection.box)
            ow, oh, nw, nh = self.seen_box[2], self.seen_box[3], detection.box[2], detection.box[3]
            seen = ((nx - ox) / dt, (ny - oy) / dt, (nw - ow) / dt, (nh - oh) / dt)
            old = self.velocity or seen
            self.velocity = tuple(  # type: ignore[assignment]
                SMOOTHING * s + (1 - SMOOTHING) * o for s, o in zip(seen, old, strict=True)
            )
        self.seen_ms, self.seen_box = timestamp_ms, detection.box
        if counted:
            label = detection.label
            self.votes[label] = self.votes.get(label, 0.0) + detection.confidence
            self.last_ms, self.last_box = timestamp_ms, detection.box
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
    free: set[int]  # indexes into live
    assigned: dict[int, Track]  # detection index -> track

    def take(self, index: int, track_at: int, detection: Detected, counted: bool = True) -> None:
        self.free.discard(track_at)
        track = self.live[track_at]
        track.extend(self.timestamp_ms, detection, counted=counted)
        self.assigned[index] = track


class Tracker:
    """Feed it the sampled frames in order (``update``); ``tracks`` lists the confirmed ones."""

    def __init__(self) -> None:
        self._tracks: list[Track] = []  # every track, by key - 1
        self._open: list[int] = []  # the keys of the tracks that have not ended
        self._confirmed = 0
        self.now_ms = -1
        self.interval_ms = 0  # between the last two samples

    def update(
        self,
        timestamp_ms: int,
        reported: Sequence[Detected],
        weak: Sequence[Detected] = (),
        *,
        new_shot: bool = False,
    ) -> list[int | None]:
        """The track key of each reported detection, or None for a duplicate (dropped).
        ``new_shot``: a shot boundary lies between the last sample and this one, so every
        track ends (a tentative one, rejected) and what is seen now starts new ones."""
        if new_shot:
            for key in self._open:
                track = self._tracks[key - 1]
                track.rejected = track.track_id is None
            self._open = []
        if self.now_ms >= 0:
            self.interval_ms = timestamp_ms - self.now_ms
        self.now_ms = timestamp_ms
        kept = _kept(reported, weak)
        live = self._live()
        frame = _Frame(timestamp_ms, live, set(range(len(live))), {})
        strong = [i for i in range(len(reported)) if i in kept]
        self._by_overlap(frame, {i: reported[i] for i in strong})
        self._by_distance(frame, {i: reported[i] for i in strong if i not in frame.assigned})
        self._lone(frame, {i: reported[i] for i in strong if i not in frame.assigned})
        confirmed = {i for i in frame.free if live[i].track_id is not None}
        faint = {i: d for i, d in enumerate(weak) if len(reported) + i in kept}
        self._by_overlap(_Frame(timestamp_ms, live, confirmed, {}), faint, counted=False)
        keys: list[int | None] = []
        for i, detection in enumerate(reported):
            if i not in frame.assigned and i in strong:
                frame.assigned[i] = self._start(timestamp_ms, detection)
            keys.append(frame.assigned[i].key if i in frame.assigned else None)
        for key in self._open:
            track = self._tracks[key - 1]
            if track.track_id is None and track.confirmable:
                self._confirmed += 1
                track.track_id = self._confirmed
        return keys

    def _lifetime_ms(self) -> int:
        return max(LOST_MS, 2 * self.interval_ms)

    def _live(self) -> list[Track]:
        """The tracks that go on at ``now_ms``; the others end (a tentative one, rejected)."""
        lifetime, live = self._lifetime_ms(), []
        for key in self._open:
            track = self._tracks[key - 1]
            lost = self.now_ms - track.seen_ms > lifetime
            stale = track.track_id is None and self.now_ms - track.first_ms > lifetime
            if lost or stale:
                track.rejected = track.track_id is None
            else:
                live.append(track)
        self._open = [track.key for track in live]
        return live

    def _by_overlap(
        self, frame: _Frame, detections: dict[int, Detected], counted: bool = True
    ) -> None:
        pairs = []
        for i, detection in detections.items():
            for at in frame.free:
                track = frame.live[at]
                label = detection.label
                if not counted and label not in track.votes:
                    continue  # a weak box continues only what it names
                overlap = iou(track.predict(frame.timestamp_ms), detection.box)
                if overlap >= (IOU_MIN if _named(track, label) else SAME_BOX_IOU):
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
        at, box = timestamp_ms, detection.box
        track = Track(len(self._tracks) + 1, {detection.label: detection.confidence}, at, at,
                      box, box, at, box, max_confidence=detection.confidence)  # fmt: skip
        self._tracks.append(track)
        self._open.append(track.key)
        return track

    def decided(self, key: int) -> bool:
        """Whether the track's objects can be written: it is confirmed, or it can no longer be
        (rejected, or it will be at the next sample: lost or too old to confirm)."""
        track = self._tracks[key - 1]
        if track.track_id is not None or track.rejected:
            return True
        lifetime = self._lifetime_ms()
        return self.now_ms - track.seen_ms >= lifetime or self.now_ms - track.first_ms >= lifetime

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
        return {"now_ms": self.now_ms, "interval_ms": self.interval_ms,
                "confirmed": self._confirmed, "open": list(self._open),
                "tracks": [asdict(t) for t in self._tracks]}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict | None) -> Tracker:
        tracker = cls()
        if state:
            tracker.now_ms, tracker.interval_ms = state["now_ms"], state["interval_ms"]
            tracker._confirmed, tracker._open = state["confirmed"], list(state["open"])
            tracker._tracks = [_track_of(t) for t in state["tracks"]]
        return tracker


def _track_of(stored: dict) -> Track:
    boxes = {name: tuple(stored[name]) for name in ("first_box", "last_box", "seen_box")}
    velocity = stored["velocity"]
    return Track(**{**copy.deepcopy(stored), **boxes,
                    "velocity": None if velocity is None else tuple(velocity)})  # fmt: skip


def _intersection(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def _kept(reported: Sequence[Detected], weak: Sequence[Detected]) -> set[int]:
    """The positions in ``[*reported, *weak]`` of the boxes kept: a box over a more confident
    box of another label, or inside a larger reported box of the same label, is the same
    object read twice."""
    boxes = [*reported, *weak]
    ranked = sorted(range(len(boxes)), key=lambda i: (-boxes[i].confidence, i))
    kept: list[int] = []
    for i in ranked:
        if not any(
            boxes[k].label != boxes[i].label and iou(boxes[k].box, boxes[i].box) >= DUPLICATE_IOU
            for k in kept
        ):
            kept.append(i)

    def area(i: int) -> float:
        return boxes[i].box[2] * boxes[i].box[3]

    def nested(i: int, whole: int) -> bool:
        inside = _intersection(boxes[i].box, boxes[whole].box) / max(area(i), 1e-12)
        return boxes[whole].label == boxes[i].label and area(whole) > area(i) and inside >= NESTED

    return {i for i in kept if not any(k < len(reported) and nested(i, k) for k in kept)}
