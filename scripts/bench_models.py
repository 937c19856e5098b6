"""make bench, section 9: tenants' own detectors. What validating one costs, and what the
analyzer's model cache saves when jobs of two models alternate.

Validation is what the analyzer runs for ``POST /video/models/{model_id}/start``: the static
checks and one frame through onnxruntime in the limited child process
(``ModelValidator.check_file``), for a tiny model built here and for one the size of the bundled
detector (the bundled file itself, registered as a tenant's). The cache rows load files from
``LocalStorage``; on S3 add the file's download (~0.3 s for 34 MiB inside a region).
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.model_cache import ModelCache
from chalicelib.analysis.model_check import ModelValidator
from chalicelib.config import ModelSettings, load_settings, sized_model_path
from chalicelib.models.catalog import ModelCatalog
from chalicelib.models.record import ModelRecord, new_model_id
from chalicelib.models.store import InMemoryModelStore
from chalicelib.models.wire import check_model_bytes

MIB = 1024 * 1024
HITS = 1000  # cache hits timed together: one is microseconds


def _validator(storage: LocalStorage) -> ModelValidator:
    settings, store = ModelSettings(), InMemoryModelStore()
    catalog = ModelCatalog(models=store, storage=storage, queue=InMemoryQueue(), settings=settings)
    return ModelValidator(models=store, storage=storage, catalog=catalog, settings=settings)


def _timed(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median seconds of ``repeats`` runs, and the last run's answer."""
    seconds, answer = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        answer = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), answer


def _validation_rows(validator: ModelValidator, files: dict[str, Path], repeats: int) -> list:
    rows = []
    for label, path in files.items():
        data = path.read_bytes()
        static_s, _ = _timed(lambda data=data: check_model_bytes(data), repeats)
        model = ModelRecord.new(new_model_id(), name=label)
        total_s, answer = _timed(lambda p=path, m=model: validator.check_file(p, m), repeats)
        assert answer.get("ok"), answer  # a benchmark of a refusal would measure nothing
        rows.append([label, f"{len(data) / MIB:.2f}", answer["input_size"],
                     f"{static_s * 1e3:.1f}", f"{total_s:.2f}"])  # fmt: skip
    return rows


def _snapshot(storage: LocalStorage, path: Path, label: str) -> dict[str, Any]:
    """What a job that runs ``path`` as a tenant's model keeps of it (``ModelRecord.snapshot``)."""
    data = path.read_bytes()
    facts = check_model_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    key = f"tenant_models/bench/{label}.onnx"
    storage.save_file(data, key)
    height = facts.input_shape[2]
    return {
        "model_id": new_model_id(), "name": label, "version": digest[:12], "sha256": digest,
        "class_names": list(facts.class_names() or ()), "input_size": height,
        "layout": None, "path": key, "size_bytes": len(data),
    }  # fmt: skip


def _alternate(cache: ModelCache, models: list[dict], jobs: int, frame: np.ndarray) -> float:
    """Seconds per job of ``jobs`` jobs alternating between ``models``, after one job of each
    (the first loads): get the detector from the cache, then run one frame through it (so a
    reload is weighed against real work)."""
    for model in models:
        cache.detector(model, intra_op_num_threads=1).detect(frame)
    started = time.perf_counter()
    for n in range(jobs):
        cache.detector(models[n % len(models)], intra_op_num_threads=1).detect(frame)
    return (time.perf_counter() - started) / jobs


def models_section(report: Any, repeats: int, quick: bool) -> None:
    from scripts.bench_analyzer import log
    from tests.support import tenant_models as tm

    report.section("9. Tenants' own detectors: validation and the model cache")
    bundled = load_settings().model_path
    other = sized_model_path(bundled, 608)  # a second file of the same size, another hash
    with LocalStorage.temporary() as storage, tempfile.TemporaryDirectory() as workdir:
        tiny = Path(workdir) / "tiny.onnx"
        tiny.write_bytes(tm.serialized(tm.detector("v8")))
        log("models: validation (child process)")
        files = {"tiny (test support, 64 px)": tiny, f"bundled-size ({bundled.name})": bundled}
        report.table(
            ["model", "MiB", "input px", "static checks ms", "validation s (child)"],
            _validation_rows(_validator(storage), files, repeats),
        )
        a, b = _snapshot(storage, bundled, "a"), _snapshot(storage, other, "b")
        log("models: cache load and hit")
        cache = ModelCache(storage, 512 * MIB)
        started = time.perf_counter()
        cache.detector(a, intra_op_num_threads=1)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(HITS):
            cache.detector(a, intra_op_num_threads=1)
        hit_s = (time.perf_counter() - started) / HITS
        jobs = 6 if quick else 12
        frame = np.full((720, 1280, 3), 96, np.uint8)
        log(f"models: {jobs} alternating jobs, with the cache and reloading each time")
        kept = ModelCache(storage, 512 * MIB)  # both fit: each model loads once
        reloading = ModelCache(storage, 1)  # room for one: every switch reloads
        with_cache = _alternate(kept, [a, b], jobs, frame)
        without = _alternate(reloading, [a, b], jobs, frame)
    report.note("")
    report.table(
        ["model cache step", "ms"],
        [
            [f"first load of {bundled.name} into the cache", ms(first_s)],
            ["cache hit (same file, same options)", f"{hit_s * 1e3:.4f}"],
            [f"a job of 1 frame, {jobs} alternating A/B, cache holds both "
             f"({kept.loads} loads in all)", ms(with_cache)],
            [f"same, cache with room for one: reloads each time ({reloading.loads} loads in all)",
             ms(without)],
        ],
    )  # fmt: skip
    report.note(
        f"""
- Validation is one fresh child process (Python's start and onnxruntime's import are in it)
  that runs the static checks (timed here on their own, in process: pure Python over the
  protobuf, tensor bytes skipped) and one frame. The alternating jobs are timed after one job
  of each model, and run one 1280x720 frame each; a real job runs dozens, so what the cache
  saves is the {ms(without - with_cache)} ms a job, not the ratio."""
    )
    report.target("9. model cache hit < 1 ms", f"{hit_s * 1e3:.4f} ms", hit_s < 1e-3)
    report.target(
        "9. alternating two models: cache saves a reload per job",
        f"{ms(with_cache)} vs {ms(without)} ms a job", with_cache < without,
    )  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"
