"""The registry of analysis pipelines (id -> where its implementation lives) and the ``Pipeline``
protocol every one of them implements.

Entries are import paths, resolved lazily, so the API can validate a ``pipeline_id`` at submit
time without importing any ML code (cold starts stay light); only the analyzer resolves them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.config import MAX_ANALYZER_THREADS, Settings
from chalicelib.errors import UnknownPipeline, quoted
from chalicelib.jobs.options import JobOptions

PIPELINES: dict[str, str] = {
    "yolo_ocr": "chalicelib.analysis.pipeline:YoloOcrPipeline",
    "yolo_ocr_fast": "chalicelib.analysis.pipeline:YoloOcrFastPipeline",
    "yolo": "chalicelib.analysis.pipeline:YoloPipeline",
    "ocr": "chalicelib.analysis.pipeline:OcrPipeline",
    "shots": "chalicelib.analysis.shots:ShotsPipeline",
}
# the pipelines that detect objects, so may run a tenant's own detector (``model_id``)
OBJECT_PIPELINES = ("yolo", "yolo_ocr", "yolo_ocr_fast")
VideoPath = str | os.PathLike[str]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, which ``taskset`` narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(threads: int | None = None) -> int:
    """Threads one job analyzes frames on: ``threads`` (``Settings.analyzer_threads``) when
    set, else one per usable CPU (2 on the analyzer's Lambda up to 3008 MB)."""
    return threads or max(1, min(usable_cpus(), MAX_ANALYZER_THREADS))


@dataclass(frozen=True)
class SliceOutcome:
    """Where one call of ``Pipeline.analyze`` left the video: ``done`` (its end was reached),
    else ``state`` goes into the next call; ``sampling`` is complete once done."""

    done: bool
    state: dict
    video: dict
    sampling: dict
    # the sampled frame nearest the thumbnail's time (BGR), if this call started at the video's
    # first frame: the job's thumbnail is made from it instead of decoding it again
    picture: Any = None


class Pipeline(Protocol):
    """What the worker runs (``chalicelib/analysis/slices.py``): built once per process from the
    settings, so its models load once and are reused across jobs."""

    pipeline_id: str

    def analyze(
        self,
        file_path: VideoPath,
        *,
        sample_fps: float,
        emit: Callable[[Any], None],
        options: JobOptions | None = None,
        state: dict | None = None,
        stop: Callable[[], bool] | None = None,
        timings: dict[str, float] | None = None,
    ) -> SliceOutcome:
        """Hand each analyzed frame (a ``FrameResult``) to ``emit``, in order, from where
        ``state`` left off, until the video ends or ``stop()`` (asked only once this call has
        made progress, so every slice does); ``timings`` gets seconds per
        stage (``decode``, ``detect``, ``ocr``, ...). A ``state`` it cannot take raises
        ``DamagedCheckpoint`` before any frame is emitted."""
        ...

    def fields(self, options: JobOptions | None, outcome: SliceOutcome) -> dict:
        """What the results document says besides its frames: ``pipeline_id``, ``options``,
        ``models``, ``video``, ``sampling``."""
        ...


def check_pipeline_id(pipeline_id: str) -> str:
    if pipeline_id not in PIPELINES:
        known = ", ".join(sorted(PIPELINES))
        raise UnknownPipeline(f"unknown pipeline {quoted(pipeline_id)}: choose one of {known}")
    return pipeline_id


def resolve(pipeline_id: str) -> Callable[[Settings], Pipeline]:
    """The pipeline's class (or factory); imports its module on first use."""
    module_name, _, attribute = PIPELINES[check_pipeline_id(pipeline_id)].partition(":")
    factory: Callable[[Settings], Pipeline] = getattr(
        importlib.import_module(module_name), attribute
    )
    return factory


class Pipelines:
    """One instance of each registered pipeline per process, built on first use."""

    def __init__(self, settings: Settings, model_cache: Any = None):
        """``model_cache``: the worker's ``ModelCache`` of tenants' detectors, shared by every
        pipeline that runs them (``runs_tenant_models``)."""
        self._settings, self._model_cache = settings, model_cache
        self._instances: dict[str, Pipeline] = {}

    def pipeline(self, pipeline_id: str | None) -> Pipeline:
        """``pipeline_id`` None: the deployment's default."""
        chosen = pipeline_id or self._settings.default_pipeline
        if chosen not in self._instances:
            factory: Any = resolve(chosen)
            extra = {}
            if self._model_cache is not None and getattr(factory, "runs_tenant_models", False):
                extra["model_cache"] = self._model_cache
            self._instances[chosen] = factory(self._settings, **extra)
        return self._instances[chosen]


class PipelineSource(Protocol):
    """What the worker needs of ``Pipelines`` (tests hand it stand-ins)."""

    def pipeline(self, pipeline_id: str | None) -> Pipeline: ...
