"""Per-job result options: strict parsing, kept in the job row's one ``options`` attribute,
rebuilt from the row and handed to the pipeline by the worker (in-memory store, no moto)."""

import json

import pytest

from chalicelib.analysis.labels import known_class_names, sidecar_path
from chalicelib.analysis.worker import JobWorker
from chalicelib.config import load_settings
from chalicelib.errors import BadRequest, Conflict
from chalicelib.intake.params import parse_job_options
from chalicelib.jobs.ids import new_job_id, video_path
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import JobRecord
from tests.support.pipelines import FakePipelines


@pytest.fixture
def settings(monkeypatch):
    monkeypatch.delenv("VIDEO_JOBS_MODEL_PATH", raising=False)
    return load_settings()


def test_defaults(settings):
    options = parse_job_options({}, settings)
    assert options.result_options() == {
        "min_confidence": 0.25,
        "labels": None,
        "exclude_labels": [],
        "text_min_confidence": 0.8,
        "text_scripts": "latin",
    }
    assert options.row_options() == {}


def test_an_unencoded_plus_in_text_scripts_is_understood(settings):
    assert parse_job_options({"text_scripts": "latin chinese"}, settings).text_scripts == (
        "latin+chinese"
    )


def test_every_option_parsed_and_only_what_differs_goes_to_the_row(settings):
    options = parse_job_options(
        {
            "min_confidence": "0.5",
            "labels": "person, dog",
            "exclude_labels": "cat",
            "text_min_confidence": "0.8",
            "text_scripts": "latin+chinese",
        },
        settings,
    )
    assert options.labels == ("person", "dog") and options.exclude_labels == ("cat",)
    assert options.row_options() == {
        "exclude_labels": ("cat",),
        "labels": ("person", "dog"),
        "min_confidence": 0.5,
        "text_scripts": "latin+chinese",
    }


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"min_confidence": "nan"}, "min_confidence must be a decimal number from 0 to 1"),
        ({"min_confidence": "1.5"}, "got '1.5'"),
        ({"min_confidence": "-0.1"}, "min_confidence must be a decimal number from 0 to 1"),
        (
            {"text_min_confidence": "inf"},
            "text_min_confidence must be a decimal number from 0 to 1",
        ),
        ({"text_min_confidence": "high"}, "got 'high'"),
        ({"labels": ""}, "labels must be a comma-separated list of class names"),
        ({"labels": "person,,dog"}, "without empty entries"),
        ({"exclude_labels": " "}, "exclude_labels must be a comma-separated list"),
        ({"labels": "dog,person,dog"}, "labels names dog more than once"),
        ({"labels": "person,unicorn"}, "unknown class name(s) 'unicorn'"),
        ({"labels": "motorcycle"}, "the model's classes are: person, bicycle, car, motorbike"),
        ({"text_scripts": "cyrillic"}, "text_scripts must be one of latin, latin+chinese"),
        ({"detector_size": "500"}, "detector_size must be 416 or 608"),
        ({"min_conf": "0.5"}, "the accepted ones are pipeline_id, sample_fps, min_confidence"),
    ],
)
def test_bad_values_say_what_to_fix(settings, params, says):
    with pytest.raises(BadRequest) as raised:
        parse_job_options(params, settings)
    assert says in raised.value.message


def test_detector_size_goes_to_the_row_and_the_results_only_when_it_is_608(settings):
    """A job that leaves it alone (or asks for 416) keeps the row and the results' options of
    before the option existed, so its results are the same bytes."""
    before = {"min_confidence", "labels", "exclude_labels", "text_min_confidence", "text_scripts"}
    for params in ({}, {"detector_size": "416"}):
        options = parse_job_options(params, settings)
        assert options == parse_job_options({}, settings)
        assert options.row_options() == {} and set(options.result_options()) == before
    large = parse_job_options({"detector_size": "608"}, settings)
    assert large.row_options() == {"detector_size": 608}
    assert large.result_options()["detector_size"] == 608
    assert set(large.result_options()) == before | {"detector_size"}
    as_json = json.loads(json.dumps(large.row_options()))
    assert JobOptions.from_record(_row(large, as_json)) == large


def test_an_own_model_is_checked_by_its_sidecar_or_not_at_all(monkeypatch, tmp_path):
    model = tmp_path / "mine.onnx"
    monkeypatch.setenv("VIDEO_JOBS_MODEL_PATH", str(model))
    settings = load_settings()
    assert known_class_names(settings) is None
    assert parse_job_options({"labels": "forklift"}, settings).labels == ("forklift",)
    sidecar_path(model).write_text(json.dumps(["forklift", "pallet"]))
    assert known_class_names(settings) == ("forklift", "pallet")
    with pytest.raises(BadRequest, match="the model's classes are: forklift, pallet"):
        parse_job_options({"labels": "person"}, settings)


def _row(options: JobOptions, stored: dict) -> JobRecord:
    job_id = new_job_id()
    return JobRecord.new(
        job_id,
        input_path=video_path(job_id),
        pipeline_id=options.pipeline_id,
        sample_fps=options.sample_fps,
        options=stored,
        retention_days=30,
    )


def test_options_are_rebuilt_from_the_row_as_the_store_keeps_them():
    options = JobOptions("yolo", 2.0, 0.4, ("dog",), (), 0.9, "latin")
    # in memory the tuple stays; DynamoDB (JSON) gives a list back: both rebuild the same
    assert JobOptions.from_record(_row(options, options.row_options())) == options
    as_json = json.loads(json.dumps(options.row_options()))
    assert as_json["labels"] == ["dog"]
    assert JobOptions.from_record(_row(options, as_json)) == options
    assert JobOptions.from_record(_row(JobOptions("ocr"), {})) == JobOptions("ocr")


def test_submit_stores_the_options_and_the_worker_hands_them_to_the_pipeline(
    settings, parts, submissions, tiny_mp4
):
    storage, _, jobs = parts
    options = submissions.parse_options(
        {"pipeline_id": "yolo", "labels": "person", "min_confidence": "0.6"}
    )
    job = submissions.submit(tiny_mp4.read_bytes(), options)
    assert jobs.get(job.job_id).options == {"labels": ("person",), "min_confidence": 0.6}
    pipelines = FakePipelines()
    worker = JobWorker(storage=storage, jobs=jobs, pipelines=pipelines)
    assert worker.process(job.job_id) is True
    assert pipelines.calls[0][2] == "yolo"
    assert pipelines.options == [JobOptions("yolo", None, 0.6, ("person",))]


def test_an_idempotency_key_reused_with_other_options_is_a_conflict(
    settings, submissions, tiny_mp4
):
    data = tiny_mp4.read_bytes()
    first = submissions.submit(data, JobOptions("yolo_ocr"), idempotency_key="k1")
    again = submissions.submit(data, JobOptions("yolo_ocr"), idempotency_key="k1")
    assert again.job_id == first.job_id
    with pytest.raises(Conflict):
        submissions.submit(data, JobOptions("yolo_ocr", min_confidence=0.5), idempotency_key="k1")
