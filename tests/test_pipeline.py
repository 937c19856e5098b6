"""The real yolo_ocr pipeline (real ONNX detector, real OCR) on generated and real videos."""

import pytest

from chalicelib.errors import InvalidVideo, UnknownPipeline
from chalicelib.pipelines import PIPELINES, VideoFilePipelineService, check_pipeline_id, resolve
from chalicelib.results import encode
from tests.conftest import shared_video
from tests.fixtures.make_tiny_mp4 import make_audio_only_mp4, truncate


def test_registry_resolves_lazily():
    assert check_pipeline_id("yolo_ocr") == "yolo_ocr"
    assert resolve("yolo_ocr").pipeline_id == "yolo_ocr"
    assert set(PIPELINES) == {"yolo_ocr"}
    with pytest.raises(UnknownPipeline, match="choose one of yolo_ocr"):
        check_pipeline_id("yolo_v99")


def test_tiny_clip_document(pipeline, tiny_mp4):
    document = pipeline.run(tiny_mp4, sample_fps=2.0)
    assert document["pipeline_id"] == "yolo_ocr"
    assert document["video"] == {
        "duration_ms": 2000, "fps": 10.0, "width": 320, "height": 240, "frame_count": 20,
        "codec": "h264", "rotation": 0,
    }  # fmt: skip
    assert len(document["models"]["detector"]["sha256"]) == 64
    assert [f["timestamp_ms"] for f in document["frames"]] == [0, 500, 1000, 1500]
    words = " ".join(line["text"] for line in document["summary"]["text"]).split()
    assert {"HELLO", "2026"} <= set(words)
    for frame in document["frames"]:
        for line in frame["text"]:
            assert all(0 <= v <= 1 for point in line["polygon"] for v in point)


def test_same_video_gives_identical_bytes(pipeline, tiny_mp4):
    assert encode(pipeline.run(tiny_mp4, sample_fps=5)) == encode(
        pipeline.run(tiny_mp4, sample_fps=5)
    )


def test_skipping_unchanged_frames_keeps_the_text(pipeline, tiny_mp4):
    document = pipeline.run(tiny_mp4, sample_fps=5)
    assert document["sampling"]["ocr_frames"] <= document["sampling"]["frames_sampled"]
    assert all(frame["text"] for frame in document["frames"])


def test_broken_videos_fail_with_plain_words(pipeline, tmp_path, tiny_mp4):
    audio = make_audio_only_mp4(tmp_path / "audio.mp4")
    with pytest.raises(InvalidVideo, match="no video track"):
        pipeline.run(audio, sample_fps=1)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 5000)
    with pytest.raises(InvalidVideo):
        pipeline.run(garbage, sample_fps=1)
    cut = truncate(tiny_mp4, tmp_path / "cut.mp4", keep_fraction=0.05)
    with pytest.raises(InvalidVideo):
        pipeline.run(cut, sample_fps=1)


def test_service_runs_registered_pipelines(model_path, tiny_mp4):
    from chalicelib.config import load_settings

    service = VideoFilePipelineService(load_settings())
    document = service.run_on_file(tiny_mp4, pipeline_id="yolo_ocr")
    assert document["sampling"]["fps"] == 1.0  # the configured default
    assert service.pipeline("yolo_ocr") is service.pipeline("yolo_ocr")


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip, labels",
    [
        ("people_indoor.mp4", {"person"}),
        ("highway_dashcam.mp4", {"car"}),
        ("cars_parking_aerial.mp4", {"car"}),
        ("dog_and_woman.mp4", {"dog", "person"}),
        ("soccer_juggle.mp4", {"person"}),
    ],
)
def test_real_clips_find_what_they_show(pipeline, clip, labels):
    document = pipeline.run(shared_video(clip), sample_fps=1.0)
    assert labels <= set(document["summary"]["objects"])


@pytest.mark.slow
def test_real_boxes_sit_on_the_dog(pipeline):
    document = pipeline.run(shared_video("dog_and_woman.mp4"), sample_fps=1.0)
    dogs = [o for f in document["frames"] for o in f["objects"] if o["label"] == "dog"]
    assert dogs
    for dog in dogs:  # the dog is on the path in the lower half of the frame
        box = dog["box"]
        assert box["y"] + box["h"] > 0.5 and 0 < box["w"] < 0.7


@pytest.mark.slow
def test_real_captions_are_read(pipeline):
    document = pipeline.run(shared_video("captions_vertical.mp4"), sample_fps=1.0)
    words = " ".join(e["text"] for e in document["summary"]["text"]).lower()
    for word in ("how to", "create", "simple", "fast", "cut"):
        assert word in words
