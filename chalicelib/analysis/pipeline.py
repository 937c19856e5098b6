"""The ``yolo_ocr`` pipeline: sample frames, detect objects, read text, build the results.

Built once per process (models load once, warm invocations reuse them). OCR costs about ten
times the detector per frame, so text is re-read only when the frame has visibly changed since
the last frame that was read; an unchanged frame reuses those lines.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from chalicelib.analysis.detector import load_detector
from chalicelib.analysis.frames import VideoReader
from chalicelib.analysis.ocr import load_text_reader
from chalicelib.config import Settings
from chalicelib.results import FrameResult, build_document

OCR_ENGINE = "rapidocr-onnxruntime 1.4.4 (PP-OCRv4 det+rec)"
THUMB_SIZE = (32, 18)  # cells of ~1/32 of the frame: a caption change moves several of them
CHANGE_THRESHOLD = 12.0  # max per-cell mean-abs grey difference (0-255) that counts as "same"


def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


class ChangeGate:
    """Says whether a frame differs enough from the last one that was let through."""

    def __init__(self, threshold: float = CHANGE_THRESHOLD):
        self.threshold = threshold
        self._last: np.ndarray | None = None

    def changed(self, image_bgr: np.ndarray) -> bool:
        thumb = thumbnail(image_bgr)
        same_size = self._last is not None and thumb.shape == self._last.shape
        if same_size and np.abs(thumb - self._last).max() <= self.threshold:
            return False
        self._last = thumb
        return True


class YoloOcrPipeline:
    pipeline_id = "yolo_ocr"

    def __init__(self, settings: Settings, *, skip_unchanged_ocr: bool = True):
        self.detector = load_detector(settings.model_path)
        self.reader = load_text_reader()
        self.skip_unchanged_ocr = skip_unchanged_ocr

    def models(self) -> dict:
        return {
            "detector": {"name": self.detector.model_name, "sha256": self.detector.model_sha256},
            "ocr": {"name": OCR_ENGINE},
        }

    def run(
        self, file_path: str | Path, *, sample_fps: float, timings: dict[str, float] | None = None
    ) -> dict:
        """The results document for one video; per-stage seconds are added to ``timings``."""
        spent = defaultdict(float)
        frames: list[FrameResult] = []
        gate, text, ocr_runs = ChangeGate(), (), 0
        with VideoReader(file_path) as video:
            samples = video.sample(sample_fps)
            while True:
                started = time.perf_counter()
                frame = next(samples, None)
                spent["decode"] += time.perf_counter() - started
                if frame is None:
                    break
                started = time.perf_counter()
                objects = self.detector.detect(frame.image)
                spent["detect"] += time.perf_counter() - started
                started = time.perf_counter()
                if not self.skip_unchanged_ocr or gate.changed(frame.image):
                    text, ocr_runs = self.reader.read(frame.image), ocr_runs + 1
                spent["ocr"] += time.perf_counter() - started
                frames.append(FrameResult(frame.timestamp_ms, frame.index, objects, text))
            metadata, decoded, ended_early = video.metadata, video.frames_decoded, video.ended_early
        started = time.perf_counter()
        document = build_document(
            pipeline_id=self.pipeline_id,
            models=self.models(),
            video={
                "duration_ms": metadata.duration_ms,
                "fps": metadata.fps,
                "width": metadata.width,
                "height": metadata.height,
                "frame_count": metadata.frame_count,
                "codec": metadata.codec,
                "rotation": metadata.rotation,
            },
            sampling={
                "fps": sample_fps,
                "frames_sampled": len(frames),
                "frames_decoded": decoded,
                "ocr_frames": ocr_runs,
                "ended_early": ended_early,
            },
            frames=frames,
        )
        spent["build"] += time.perf_counter() - started
        if timings is not None:
            timings.update(spent)
        return document
