"""Stage the analyzer image's Docker build context under build/ and print the build command.

    python -m functions.analyzer.build_context [--out build/analyzer-image]

The repository root is a poor context (.venv/, caches, test clips), and the model lives outside
it (~/.cache/video-jobs/models/, built by ``make model``). Staging copies exactly what the
Dockerfile's COPY lines name, so the image holds nothing else and needs no .dockerignore.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from chalicelib.config import (
    DEFAULT_DETECTOR_SIZE,
    DETECTOR_SIZES,
    TEXT_DETECTOR_FILE,
    TEXT_RECOGNIZER_FILE,
    load_settings,
    sized_model_path,
)

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = Path(__file__).with_name("Dockerfile")
DEFAULT_OUT = ROOT / "build" / "analyzer-image"
MODEL_IN_CONTEXT = Path("model/yolov3-tiny-coco.onnx")
# context path -> repository path; the Dockerfile installs requirements/*.txt.
REQUIREMENTS = {
    "requirements/api.txt": "requirements.txt",
    "requirements/analyzer.txt": "layers/analyzer/requirements.txt",
    "requirements/analyzer-nodeps.txt": "layers/analyzer/requirements-nodeps.txt",
    "requirements/image.txt": "functions/analyzer/requirements.txt",
}


def stage(out_dir: Path, model: Path, text_detector: Path, text_recognizer: Path) -> Path:
    """Write a fresh context into ``out_dir`` (the Dockerfile, code, requirements, the model
    and its variant for each other ``detector_size``, named as the analyzer looks for them, and
    the fused OCR models)."""
    sizes = [size for size in DETECTOR_SIZES if size != DEFAULT_DETECTOR_SIZE]
    models = {
        MODEL_IN_CONTEXT: model,
        MODEL_IN_CONTEXT.with_name(TEXT_DETECTOR_FILE): text_detector,
        MODEL_IN_CONTEXT.with_name(TEXT_RECOGNIZER_FILE): text_recognizer,
    }
    models |= {sized_model_path(MODEL_IN_CONTEXT, s): sized_model_path(model, s) for s in sizes}
    for wanted in models.values():
        if not wanted.is_file():
            raise FileNotFoundError(f"no model at {wanted}; build it with `make model`")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    shutil.copy2(DOCKERFILE, out_dir / "Dockerfile")
    for target, source in REQUIREMENTS.items():
        (out_dir / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / source, out_dir / target)
    shutil.copy2(ROOT / "app.py", out_dir / "app.py")
    shutil.copytree(
        ROOT / "chalicelib",
        out_dir / "chalicelib",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (out_dir / MODEL_IN_CONTEXT).parent.mkdir()
    for in_context, built in models.items():
        shutil.copy2(built, out_dir / in_context)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    settings = load_settings()
    parser.add_argument("--model", type=Path, default=settings.model_path)
    parser.add_argument("--text-detector", type=Path, default=settings.text_detector_path)
    parser.add_argument("--text-recognizer", type=Path, default=settings.text_recognizer_path)
    args = parser.parse_args()
    context = stage(args.out.resolve(), args.model, args.text_detector, args.text_recognizer)
    print(f"staged {context}; build with:")
    print(
        f"  docker build --platform linux/amd64 --provenance=false -t video-jobs-analyzer {context}"
    )


if __name__ == "__main__":
    main()
