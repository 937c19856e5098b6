"""Stand-ins for ``Pipelines`` (the worker's pipeline source) where the real models are not
under test. Each hands the worker a ``Pipeline`` (``chalicelib/analysis/registry.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chalicelib.analysis.registry import Pipeline, SliceOutcome
from chalicelib.errors import DamagedCheckpoint


class FakePipeline:
    """One pipeline of ``FakePipelines``: records the call, emits ``frames``, or raises."""

    def __init__(self, owner: FakePipelines, pipeline_id: str | None):
        self.owner, self.pipeline_id = owner, pipeline_id or "yolo_ocr"

    def analyze(self, file_path, *, sample_fps, emit, options=None, state=None, stop=None,
                timings=None) -> SliceOutcome:  # fmt: skip
        path = Path(file_path)
        self.owner.calls.append((path, path.read_bytes(), self.pipeline_id, sample_fps))
        self.owner.options.append(options)
        if timings is not None:
            timings.update(decode=0.01, detect=0.02, ocr=0.03)
        self.owner.before_analysis()
        if isinstance(self.owner.outcome, Exception):
            raise self.owner.outcome
        if state is not None and not isinstance(state.get("next"), int):  # as pipelines do
            raise DamagedCheckpoint(f"the checkpoint's analysis state is not one: {state!r}")
        start = (state or {}).get("next", 0)
        end = len(self.owner.frames)
        if self.owner.slice_frames is not None:
            end = min(end, start + self.owner.slice_frames)
        for frame in self.owner.frames[start:end]:
            emit(frame)
        done = end == len(self.owner.frames)
        return SliceOutcome(done, {"next": end}, {}, {}, self.owner.picture if done else None)

    def fields(self, options, outcome: SliceOutcome) -> dict:
        return {"pipeline_id": self.pipeline_id, **self.owner.fields}


class FakePipelines:
    """Records each call (path, the video's bytes, pipeline id, sample rate; and the options);
    emits ``frames`` and stores ``fields`` as the document, or raises ``outcome`` if it is an
    error. ``before_analysis`` runs inside each call (a test's hook). With ``slice_frames``, a
    call ends after that many frames (as if its time were up) and the next goes on from its
    state, ``{"next": <frame>}``. ``picture``: the frame the last call hands over for the
    thumbnail."""

    def __init__(self, outcome: Exception | None = None, *, frames=(), fields=None,
                 slice_frames: int | None = None, picture=None):  # fmt: skip
        self.outcome, self.frames, self.fields = outcome, tuple(frames), dict(fields or {})
        self.slice_frames, self.picture = slice_frames, picture
        self.calls: list[tuple[Path, bytes, str | None, float | None]] = []
        self.options: list = []  # the JobOptions of each call
        self.before_analysis: Callable[[], None] = lambda: None

    def pipeline(self, pipeline_id: str | None) -> Pipeline:
        return FakePipeline(self, pipeline_id)


class RealPipeline:
    """The worker's view of one real pipeline object (built once by a session fixture)."""

    def __init__(self, pipeline: Pipeline):
        self._pipeline = pipeline

    def pipeline(self, pipeline_id: str | None) -> Pipeline:
        return self._pipeline
