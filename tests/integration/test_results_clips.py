"""Schema 2 on real clips: the default text filter, tracks, segments, options, and the
objects-only and text-only pipelines (real models, real videos: slow)."""

import pytest

from chalicelib.config import load_settings
from chalicelib.jobs.options import JobOptions
from chalicelib.results.document import SCHEMA_VERSION, encode
from chalicelib.results.text_lines import script_of
from tests.support.videos import read_frame, shared_video

pytestmark = pytest.mark.slow


def lines(document) -> set[str]:
    return {line["text"] for frame in document["frames"] for line in frame["text"]}


@pytest.fixture(scope="module")
def letter_blocks(pipeline):
    return pipeline.run(shared_video("letter_blocks.mp4"), sample_fps=1.0)


def test_defaults_keep_the_words_on_letter_blocks_and_drop_the_chinese_misreads(letter_blocks):
    assert letter_blocks["schema_version"] == SCHEMA_VERSION == 2
    assert {"SAM", "SAM TWO"} <= lines(letter_blocks)
    assert all(script_of(c) in ("latin", "space") for text in lines(letter_blocks) for c in text)
    spans = [s for s in letter_blocks["segments"]["text"] if "SAM" in s["text"]]
    assert [(s["text"], s["start_ms"], s["frames"]) for s in spans] == [("SAM TWO", 0, 9)]
    sam = next(ln for f in letter_blocks["frames"] for ln in f["text"] if ln["text"] == "SAM TWO")
    assert [w["text"] for w in sam["words"]] == ["SAM", "TWO"]
    left, right = (w["polygon"][0][0] for w in sam["words"])
    assert sam["polygon"][0][0] <= left < right


def test_the_same_video_gives_the_same_bytes(pipeline, letter_blocks):
    again = pipeline.run(shared_video("letter_blocks.mp4"), sample_fps=1.0)
    assert encode(again) == encode(letter_blocks)


def test_latin_plus_chinese_keeps_what_the_ocr_read_in_chinese(pipeline):
    options = JobOptions("yolo_ocr", text_scripts="latin+chinese", text_min_confidence=0.5)
    document = pipeline.run(shared_video("letter_blocks.mp4"), sample_fps=0.5, options=options)
    assert "国" in lines(document) and document["options"]["text_scripts"] == "latin+chinese"


def test_every_caption_stays(pipeline):
    document = pipeline.run(shared_video("captions_vertical.mp4"), sample_fps=1.0)
    assert lines(document) == {"here's", "how to", "create", "a SIMPLE", "Fast", "CUT", "intro"}


@pytest.mark.parametrize(
    ("clip", "seconds", "misread"),
    [("dog_and_woman.mp4", 7.007, "人"), ("cars_parking_aerial.mp4", 6.0, "口")],
)
def test_the_known_misreads_are_gone_by_default(pipeline, clip, seconds, misread):
    raw = pipeline.reader.read(read_frame(clip, seconds))
    assert misread in {line.text for line in raw}  # the OCR does read it there
    document = pipeline.run(shared_video(clip), sample_fps=1.0)
    assert lines(document) == set() and document["segments"]["text"] == []
    # It is a large lone glyph: dropped even when Chinese and low confidence are asked for.
    loose = JobOptions("yolo_ocr", text_min_confidence=0.5, text_scripts="latin+chinese")
    assert misread not in lines(pipeline.run(shared_video(clip), sample_fps=1.0, options=loose))


def test_tracks_and_segments_on_dog_and_woman(pipeline):
    document = pipeline.run(shared_video("dog_and_woman.mp4"), sample_fps=1.0)
    tracks = document["tracks"]
    assert [t["track_id"] for t in tracks] == list(range(1, len(tracks) + 1))
    ids = {o["track_id"] for f in document["frames"] for o in f["objects"]}
    assert ids == {t["track_id"] for t in tracks}
    woman = tracks[0]
    assert woman["label"] == "person" and woman["frames"] >= 9
    segments = {s["label"]: s for s in document["segments"]["objects"]}
    assert (segments["dog"]["start_ms"], segments["dog"]["end_ms"]) == (0, 9009)
    assert len(document["segments"]["objects"]) == 2  # the dog's missed sample does not split it


def test_labels_and_min_confidence_filter_every_part(pipeline):
    options = JobOptions("yolo_ocr", min_confidence=0.7, labels=("dog",))
    document = pipeline.run(shared_video("dog_and_woman.mp4"), sample_fps=1.0, options=options)
    objects = [o for f in document["frames"] for o in f["objects"]]
    assert objects and all(o["label"] == "dog" and o["confidence"] >= 0.7 for o in objects)
    assert {t["label"] for t in document["tracks"]} == {"dog"}
    assert list(document["summary"]["objects"]) == ["dog"]


def test_the_objects_only_and_text_only_pipelines(model_path):
    from chalicelib.analysis.pipeline import OcrPipeline, YoloPipeline

    clip = shared_video("captions_vertical.mp4")
    objects_only = YoloPipeline(load_settings()).run(clip, sample_fps=1.0)
    assert objects_only["pipeline_id"] == "yolo" and list(objects_only["models"]) == ["detector"]
    assert lines(objects_only) == set() and objects_only["sampling"]["ocr_frames"] == 0
    assert objects_only["tracks"] and objects_only["segments"]["text"] == []
    text_only = OcrPipeline(load_settings()).run(clip, sample_fps=1.0)
    assert text_only["pipeline_id"] == "ocr" and list(text_only["models"]) == ["ocr"]
    assert "intro" in lines(text_only) and text_only["tracks"] == []
    assert all(f["objects"] == [] for f in text_only["frames"])


def test_an_unknown_label_for_the_model_fails_the_analysis_with_the_valid_names(pipeline):
    from chalicelib.errors import BadRequest

    with pytest.raises(BadRequest, match="the model's classes are: person, bicycle"):
        pipeline.run(
            shared_video("captions_vertical.mp4"),
            sample_fps=0.2,
            options=JobOptions("yolo_ocr", exclude_labels=("forklift",)),
        )
