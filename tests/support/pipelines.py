"""Stand-ins for ``VideoFilePipelineService`` where the real models are not under test."""

from __future__ import annotations

from pathlib import Path


class FakePipelines:
    """Records each call; returns a tiny document, or raises ``outcome`` if it is an error."""

    def __init__(self, outcome: Exception | None = None):
        self.outcome = outcome
        self.calls: list[tuple[Path, bytes, str | None, float | None]] = []
        self.options: list = []  # the JobOptions of each call

    def sliceable(self, pipeline_id):
        return None  # whole documents from run_on_file

    def run_on_file(
        self, file_path, pipeline_id=None, *, sample_fps=None, options=None, timings=None
    ):
        path = Path(file_path)
        self.calls.append((path, path.read_bytes(), pipeline_id, sample_fps))
        self.options.append(options)
        if timings is not None:
            timings.update(decode=0.01, detect=0.02, ocr=0.03)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return {"frames": [], "pipeline_id": pipeline_id}


class RealPipeline:
    """The worker's view of one real pipeline object (built once by a session fixture)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def sliceable(self, pipeline_id):
        return self.pipeline

    def run_on_file(
        self, file_path, pipeline_id=None, *, sample_fps=None, options=None, timings=None
    ):
        return self.pipeline.run(
            file_path, sample_fps=sample_fps or 1.0, options=options, timings=timings
        )
