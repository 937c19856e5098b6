"""``ModelCache``: the tenants' detectors a worker keeps loaded, keyed by content.

A model's file never changes once validated, so its SHA-256 names exactly what runs: two jobs
of the same model share one onnxruntime session, and alternating jobs of two models reload
neither while both fit. The cache is bounded by the bytes of the model files it holds
(``VIDEO_JOBS_MODEL_CACHE_BYTES``; a session takes about its file's size in memory) and drops
the least recently used first; the model a job is using is never the one dropped. ``make
bench`` (section "models") measures a load against a hit.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.analysis.detector import YoloDetector
from chalicelib.errors import ModelUnavailable, ObjectTooLarge

log = logging.getLogger(__name__)


class ModelCache:
    def __init__(self, storage: StorageService, budget_bytes: int, max_bytes: int | None = None):
        self.storage, self.budget_bytes, self.max_bytes = storage, budget_bytes, max_bytes
        self._loaded: OrderedDict[tuple, tuple[YoloDetector, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.loads = 0
        self.load_seconds = 0.0

    @property
    def held_bytes(self) -> int:
        return sum(size for _, size in self._loaded.values())

    def detector(self, model: dict[str, Any], **options: Any) -> YoloDetector:
        """The detector for a job's model snapshot (``ModelRecord.snapshot``) with these
        ``YoloDetector`` options, loaded on first use."""
        key = (model["sha256"], tuple(sorted(options.items())))
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                self.hits += 1
                return self._loaded[key][0]
            started = time.perf_counter()
            detector, size = self._load(model, options)
            self.loads += 1
            self.load_seconds += time.perf_counter() - started
            self._loaded[key] = (detector, size)
            while self.held_bytes > self.budget_bytes and len(self._loaded) > 1:
                dropped, _ = self._loaded.popitem(last=False)
                log.info("model cache: dropped %s to stay under %d bytes", dropped[0][:12],
                         self.budget_bytes)  # fmt: skip
            return detector

    def _load(self, model: dict[str, Any], options: dict[str, Any]) -> tuple[YoloDetector, int]:
        with tempfile.TemporaryDirectory(prefix="video-jobs-model-") as workdir:
            path = Path(workdir) / f"{model['sha256']}.onnx"
            try:
                self.storage.download_file(model["path"], path, max_bytes=self.max_bytes)
            except (FileNotFoundError, ObjectTooLarge):
                raise _gone(model) from None
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != model["sha256"]:
                raise _gone(model)
            detector = YoloDetector(
                path, class_names=model["class_names"], input_size=model["input_size"],
                layout=model.get("layout"), **options,
            )  # fmt: skip
        return detector, len(data)


def _gone(model: dict[str, Any]) -> ModelUnavailable:
    return ModelUnavailable(
        f"model {model['model_id']} ({model['name']}) was deleted after this job was "
        "submitted: register the model again and submit the job with its new id"
    )
