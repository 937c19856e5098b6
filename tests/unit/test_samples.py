"""The README's sample clips: in the repository, credited, unmodified, and in no package; and the
larger set beside the checkout, which CI must have (a skip there would hide real-video tests)."""

from __future__ import annotations

import hashlib
import re
import tomllib

import pytest

from functions.analyzer.build_context import stage
from tests.support import videos

SOURCES = (videos.SAMPLES / "SOURCES.md").read_text(encoding="utf-8")


def test_the_samples_are_the_credited_unmodified_files():
    listed = dict(re.findall(r"^\| (\S+\.mp4) \|.*\| `([0-9a-f]{64})` \|$", SOURCES, re.M))
    clips = sorted(path.name for path in videos.SAMPLES.glob("*.mp4"))
    assert clips == sorted(listed) == ["dog_and_woman.mp4", "letter_blocks.mp4"]
    for name, digest in listed.items():
        assert hashlib.sha256((videos.SAMPLES / name).read_bytes()).hexdigest() == digest, name
    for needed in ("https://www.apache.org/licenses/LICENSE-2.0", "Apache License, Version 2.0",
                   "https://github.com/facebookresearch/sam2", "gallery/01_dog.mp4",
                   "gallery/03_blocks.mp4", "**unmodified**"):  # fmt: skip
        assert needed in SOURCES, needed


def test_no_package_takes_the_samples(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    (tmp_path / "model-608.onnx").write_bytes(b"onnx")
    context = stage(tmp_path / "image", model, model, model)  # the analyzer image's build context
    staged = [path.relative_to(context).as_posix() for path in context.rglob("*")]
    assert "app.py" in staged and not [p for p in staged if "samples" in p or p.endswith(".mp4")]
    pyproject = tomllib.loads((videos.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    assert setuptools["packages"] == ["video_jobs_cli"]  # the CLI's wheel: code only
    assert "package-data" not in setuptools and not (videos.ROOT / "MANIFEST.in").exists()


@pytest.fixture
def no_shared_videos(monkeypatch, tmp_path):
    monkeypatch.setattr(videos, "SHARED_VIDEOS", tmp_path / "absent")


def test_without_shared_videos_a_test_skips_locally(no_shared_videos, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/videos is missing"):
        videos.shared_video("dog_and_woman.mp4")
    assert videos.shared_video_names() == [videos._ABSENT]  # one test that skips, not none


@pytest.mark.parametrize(
    "call",
    [
        lambda: videos.shared_video("people_indoor.mp4"),
        videos.shared_videos,
        lambda: videos.shared_video(videos.shared_video_names()[0]),
    ],
)
def test_without_shared_videos_a_test_fails_under_ci(no_shared_videos, monkeypatch, call):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"^\.\./shared/videos is missing and CI=true"):
        call()


def test_a_missing_clip_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(videos, "SHARED_VIDEOS", tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"people_indoor.mp4 is missing and CI=true"):
        videos.shared_video("people_indoor.mp4")
