"""The registry of analysis pipelines: id -> where its implementation lives.

Entries are import paths, resolved lazily, so the API can validate a ``pipeline_id`` at submit
time without importing any ML code (cold starts stay light); only the analyzer resolves them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from chalicelib.errors import UnknownPipeline

PIPELINES: dict[str, str] = {
    "yolo_ocr": "chalicelib.analysis.pipeline:YoloOcrPipeline",
    "yolo_ocr_fast": "chalicelib.analysis.pipeline:YoloOcrFastPipeline",
    "yolo": "chalicelib.analysis.pipeline:YoloPipeline",
    "ocr": "chalicelib.analysis.pipeline:OcrPipeline",
}


def check_pipeline_id(pipeline_id: str) -> str:
    if pipeline_id not in PIPELINES:
        known = ", ".join(sorted(PIPELINES))
        raise UnknownPipeline(f"unknown pipeline {pipeline_id!r}: choose one of {known}")
    return pipeline_id


def resolve(pipeline_id: str) -> Callable:
    """The pipeline's class (or factory); imports its module on first use."""
    module_name, _, attribute = PIPELINES[check_pipeline_id(pipeline_id)].partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class VideoFilePipelineService:
    """Runs a registered pipeline on a local video file.

    A pipeline is a class built once per process from the settings (so its models load once and
    are reused across jobs) with ``run(file_path, *, sample_fps, options) -> dict``, the results
    document; ``options`` is the job's ``JobOptions`` (None: the defaults).
    """

    def __init__(self, settings):
        self._settings = settings
        self._instances: dict[str, object] = {}

    def pipeline(self, pipeline_id: str):
        if pipeline_id not in self._instances:
            self._instances[pipeline_id] = resolve(pipeline_id)(self._settings)
        return self._instances[pipeline_id]

    def run_on_file(
        self,
        file_path,
        pipeline_id: str = "yolo_ocr",
        *,
        sample_fps: float | None = None,
        options=None,
    ) -> dict:
        fps = sample_fps or self._settings.sample_fps
        return self.pipeline(pipeline_id).run(file_path, sample_fps=fps, options=options)
