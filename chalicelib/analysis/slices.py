"""Videos of any length: analysis in slices, with a checkpoint in storage after each.

One invocation analyzes until its slice time is up (``VIDEO_JOBS_SLICE_S``, or what the
function's timeout leaves after a margin to store), then stores checkpoint ``n`` and hands the
job to a continuation message; the next invocation (any machine) loads it, seeks to where the
last one stopped, and goes on. A worker that dies loses only the slice it was in: its retry
starts from the last checkpoint. The final results are the same bytes as one uninterrupted run.

Frames go to storage as they are analyzed, in the results' own pieces (``results/pieces.py``), so a
checkpoint holds only what is still to come: where to resume, the pipeline's carried state
(change gate, last text), the tracker, the frames it holds back (at most a track's lifetime of
them, a few seconds) and the unfinished piece. Its size does not grow with the video (tracks
aside: ~250 bytes each). Every object is written once and is the same bytes
whoever writes it (the analysis is deterministic), so a duplicate slice is harmless.

What is stored is verified when it is read back: a checkpoint carries a SHA-256 of its state,
and the SHA-256 of each finished piece. A checkpoint that is missing, unreadable, of another
version or shape, or whose analysis state the pipeline cannot take, or a piece that is missing
or does not match its digest (all ``DamagedCheckpoint``), sends the slice back to the last good
checkpoint written before it (or to the start of the video), with a WARNING naming the job and
the object. The pieces are written again on the way (one stored with other bytes is replaced).
The analysis is deterministic, so the job still ends with the bytes of a clean run, only later.

    video_jobs/<id>_checkpoint00001_results.json   after slice 1, 2, ...
    video_jobs/<id>_frames00000_results.json       the frame pieces, as they fill
    video_jobs/<id>_results.json                   the head, once, at the end
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.analysis.registry import Pipeline
from chalicelib.errors import DamagedCheckpoint
from chalicelib.jobs.ids import results_path
from chalicelib.jobs.options import JobOptions
from chalicelib.results.assembly import Assembler
from chalicelib.results.document import FrameResult
from chalicelib.results.pieces import HEAD_SUFFIX, piece_path, write_once

log = logging.getLogger(__name__)
CHECKPOINT_VERSION = 3  # 2: SHA-256 of its state and of each piece; 3: frames the tracker holds
MAX_FALLBACKS = 3  # per slice; storage that keeps damaging what was just written is an outage


def checkpoint_path(head_path: str, number: int) -> str:
    return f"{head_path.removesuffix(HEAD_SUFFIX)}_checkpoint{number:05d}{HEAD_SUFFIX}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(state: dict) -> bytes:
    return json.dumps(state, sort_keys=True).encode()


@dataclass
class ResumePoint:
    """Where a slice starts: checkpoint ``number`` (0: the first frame), as loaded."""

    number: int
    frames_done: int = 0
    analysis: dict | None = None
    assembler: dict | None = None
    pieces: list[str] = field(default_factory=list)  # the SHA-256 of each finished piece


class Checkpoints:
    """One job's checkpoints and frame pieces, written once and verified when read back: what
    is missing, unreadable or not what was written raises ``DamagedCheckpoint``."""

    def __init__(self, storage: StorageService, job_id: str):
        self.storage, self.job_id, self.head_path = storage, job_id, results_path(job_id)

    def store(self, point: ResumePoint) -> None:
        state = {"frames_done": point.frames_done, "analysis": point.analysis,
                 "assembler": point.assembler, "pieces": point.pieces}  # fmt: skip
        stored = {"version": CHECKPOINT_VERSION, "sha256": _digest(_canonical(state)),
                  "state": state}  # fmt: skip
        write_once(self.storage, checkpoint_path(self.head_path, point.number), _canonical(stored))

    def load(self, number: int) -> ResumePoint:
        path = checkpoint_path(self.head_path, number)
        try:
            stored = json.loads(self._read(path))
        except ValueError as error:  # not UTF-8 or not JSON (both are ValueErrors)
            raise DamagedCheckpoint(f"checkpoint {path} is not JSON: {error}") from None
        version = stored.get("version") if isinstance(stored, dict) else None
        if version != CHECKPOINT_VERSION:
            raise DamagedCheckpoint(f"checkpoint {path} is of version {version!r}, "
                                    f"not {CHECKPOINT_VERSION}")  # fmt: skip
        state = stored.get("state")
        if not isinstance(state, dict) or stored.get("sha256") != _digest(_canonical(state)):
            raise DamagedCheckpoint(f"checkpoint {path} does not match its SHA-256")
        try:
            point = ResumePoint(number, **state)
            counts = Assembler(lambda index, piece: None, point.assembler).pieces.counts
            valid = (
                isinstance(point.frames_done, int)
                and isinstance(point.analysis, dict | None)
                and isinstance(point.pieces, list)
                and len(point.pieces) == len(counts)
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            valid = False
        if not valid:
            raise DamagedCheckpoint(f"checkpoint {path} does not hold a checkpoint's state")
        return point

    def write_piece(self, index: int, piece: bytes) -> str:
        """Store a piece once (another run's copy is the same bytes); one that is stored but
        holds other bytes is damaged, and is replaced (a PutObject: the analyzer may not
        delete)."""
        path = piece_path(self.head_path, index)
        try:
            self.storage.save_file(piece, path, overwrite=False)
        except FileExistsError:
            if self.storage.load_file(path) == piece:
                log.info("%s was already stored; keeping it", path)
            else:
                log.warning("job %s: frame piece %s held other bytes than its analysis "
                            "gives; replaced", self.job_id, path,
                            extra={"job_id": self.job_id})  # fmt: skip
                self.storage.save_file(piece, path)
        return _digest(piece)

    def read_piece(self, index: int, digest: str) -> list:
        path = piece_path(self.head_path, index)
        data = self._read(path, piece=index)
        if _digest(data) != digest:
            raise DamagedCheckpoint(f"frame piece {path} does not match its SHA-256", index)
        return list(json.loads(data))

    def _read(self, path: str, piece: int | None = None) -> bytes:
        try:
            return self.storage.load_file(path)
        except FileNotFoundError:
            raise DamagedCheckpoint(f"{path} is missing", piece) from None


@dataclass(frozen=True)
class SliceEnd:
    done: bool  # the video's end was reached and the head stored
    first_frame: int  # sampled frames are counted from 0; this slice analyzed first..frames_done
    frames_done: int
    store_s: float  # seconds spent storing the checkpoint or the head
    picture: Any = None  # SliceOutcome.picture


class SlicedAnalysis:
    """One slice of one job: from checkpoint ``number`` (0: the first frame) to the end of the
    video or until ``stop()``; ``frames_done`` counts the frames analyzed so far, all slices."""

    def __init__(self, storage: StorageService, pipeline: Pipeline, job_id: str):
        self.pipeline, self.job_id = pipeline, job_id
        self.checkpoints = Checkpoints(storage, job_id)
        self.head_path = self.checkpoints.head_path
        self.frames_done = 0

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
        """From checkpoint ``number`` or, if it is unusable, the last good one before it; the
        slice stores checkpoint ``number + 1`` (or the head) wherever it started."""
        point = self._resume_point(number)
        for _ in range(MAX_FALLBACKS):
            try:
                return self._run_from(point, video, number=number, sample_fps=sample_fps,
                                      options=options, stop=stop, timings=timings,
                                      before_store=before_store)  # fmt: skip
            except DamagedCheckpoint as damage:
                point = self._fall_back(point, damage)
        raise RuntimeError(f"job {self.job_id}: checkpoints still unusable after "
                           f"{MAX_FALLBACKS} fallbacks in one slice")  # fmt: skip

    def _run_from(
        self,
        point: ResumePoint,
        video: Path,
        *,
        number: int,
        sample_fps: float,
        options: JobOptions | None,
        stop: Callable[[], bool],
        timings: dict[str, float],
        before_store: Callable[[], None],
    ) -> SliceEnd:
        """The slice asked for from checkpoint ``number``, started from ``point`` (that one, or
        the one it fell back to); it stores checkpoint ``number + 1`` if it does not end."""
        digests = list(point.pieces)

        def write_piece(index: int, piece: bytes) -> None:
            digests[index:] = [self.checkpoints.write_piece(index, piece)]

        def read_piece(index: int) -> list:
            return self.checkpoints.read_piece(index, digests[index])

        assembler = Assembler(write_piece, point.assembler)
        self.frames_done = first = point.frames_done

        def emit(frame: FrameResult) -> None:
            assembler.add(frame)
            self.frames_done += 1

        outcome = self.pipeline.analyze(
            video, sample_fps=sample_fps, options=options, emit=emit, state=point.analysis,
            timings=timings, stop=stop,
        )  # fmt: skip
        before_store()
        started = time.perf_counter()
        if outcome.done:
            head = assembler.finish(self.pipeline.fields(options, outcome), read_piece)
            write_once(self.checkpoints.storage, self.head_path, head)
        else:
            after = ResumePoint(number + 1, self.frames_done, outcome.state, assembler.state(),
                                digests)  # fmt: skip
            self.checkpoints.store(after)
        stored_s = time.perf_counter() - started
        return SliceEnd(outcome.done, first, self.frames_done, stored_s, outcome.picture)

    def _fall_back(self, point: ResumePoint, damage: DamagedCheckpoint) -> ResumePoint:
        """Where to go on from after ``damage`` in a slice that started from ``point``."""
        if damage.piece is None:  # the pipeline could not take the checkpoint's analysis state
            return self._resume_point(point.number - 1, damaged=[damage])
        return self._resume_point(point.number, before_piece=damage.piece, damaged=[damage])

    def _resume_point(self, number: int, *, before_piece: int | None = None,
                      damaged: list[DamagedCheckpoint] | None = None) -> ResumePoint:  # fmt: skip
        """The last usable checkpoint at most ``number`` (written before piece ``before_piece``
        was, if given), else the start; each unusable one it passes is logged."""
        damaged = list(damaged or [])
        found = ResumePoint(0)
        for candidate in range(number, 0, -1):
            try:
                point = self.checkpoints.load(candidate)
            except DamagedCheckpoint as unusable:
                damaged.append(unusable)
                continue
            if before_piece is None or len(point.pieces) <= before_piece:
                found = point
                break
        where = f"checkpoint {found.number}" if found.number else "the start of the video"
        for damage in damaged:
            log.warning("job %s: %s; going on from %s (frame %d)", self.job_id, damage.message,
                        where, found.frames_done, extra={"job_id": self.job_id})  # fmt: skip
        return found
