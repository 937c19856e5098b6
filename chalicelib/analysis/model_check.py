"""``ModelValidator``: the analyzer's step that takes a model from ``validating`` to ``ready``
or ``failed``, run from a validation message on the job queue (``JobWorker.handle_message``).

A model is untrusted input. Its file is downloaded (the version start checked, within the size
limit) and hashed here; every check that reads the file runs in a child process
(``model_probe``) with no credentials, killed after ``check_s`` of wall clock and refused more
than ``check_memory_bytes`` of address space, so a hostile graph can neither hang nor exhaust
the worker. Only the answer decides: ready, with the class names, input size and layout found;
or failed, with a reason that says what to fix (and the file deleted).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.config import ModelSettings
from chalicelib.errors import ObjectChanged, ObjectTooLarge
from chalicelib.metrics import Metrics
from chalicelib.models.catalog import ModelCatalog
from chalicelib.models.record import INTERNAL_ERROR, READY, VALIDATING, ModelRecord
from chalicelib.models.store import ModelStore

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]  # where `python -m chalicelib...` finds the package
MAX_ANSWER_BYTES = 256 * 1024
CPU_MARGIN_S = 5  # the child's CPU-seconds limit: its wall clock, plus this
VALIDATION_CRASHED = (
    "validation failed with an internal error on every attempt (the details are in the "
    "analyzer's log): register the model again; if that fails the same way, report this "
    "model's id"
)


class ModelValidator:
    def __init__(
        self,
        *,
        models: ModelStore,
        storage: StorageService,
        catalog: ModelCatalog,
        settings: ModelSettings,
        metrics: Metrics | None = None,
    ):
        self.models, self.storage, self.catalog = models, storage, catalog
        self.settings, self.metrics = settings, metrics or Metrics()

    def handle(self, model_id: str, *, final: bool = False) -> bool:
        """Validate the model if it is still waiting for it; True if this call decided it.
        An unexpected error propagates (the queue delivers the message again); on the
        ``final`` delivery it first fails the model, which would otherwise wait for ever."""
        model = self.models.find(model_id)
        if model is None or model.status != VALIDATING:
            log.info("model %s is %s: nothing to validate", model_id,
                     "gone" if model is None else model.status)  # fmt: skip
            return False
        try:
            return self._validate(model)
        except Exception:
            log.exception("validating model %s failed with an internal error", model_id)
            if final:
                self.catalog.fail(model, VALIDATION_CRASHED, from_statuses=(VALIDATING,),
                                  code=INTERNAL_ERROR)  # fmt: skip
            raise

    def _validate(self, model: ModelRecord) -> bool:
        model_id = model.model_id
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="video-jobs-model-") as workdir:
            path = Path(workdir) / "model.onnx"
            answer = self._fetch(model, path) or self.check_file(path, model)
        seconds = time.perf_counter() - started
        self.metrics.put("ModelValidationSeconds", round(seconds, 3), None, tenant=model.tenant)
        if not answer.get("ok"):
            return self.catalog.fail(model, str(answer["reason"]), from_statuses=(VALIDATING,))
        found = {key: answer[key] for key in ("class_names", "input_size", "layout", "sha256")}
        found["class_names"] = tuple(found["class_names"])
        found["details"] = {**answer["details"], "seconds": round(seconds, 3)}
        moved = self.models.move(model, (VALIDATING,), status=READY, **found)
        log.info("model %s is ready (%.2f s to validate)", model_id, seconds)
        return moved

    def _fetch(self, model: ModelRecord, path: Path) -> dict[str, Any] | None:
        """Download exactly the version start checked; a failed answer if it is gone."""
        try:
            self.storage.download_file(
                model.path, path, etag=model.etag, max_bytes=self.settings.max_bytes
            )
        except (FileNotFoundError, ObjectChanged):
            return _refused(
                "the uploaded file was replaced or removed after start: register the model again"
            )
        except ObjectTooLarge:
            return _refused(f"the file is over the {self.settings.max_bytes}-byte limit")
        return None

    def check_file(self, path: Path, model: ModelRecord) -> dict[str, Any]:
        """Run the checks on a local file in the limited child; its answer, with the SHA-256."""
        request = {
            "path": str(path), "class_names": model.class_names and list(model.class_names),
            "input_size": model.input_size, "layout": model.layout,
        }  # fmt: skip
        answer = self._child(request)
        if answer.get("ok"):
            answer["sha256"] = _sha256(path)
        return answer

    def _child(self, request: dict[str, Any]) -> dict[str, Any]:
        limit_s, memory = self.settings.check_s, self.settings.check_memory_bytes
        try:
            done = subprocess.run(  # noqa: S603  our own module, a fixed argument list
                [sys.executable, "-m", "chalicelib.analysis.model_probe"],
                input=json.dumps(request), capture_output=True, text=True, timeout=limit_s,
                cwd=ROOT, env=_child_env(), preexec_fn=_limits(memory, limit_s),  # noqa: PLW1509
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return _refused(
                f"checking the model took longer than {limit_s:g} s (one frame through it): "
                "export a smaller model"
            )
        try:
            answer = json.loads(done.stdout[:MAX_ANSWER_BYTES] or "null")
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("reason") == "memory":
            answer = None
        if not isinstance(answer, dict) or "ok" not in answer:
            log.warning("model check ended with code %s: %s", done.returncode, done.stderr[-2000:])
            return _refused(
                f"checking the model needed more than {memory // (1024 * 1024)} MiB of memory "
                "or crashed onnxruntime: export a smaller model with standard operators"
            )
        return answer


def _refused(reason: str) -> dict[str, Any]:
    return {"ok": False, "reason": reason}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _child_env() -> dict[str, str]:
    """Nothing of the worker's environment but where Python and the code are: no credentials."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1", "HOME": tempfile.gettempdir()}  # fmt: skip


def _limits(memory_bytes: int, wall_s: float) -> Any:
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        cpu = int(wall_s) + CPU_MARGIN_S
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply
