"""Videos of any length: analysis in slices, with a checkpoint in storage after each.

One invocation analyzes until its slice time is up (``VIDEO_JOBS_SLICE_S``, or what the
function's timeout leaves after a margin to store), then stores checkpoint ``n`` and hands the
job to a continuation message; the next invocation (any machine) loads it, seeks to where the
last one stopped, and goes on. A worker that dies loses only the slice it was in: its retry
starts from the last checkpoint. The final results are the same bytes as one uninterrupted run.

Frames go to storage as they are analyzed, in the results' own pieces (``results/pieces.py``), so a
checkpoint holds only what is still to come: where to resume, the pipeline's carried state
(change gate, last text), the tracker and the unfinished piece. Its size does not grow with the
video (tracks aside: ~200 bytes each). Every object is written once and is the same bytes
whoever writes it (the analysis is deterministic), so a duplicate slice is harmless.

    video_jobs/<id>_checkpoint00001_results.json   after slice 1, 2, ...
    video_jobs/<id>_frames00000_results.json       the frame pieces, as they fill
    video_jobs/<id>_results.json                   the head, once, at the end
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chalicelib.adapters.storage import StorageService
from chalicelib.analysis.registry import Pipeline
from chalicelib.jobs.options import JobOptions
from chalicelib.results.assembly import Assembler
from chalicelib.results.document import FrameResult
from chalicelib.results.pieces import HEAD_SUFFIX, piece_path, write_once

CHECKPOINT_VERSION = 1


def checkpoint_path(head_path: str, number: int) -> str:
    return f"{head_path.removesuffix(HEAD_SUFFIX)}_checkpoint{number:05d}{HEAD_SUFFIX}"


@dataclass(frozen=True)
class SliceEnd:
    done: bool  # the video's end was reached and the head stored
    first_frame: int  # sampled frames are counted from 0; this slice analyzed first..frames_done
    frames_done: int
    store_s: float  # seconds spent storing the checkpoint or the head


class SlicedAnalysis:
    """One slice of one job: from checkpoint ``number`` (0: the first frame) to the end of the
    video or until ``stop()``; ``frames_done`` counts the frames analyzed so far, all slices."""

    def __init__(self, storage: StorageService, pipeline: Pipeline, head_path: str):
        self.storage, self.pipeline, self.head_path = storage, pipeline, head_path
        self.frames_done = 0

    def _write_piece(self, index: int, piece: bytes) -> None:
        write_once(self.storage, piece_path(self.head_path, index), piece)

    def _read_piece(self, index: int) -> list:
        return list(json.loads(self.storage.load_file(piece_path(self.head_path, index))))

    def _load(self, number: int) -> dict:
        if number == 0:
            return {"analysis": None, "assembler": None, "frames_done": 0}
        stored = json.loads(self.storage.load_file(checkpoint_path(self.head_path, number)))
        if stored.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint {number} has version {stored.get('version')!r}")
        return dict(stored)

    def run(
        self,
        video: Path,
        *,
        number: int,
        sample_fps: float,
        options: JobOptions | None,
        stop: Callable[[], bool],
        timings: dict[str, float],
        before_store: Callable[[], None],
    ) -> SliceEnd:
        checkpoint = self._load(number)
        assembler = Assembler(self._write_piece, checkpoint["assembler"])
        self.frames_done = first = checkpoint["frames_done"]

        def emit(frame: FrameResult) -> None:
            assembler.add(frame)
            self.frames_done += 1

        outcome = self.pipeline.analyze(
            video, sample_fps=sample_fps, options=options, emit=emit,
            state=checkpoint["analysis"], timings=timings,
            stop=lambda: self.frames_done > first and stop(),  # each slice gets somewhere
        )  # fmt: skip
        before_store()
        started = time.perf_counter()
        if outcome.done:
            fields = self.pipeline.fields(options, outcome)
            write_once(self.storage, self.head_path, assembler.finish(fields, self._read_piece))
        else:
            state = {
                "version": CHECKPOINT_VERSION,
                "frames_done": self.frames_done,
                "analysis": outcome.state,
                "assembler": assembler.state(),
            }
            path = checkpoint_path(self.head_path, number + 1)
            write_once(self.storage, path, json.dumps(state, sort_keys=True).encode())
        return SliceEnd(outcome.done, first, self.frames_done, time.perf_counter() - started)
