"""The detector's class names, as the API knows them without loading any model.

The API checks ``labels`` and ``exclude_labels`` at submit time, but it never imports ML code
and, on AWS, never has the model file (that ships in the analyzer's image). So it reads names
from plain text:

- the built-in model (YOLOv3-tiny, COCO): ``COCO_NAMES`` below, the 80 names in the Darknet
  spelling the model's metadata carries (a test compares the two);
- a user's own model (``VIDEO_JOBS_MODEL_PATH``): a JSON list of its class names in a sidecar
  file next to it, ``<model>.names.json``, when the API can read one;
- otherwise the API cannot know them and accepts any names; the analyzer checks them against
  the model's own metadata and fails the job with the list of valid names.
"""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.config import MODEL_FILE, Settings

COCO_NAMES = (
    "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa",
    "pottedplant", "bed", "diningtable", "toilet", "tvmonitor", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
SIDECAR_SUFFIX = ".names.json"


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + SIDECAR_SUFFIX)


def known_class_names(settings: Settings) -> tuple[str, ...] | None:
    """The configured model's class names, or None when the API cannot know them."""
    sidecar = sidecar_path(settings.model_path)
    try:
        names = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        names = None
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return tuple(names)
    if settings.model_path.name == MODEL_FILE:
        return COCO_NAMES
    return None


def unknown_labels(labels: tuple[str, ...], class_names: tuple[str, ...]) -> list[str]:
    known = set(class_names)
    return [label for label in labels if label not in known]
