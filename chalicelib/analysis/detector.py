"""Object detection on single frames with a YOLO ONNX model on onnxruntime (CPU).

The analyzer runs on a 2-core Lambda, so the expensive pieces are done once: the ONNX file is
read and hashed once, and the InferenceSession is built once per process (``load_detector``)
and reused across jobs. ``detect`` is split into ``preprocess`` / ``infer`` / ``postprocess``
so a benchmark can time the bare model call apart from the numpy work around it.

Two output layouts are understood, told apart by shape and class count:
YOLOv5 (and our converted YOLOv3-tiny) ``[1, N, 5 + C]`` with objectness, and
YOLOv8/v11 ``[1, 4 + C, N]`` without.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from chalicelib.errors import AnalysisError

_DEFAULT_INPUT_SIZE = 640
_PAD_VALUE = 114
_CONTAINED = 0.9  # share of a box's area inside a better same-class box that makes it a duplicate
_MAX_NMS_CANDIDATES = 30_000  # bounds NMS time on a pathological frame (Ultralytics' figure)


@dataclass(frozen=True)
class Detection:
    """One object; ``box`` is (x, y, w, h) relative to the frame (0..1), so results do not
    depend on the resolution the video happened to be encoded at."""

    label: str
    class_id: int
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class LetterboxTransform:
    """How a frame was fitted into the model input, so boxes can be mapped back.

    Scales are kept per axis: the resized side is rounded to whole pixels, and one shared
    scale would misplace boxes on odd frame sizes by up to half an input pixel.
    """

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    width: int
    height: int

    def to_original(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map [N, 4] input-pixel xyxy boxes to original-frame pixels, clipped to the frame."""
        out = np.empty_like(boxes_xyxy, dtype=np.float32)
        out[:, 0::2] = (boxes_xyxy[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes_xyxy[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0, self.width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.height, out=out[:, 1::2])
        return out


def letterbox(
    image_bgr: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, LetterboxTransform]:
    """Fit a BGR frame into ``size`` = (height, width) keeping its aspect ratio, centred on
    grey (114), as the YOLO models were trained. Returns an RGB float32 [1, 3, H, W] tensor in
    0..1; ``blobFromImage`` does the channel swap, scaling and transpose in one native pass."""
    in_h, in_w = size
    height, width = image_bgr.shape[:2]
    scale = min(in_w / width, in_h / height)
    new_w = max(1, min(in_w, round(width * scale)))
    new_h = max(1, min(in_h, round(height * scale)))
    resized = image_bgr
    if (new_w, new_h) != (width, height):
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    left, top = (in_w - new_w) // 2, (in_h - new_h) // 2
    canvas = cv2.copyMakeBorder(
        resized,
        top,
        in_h - new_h - top,
        left,
        in_w - new_w - left,
        cv2.BORDER_CONSTANT,
        value=(_PAD_VALUE, _PAD_VALUE, _PAD_VALUE),
    )
    tensor = cv2.dnn.blobFromImage(canvas, scalefactor=1 / 255, swapRB=True)
    transform = LetterboxTransform(new_w / width, new_h / height, left, top, width, height)
    return tensor, transform


def choose_layout(shape: Sequence[object], num_classes: int) -> str:
    """Return "v5" or "v8" for a raw output shape; refuse anything ambiguous rather than guess,
    because a wrong guess silently yields garbage boxes. Non-integer dims count as unknown."""
    dims = [d if isinstance(d, int) else None for d in shape]
    if len(dims) != 3:
        raise AnalysisError(
            f"YOLO output has shape {list(shape)}; expected 3 dims [1, N, 5+C] or [1, 4+C, N]."
        )
    is_v5 = dims[2] == 5 + num_classes
    is_v8 = dims[1] == 4 + num_classes
    if is_v5 == is_v8:
        why = "matches both" if is_v5 else "matches neither"
        raise AnalysisError(
            f"YOLO output shape {list(shape)} {why} of [1, N, {5 + num_classes}] (YOLOv5) and "
            f"[1, {4 + num_classes}, N] (YOLOv8/v11) for {num_classes} class names; check that "
            "the class names belong to this model."
        )
    return "v5" if is_v5 else "v8"


def decode(
    output: np.ndarray, layout: str, conf_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn a raw [1, ...] output into (xyxy boxes in input pixels, scores, class ids), keeping
    only each box's best class above ``conf_threshold``."""
    if layout == "v5":
        rows = output[0]
        rows = rows[rows[:, 4] > conf_threshold]  # cheap objectness prefilter
        class_scores = rows[:, 5:] * rows[:, 4:5]
    else:
        rows = output[0].T
        class_scores = rows[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores > conf_threshold
    cx, cy, w, h = rows[keep, :4].T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes.astype(np.float32), scores[keep].astype(np.float32), class_ids[keep]


def non_max_suppression(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    iou_threshold: float,
    contained_threshold: float = _CONTAINED,
) -> np.ndarray:
    """Class-aware greedy NMS; returns kept indices ordered by (confidence desc, class id,
    box) so equal inputs always give equal, reproducible results.

    Besides overlap (IoU), a box lying almost wholly inside a better box of the same class is
    dropped: small YOLO models often report one object twice, whole and as a part (a person
    and their torso), with an IoU too low for plain NMS to catch."""
    order = np.lexsort((boxes[:, 3], boxes[:, 2], boxes[:, 1], boxes[:, 0], class_ids, -scores))
    order = order[:_MAX_NMS_CANDIDATES]
    # Offsetting each class into its own region makes one pass class-aware (float64: offsets
    # reach ~1e5 px, where float32 would blur overlaps).
    offsets = class_ids.astype(np.float64) * (float(boxes.max(initial=0)) + 1)
    shifted = boxes.astype(np.float64) + offsets[:, None]
    areas = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    kept: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        top_left = np.maximum(shifted[best, :2], shifted[rest, :2])
        bottom_right = np.minimum(shifted[best, 2:], shifted[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        inside = inter / (areas[rest] + 1e-9)
        order = rest[(iou <= iou_threshold) & (inside < contained_threshold)]
    return np.asarray(kept, dtype=np.int64)


def _parse_literal(raw: str | None, key: str) -> object:
    if raw is None:
        return None
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise AnalysisError(
            f"ONNX metadata '{key}' is not a Python literal: {raw[:80]!r}"
        ) from None


def _resolve_class_names(given: Sequence[str] | None, metadata: dict[str, str]) -> tuple[str, ...]:
    if given is not None:
        return tuple(given)
    names = _parse_literal(metadata.get("names"), "names")
    if isinstance(names, dict) and set(names) == set(range(len(names))):
        return tuple(str(names[i]) for i in range(len(names)))
    if isinstance(names, list | tuple):
        return tuple(str(n) for n in names)
    raise AnalysisError(
        "The detector model has no usable class names (a list, or a dict keyed 0..C-1): "
        "pass class_names=[...] to the detector, or add ONNX metadata 'names' like "
        "\"{0: 'person', 1: 'bicycle'}\" (Ultralytics exports do)."
    )


def _resolve_input_size(
    shape: Sequence[object], metadata: dict[str, str], wanted: int | None, path: Path
) -> tuple[int, int]:
    """The model's own fixed H/W, which must be ``wanted`` if one is asked for. Ultralytics
    exports may have dynamic H/W: then ``wanted``, else 'imgsz' metadata, else 640."""
    if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
        if wanted is not None and (shape[2], shape[3]) != (wanted, wanted):
            raise AnalysisError(
                f"Detector model {path} takes {shape[3]}x{shape[2]} input, not {wanted}x{wanted}; "
                f"`make model` builds the model at each size (layers/model/MODEL_CARD.md)."
            )
        return shape[2], shape[3]
    if wanted is not None:
        return wanted, wanted
    imgsz = _parse_literal(metadata.get("imgsz"), "imgsz")
    if isinstance(imgsz, int):
        return imgsz, imgsz
    if isinstance(imgsz, list | tuple) and len(imgsz) == 2:
        return int(imgsz[0]), int(imgsz[1])
    return _DEFAULT_INPUT_SIZE, _DEFAULT_INPUT_SIZE


def session_options(intra_op_num_threads: int | None) -> ort.SessionOptions:
    """One frame at a time on a small CPU: full graph optimisation, sequential execution (no
    inter-op pool to contend with the intra-op one), ORT's default intra-op threads unless told
    (the pipeline asks for 1 and runs frames in parallel instead). Idle intra-op threads do not
    spin: between two runs of this model the OCR models run, and a spinning thread would take
    a core from them. The OCR's text-detector session uses the same options."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if intra_op_num_threads is not None:
        options.intra_op_num_threads = intra_op_num_threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only; warnings about unused initializers are noise
    return options


class YoloDetector:
    """A YOLO ONNX model ready to run on BGR frames; build it through ``load_detector``."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        class_names: Sequence[str] | None = None,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        max_detections: int = 100,
        intra_op_num_threads: int | None = None,
        input_size: int | None = None,
        layout: str | None = None,
    ):
        """``input_size``: the square input the model must take (a model with dynamic H/W is
        run at it); None takes the model's own. ``layout``: "v5" or "v8" as validated (a
        tenant's model); None tells it from the output's shape."""
        path = Path(model_path)
        if not path.is_file():
            raise AnalysisError(
                f"Detector model {path} not found; build it with `make model` (see "
                "layers/model/MODEL_CARD.md) or point VIDEO_JOBS_MODEL_PATH at a YOLO ONNX file."
            )
        model_bytes = path.read_bytes()  # read once: the hash then names exactly what runs
        self._sha256 = hashlib.sha256(model_bytes).hexdigest()
        self._session = ort.InferenceSession(
            model_bytes, session_options(intra_op_num_threads), providers=["CPUExecutionProvider"]
        )
        metadata = self._session.get_modelmeta().custom_metadata_map
        self._name = metadata.get("model_name") or path.stem
        model_input, model_output = self._session.get_inputs()[0], self._session.get_outputs()[0]
        self._input_name, self._output_name = model_input.name, model_output.name
        self._input_size = _resolve_input_size(model_input.shape, metadata, input_size, path)
        self.class_names = _resolve_class_names(class_names, metadata)
        self.layout = layout
        if layout is None and all(isinstance(d, int) for d in model_output.shape):
            choose_layout(model_output.shape, len(self.class_names))  # fail at load, not per frame
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def model_sha256(self) -> str:
        return self._sha256

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return self._input_size

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        tensor, transform = self.preprocess(image_bgr)
        return self.postprocess(self.infer(tensor), transform)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, LetterboxTransform]:
        return letterbox(image_bgr, self._input_size)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The bare model call, nothing else, so benchmarks can time it alone."""
        return self._session.run([self._output_name], {self._input_name: tensor})[0]

    def postprocess(self, output: np.ndarray, transform: LetterboxTransform) -> list[Detection]:
        layout = self.layout or choose_layout(output.shape, len(self.class_names))
        boxes, scores, class_ids = decode(output, layout, self.conf_threshold)
        boxes = transform.to_original(boxes)
        # Boxes lying wholly in the padding collapse to nothing once clipped.
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
        kept = non_max_suppression(boxes, scores, class_ids, self.iou_threshold)
        kept = kept[: self.max_detections]
        size = np.array([transform.width, transform.height] * 2, dtype=np.float32)
        return [
            Detection(
                label=self.class_names[int(class_ids[i])],
                class_id=int(class_ids[i]),
                confidence=float(scores[i]),
                box=_xyxy_to_relative_xywh(boxes[i] / size),
            )
            for i in kept
        ]


def _xyxy_to_relative_xywh(box: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1, y1, x2 - x1, y2 - y1)


# One detector per model and options, per process (keyword arguments are part of the key).
_cached_detector = functools.lru_cache(maxsize=4)(YoloDetector)


def load_detector(
    model_path: str | Path, *, class_names: Sequence[str] | None = None, **options: float | None
) -> YoloDetector:
    """The process-wide detector for this model and these options (``YoloDetector``'s keyword
    arguments): a warm Lambda reuses the session instead of paying the model load (hundreds of
    ms) on every job."""
    names = None if class_names is None else tuple(class_names)  # hashable, for the cache
    return _cached_detector(str(Path(model_path).resolve()), class_names=names, **options)
