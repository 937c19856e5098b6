"""Building a results document (``chalicelib/results/document.py``) frame by frame, in bounded
memory.

``Assembler`` turns each analyzed frame into its JSON and hands full pieces
(``chalicelib/results/pieces.py``) to be stored, so a six-hour video never holds its 21,600
frames in memory. A frame waits (at most ``tracking.LOST_MS`` of video) until the tracker has
decided every object in it: an object of a confirmed track is written with the track's id (and
the label the detector gave it in that frame), one of a track that ended unconfirmed is left
out. At the end it reads the pieces back to build the segments and summaries from the frames
exactly as stored, each object under its track's label (decided over the track's life);
``build_document`` (whole documents in memory: tests, benchmarks) goes the same way, so a
document is the same bytes however it was built: at once, or across many slices with
checkpoints in between.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace

from chalicelib.results.document import (
    SCHEMA_VERSION,
    FrameResult,
    encode,
    frame_json,
    segments_json,
    summarize_objects,
    summarize_text,
    track_json,
)
from chalicelib.results.pieces import PieceBuilder, encode_head
from chalicelib.results.tracking import Tracker


def build_document(
    *,
    pipeline_id: str,
    options: dict,
    models: dict,
    video: dict,
    sampling: dict,
    frames: Iterable[FrameResult],
    segments: dict | None = None,
) -> dict:
    """``options``: the job's result options in full (``JobOptions.result_options``);
    ``segments``: what the pipeline found besides its frames (shots, technical cues)."""
    pieces: list[bytes] = []
    assembler = Assembler(lambda index, piece: pieces.append(piece))
    for frame in frames:
        assembler.add(frame)
    fields = dict(pipeline_id=pipeline_id, options=options, models=models, video=video,
                  sampling=sampling, **({"segments": segments} if segments else {}))  # fmt: skip
    document = json.loads(assembler.finish(fields, lambda index: json.loads(pieces[index])))
    return {**document["results"], "frames": [f for p in pieces for f in json.loads(p)]}


class Assembler:
    """Builds a results document frame by frame, with memory bounded by one piece of frames:
    each frame is held until its objects' tracks are decided, then written with their ids, and
    full pieces go to ``write_piece`` (``chalicelib/results/pieces.py``). ``finish`` reads the
    pieces back once to build segments and summaries from the frames as stored. ``state`` is
    everything needed to go on in another process (``Assembler(write_piece, state)``): the
    tracker, the frames it holds and the unfinished piece."""

    def __init__(self, write_piece: Callable[[int, bytes], None], state: dict | None = None):
        state = state or {}
        self._write_piece = write_piece
        self.tracker = Tracker.from_state(state.get("tracker"))
        self._held: list[dict] = copy.deepcopy(state.get("held", []))  # objects: track keys
        pending = [encode(frame) for frame in state.get("pending", [])]
        self.pieces = PieceBuilder(state.get("counts"), pending)

    def add(self, frame: FrameResult) -> None:
        keys = self.tracker.update(
            frame.timestamp_ms, frame.objects, frame.weak, new_shot=frame.new_shot
        )
        self._held.append(frame_json(frame, keys))
        self._release()

    def _release(self, everything: bool = False) -> None:
        """Write the held frames whose objects are all decided, in order (``everything``: the
        video ended, so every track is)."""
        decided = self.tracker.decided
        while self._held and (
            everything or all(decided(o["track_id"]) for o in self._held[0]["objects"])
        ):
            frame = self._held.pop(0)
            frame["objects"] = [
                {**o, "track_id": track.track_id}
                for o in frame["objects"]
                if (track := self.tracker.reported(o["track_id"])) is not None
            ]
            self._store(self.pieces.add(encode(frame)))

    def _store(self, piece: bytes | None) -> None:
        if piece is not None:
            self._write_piece(len(self.pieces.counts) - 1, piece)

    def state(self) -> dict:
        pending = [json.loads(frame) for frame in self.pieces.pending]
        return {"tracker": self.tracker.state(), "held": copy.deepcopy(self._held),
                "counts": self.pieces.counts, "pending": pending}  # fmt: skip

    def finish(self, fields: dict, read_piece: Callable[[int], list]) -> bytes:
        """The head (``pieces``) of the document with ``fields`` (pipeline_id, options,
        models, video, sampling, and ``segments`` the pipeline found besides its frames, if
        any), once the last piece is written."""
        self._release(everything=True)
        self._store(self.pieces.close())
        counts = self.pieces.counts
        labels = {t.track_id: t.label for t in self.tracker.tracks if t.track_id is not None}

        def frames() -> Iterator[FrameResult]:
            for index in range(len(counts)):
                yield from (stored_frame(frame, labels) for frame in read_piece(index))

        own_segments = fields.get("segments", {})
        results = {
            **fields,
            "schema_version": SCHEMA_VERSION,
            "tracks": [track_json(t) for t in self.tracker.tracks],
            "segments": {**segments_json(frames), **own_segments},
            "summary": {"objects": summarize_objects(frames()), "text": summarize_text(frames())},
        }
        return encode_head(results, counts)


def stored_frame(frame: dict, labels: dict[int, str]) -> FrameResult:
    """A frame of stored results, as the segments and summaries read it: each object under its
    track's label (``labels``: track id -> label)."""
    return FrameResult(
        frame["timestamp_ms"],
        frame["frame_index"],
        tuple(SimpleNamespace(**{**o, "label": labels[o["track_id"]]}) for o in frame["objects"]),
        tuple(SimpleNamespace(**t) for t in frame["text"]),
    )
