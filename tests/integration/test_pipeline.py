"""The real yolo_ocr pipeline (real ONNX detector, real OCR) on generated and real videos."""

import pytest

from chalicelib.analysis.registry import (
    PIPELINES,
    Pipelines,
    check_pipeline_id,
    resolve,
)
from chalicelib.errors import InvalidVideo, UnknownPipeline
from chalicelib.results.document import encode
from tests.fixtures.make_tiny_mp4 import make_audio_only_mp4, truncate
from tests.support.videos import shared_video


def test_registry_resolves_lazily():
    assert check_pipeline_id("yolo_ocr") == "yolo_ocr"
    assert resolve("yolo_ocr").pipeline_id == "yolo_ocr"
    assert resolve("yolo_ocr_fast").pipeline_id == "yolo_ocr_fast"
    assert resolve("shots").pipeline_id == "shots"
    assert set(PIPELINES) == {"yolo_ocr", "yolo_ocr_fast", "yolo", "ocr", "shots"}
    with pytest.raises(UnknownPipeline, match="one of ocr, shots, yolo, yolo_ocr, yolo_ocr_fast"):
        check_pipeline_id("yolo_v99")


@pytest.fixture(scope="module")
def fast_pipeline(model_path):
    from chalicelib.analysis.pipeline import YoloOcrFastPipeline
    from chalicelib.config import load_settings

    return YoloOcrFastPipeline(load_settings())


def test_fast_pipeline_reads_frames_with_large_text_exactly_as_yolo_ocr(
    pipeline, fast_pipeline, tiny_mp4
):
    fast, full = fast_pipeline.run(tiny_mp4, sample_fps=5), pipeline.run(tiny_mp4, sample_fps=5)
    assert fast["pipeline_id"] == "yolo_ocr_fast"
    assert fast["sampling"]["ocr_frames"] == full["sampling"]["ocr_frames"] > 0
    assert fast["frames"] == full["frames"]
    assert fast["summary"] == full["summary"]
    assert fast_pipeline.reader is pipeline.reader  # one set of OCR sessions per process


def test_fast_pipeline_does_not_read_frames_without_text(pipeline, fast_pipeline, tmp_path):
    from tests.fixtures.make_tiny_mp4 import make_mp4

    clip = make_mp4(tmp_path / "no-text.mp4", text="")
    fast, full = fast_pipeline.run(clip, sample_fps=5), pipeline.run(clip, sample_fps=5)
    assert full["sampling"]["ocr_frames"] > 0
    assert fast["sampling"]["ocr_frames"] == 0
    assert fast["summary"]["text"] == full["summary"]["text"] == []
    assert fast["summary"]["objects"] == full["summary"]["objects"]


def test_tiny_clip_document(pipeline, tiny_mp4):
    document = pipeline.run(tiny_mp4, sample_fps=2.0)
    assert document["pipeline_id"] == "yolo_ocr"
    assert document["video"] == {
        "duration_ms": 2000, "fps": 10.0, "width": 320, "height": 240, "frame_count": 20,
        "codec": "h264", "rotation": 0, "ignored_video_tracks": 0,
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

    service = Pipelines(load_settings())
    document = service.pipeline("yolo_ocr").run(tiny_mp4, sample_fps=1.0)
    assert document["pipeline_id"] == "yolo_ocr" and document["sampling"]["fps"] == 1.0
    assert service.pipeline("yolo_ocr") is service.pipeline(None)  # the configured default


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


@pytest.mark.slow
def test_fast_pipeline_reads_the_real_captions_and_skips_textless_frames(pipeline, fast_pipeline):
    clip = shared_video("captions_vertical.mp4")
    fast, full = fast_pipeline.run(clip, sample_fps=1.0), pipeline.run(clip, sample_fps=1.0)
    assert fast["summary"]["text"] == full["summary"]["text"]
    assert fast["sampling"]["ocr_frames"] < full["sampling"]["ocr_frames"]


def test_results_do_not_depend_on_the_number_of_workers(pipeline, tiny_mp4):
    from chalicelib.analysis.pipeline import YoloOcrPipeline
    from chalicelib.config import load_settings

    one = YoloOcrPipeline(load_settings(), workers=1)
    three = YoloOcrPipeline(load_settings(), workers=3)
    assert one.detector is three.detector and one.reader is three.reader  # shared models
    expected = encode(pipeline.run(tiny_mp4, sample_fps=5))
    assert encode(one.run(tiny_mp4, sample_fps=5)) == expected
    assert encode(three.run(tiny_mp4, sample_fps=5)) == expected


def test_the_threads_setting_sizes_every_pipeline(monkeypatch, model_path):
    """make run WORKERS=N gives each worker CPUs / N threads through this setting."""
    from chalicelib.analysis.pipeline import YoloOcrPipeline
    from chalicelib.analysis.shots import ShotsPipeline
    from chalicelib.config import load_settings

    monkeypatch.setenv("VIDEO_JOBS_ANALYZER_THREADS", "3")
    assert YoloOcrPipeline(load_settings()).workers == 3
    assert ShotsPipeline(load_settings()).threads == 3
    assert YoloOcrPipeline(load_settings(), workers=1).workers == 1  # an explicit count wins


def test_naive_mode_reads_every_frame_and_finds_the_same(pipeline, tiny_mp4):
    from chalicelib.analysis.pipeline import YoloOcrPipeline
    from chalicelib.config import load_settings

    naive = YoloOcrPipeline(load_settings(), skip_unchanged_ocr=False).run(tiny_mp4, sample_fps=5)
    optimized = pipeline.run(tiny_mp4, sample_fps=5)
    assert naive["sampling"]["ocr_frames"] == naive["sampling"]["frames_sampled"]
    assert naive["summary"]["objects"] == optimized["summary"]["objects"]
    assert {e["text"] for e in naive["summary"]["text"]} == {
        e["text"] for e in optimized["summary"]["text"]
    }


def test_timings_cover_every_stage(pipeline, tiny_mp4):
    timings: dict[str, float] = {}
    pipeline.run(tiny_mp4, sample_fps=2, timings=timings)
    assert {"decode", "gate", "detect", "ocr", "build", "wall"} <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())
    assert timings["wall"] >= timings["decode"]


def test_a_failing_model_call_fails_the_run_and_stops_the_workers(pipeline, tiny_mp4):
    import threading

    from chalicelib.analysis.pipeline import YoloOcrPipeline
    from chalicelib.config import load_settings

    class Broken:
        def detect(self, image):
            raise RuntimeError("detector broke")

    broken = YoloOcrPipeline(load_settings())
    broken.detector = Broken()
    before = {t for t in threading.enumerate() if t.name.startswith("analyze")}
    with pytest.raises(RuntimeError, match="detector broke"):
        broken.run(tiny_mp4, sample_fps=5)
    after = {t for t in threading.enumerate() if t.name.startswith("analyze")}
    assert after <= before  # the pool was shut down, no worker thread left behind


def test_frames_in_flight_are_bounded(pipeline, tiny_mp4):
    """A slow model must not let decoding race ahead: memory stays flat on long videos."""
    import time
    import weakref

    from chalicelib.analysis.pipeline import YoloOcrPipeline
    from chalicelib.config import load_settings

    alive: list[weakref.ref] = []
    most = 0

    class SlowDetector:
        model_name, model_sha256 = "slow", "0" * 64

        def detect(self, image):
            nonlocal most
            alive.append(weakref.ref(image))
            most = max(most, sum(ref() is not None for ref in alive))
            time.sleep(0.02)
            return []

    slow = YoloOcrPipeline(load_settings(), workers=2)
    slow.detector = SlowDetector()
    document = slow.run(tiny_mp4, sample_fps=10)
    assert document["sampling"]["frames_sampled"] == len(alive) == 20
    assert most <= 2 * slow.workers + 2


def _still_scene(seed: int = 3):
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:720, 0:1280]
    scene = np.stack([xx / 1280 * 200 + 30, yy / 720 * 150 + 50, (xx + yy) / 2000 * 100 + 80], -1)
    scene = scene + rng.normal(0, 12, scene.shape)
    return cv2.GaussianBlur(scene.clip(0, 255).astype(np.uint8), (0, 0), 2), rng


def _with_subtitle(image, text: str):
    import cv2

    out = image.copy()
    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2)  # 18 px high
    origin = ((out.shape[1] - width) // 2, out.shape[0] - 40)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 5, cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def test_change_gate_sees_small_subtitles_but_not_compression_noise():
    """18 px subtitles (white, black outline) on a still 1280x720 scene: the gate must re-read
    when one appears, changes or goes, and must not for encoder noise. (The former 32x18
    thumbnail saw none of it: a subtitle moved its cells by 3-14 grey levels.)"""
    import numpy as np

    from chalicelib.analysis.text_carry import ChangeGate

    scene, rng = _still_scene()

    def noisy(image):
        return (image + rng.normal(0, 3, image.shape)).clip(0, 255).astype(np.uint8)

    first = _with_subtitle(scene, "the quick brown fox jumps")
    second = _with_subtitle(scene, "over the lazy dog again")
    gate = ChangeGate()
    assert gate.changed(scene)
    assert not gate.changed(noisy(scene))
    assert gate.changed(noisy(first))  # a subtitle appears
    assert not gate.changed(noisy(first))
    assert gate.changed(noisy(second))  # the next line replaces it
    assert not gate.changed(noisy(second))
    assert gate.changed(noisy(scene))  # and it goes away


def test_a_users_own_ultralytics_model_is_chosen_by_configuration(
    tmp_path, monkeypatch, tiny_mp4, ocr_model_paths
):
    """VIDEO_JOBS_MODEL_PATH points the pipeline at a YOLOv8-layout export; its class names come
    from the export's own metadata (a tiny hand-built graph stands in for a real export)."""
    from chalicelib.analysis.pipeline import YoloOcrPipeline
    from chalicelib.config import load_settings
    from tests.support.models import v8_rows, write_model

    model = write_model(tmp_path / "custom-yolov8.onnx", v8_rows())
    monkeypatch.setenv("VIDEO_JOBS_MODEL_PATH", str(model))
    document = YoloOcrPipeline(load_settings()).run(tiny_mp4, sample_fps=1)
    assert document["models"]["detector"]["name"] == "custom-yolov8"
    # the "dog" (0.45) on the car's own box is the car read twice: tracking keeps the car
    assert set(document["summary"]["objects"]) == {"car", "person"}


def test_detector_size_608_runs_a_real_clip_end_to_end(model_path):
    """Five frames of a real clip through the objects-only pipeline at 608: the 608 model runs,
    the results name it and the option, and two runs are the same bytes."""
    from chalicelib.analysis.pipeline import YoloPipeline
    from chalicelib.config import load_settings, sized_model_path
    from chalicelib.jobs.options import JobOptions
    from layers.model.build_yolov3_tiny import sha256_of

    pipeline, clip = YoloPipeline(load_settings()), shared_video("dog_and_woman.mp4")
    large = JobOptions("yolo", detector_size=608)
    document = pipeline.run(clip, sample_fps=0.5, options=large)
    assert document["sampling"]["frames_sampled"] == 5
    assert document["options"]["detector_size"] == 608
    assert document["models"]["detector"] == {
        "name": "yolov3-tiny-coco-608",
        "sha256": sha256_of(sized_model_path(model_path, 608)),
    }
    assert {"dog", "person"} <= set(document["summary"]["objects"])
    assert encode(pipeline.run(clip, sample_fps=0.5, options=large)) == encode(document)
    default = pipeline.run(clip, sample_fps=0.5)
    assert "detector_size" not in default["options"]
    assert default["models"]["detector"]["sha256"] == sha256_of(model_path)
