"""The registry of analysis pipelines: id -> where its implementation lives.

Entries are import paths, resolved lazily, so the API can validate a ``pipeline_id`` at submit
time without importing any ML code (cold starts stay light); only the analyzer resolves them.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings
from chalicelib.errors import UnknownPipeline, quoted

if TYPE_CHECKING:  # submissions imports this module
    from chalicelib.submissions import JobOptions

PIPELINES: dict[str, str] = {
    "yolo_ocr": "chalicelib.analysis.pipeline:YoloOcrPipeline",
    "yolo_ocr_fast": "chalicelib.analysis.pipeline:YoloOcrFastPipeline",
    "yolo": "chalicelib.analysis.pipeline:YoloPipeline",
    "ocr": "chalicelib.analysis.pipeline:OcrPipeline",
}


def check_pipeline_id(pipeline_id: str) -> str:
    if pipeline_id not in PIPELINES:
        known = ", ".join(sorted(PIPELINES))
        raise UnknownPipeline(f"unknown pipeline {quoted(pipeline_id)}: choose one of {known}")
    return pipeline_id


def resolve(pipeline_id: str) -> Callable:
    """The pipeline's class (or factory); imports its module on first use."""
    module_name, _, attribute = PIPELINES[check_pipeline_id(pipeline_id)].partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class VideoFilePipelineService:
    """Runs a registered pipeline on a local video file.

    A pipeline is a class built once per process from the settings (so its models load once and
    are reused across jobs) with ``run(file_path, *, sample_fps, options) -> dict``, the results
    document; ``options`` is the job's ``JobOptions`` (None: the defaults). A pipeline whose
    ``run`` also takes ``timings`` (a dict) fills it with seconds per stage (``decode``,
    ``detect``, ``ocr``, ...) for the worker's log; they never go into the document.
    """

    def __init__(self, settings: Settings):
        self._settings = settings
        self._instances: dict[str, Any] = {}

    def pipeline(self, pipeline_id: str) -> Any:
        if pipeline_id not in self._instances:
            self._instances[pipeline_id] = resolve(pipeline_id)(self._settings)
        return self._instances[pipeline_id]

    def sliceable(self, pipeline_id: str | None) -> Any:
        """The pipeline if it can be analyzed in slices (it has ``analyze`` and ``fields``,
        as ``chalicelib/analysis/pipeline.py``'s do), else None (the worker calls
        ``run_on_file``)."""
        pipeline = self.pipeline(pipeline_id or self._settings.default_pipeline)
        return pipeline if hasattr(pipeline, "analyze") else None

    def run_on_file(
        self,
        file_path: str | os.PathLike[str],
        pipeline_id: str | None = None,
        *,
        sample_fps: float | None = None,
        options: JobOptions | None = None,
        timings: dict[str, float] | None = None,
    ) -> dict:
        fps = sample_fps or self._settings.sample_fps
        pipeline = self.pipeline(pipeline_id or self._settings.default_pipeline)
        if timings is not None and "timings" in inspect.signature(pipeline.run).parameters:
            return pipeline.run(file_path, sample_fps=fps, options=options, timings=timings)
        return pipeline.run(file_path, sample_fps=fps, options=options)
