"""Per-job result options: strict parsing, one JSON attribute on the job row, handed to the
pipeline by the worker."""

import json

import pytest
from chalice.test import Client

from app import app
from chalicelib.config import load_settings
from chalicelib.errors import BadRequest
from chalicelib.jobs import Job
from chalicelib.labels import COCO_NAMES, known_class_names, sidecar_path
from chalicelib.submissions import JobOptions, parse_job_options


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
    assert options.stored() is None


def test_an_unencoded_plus_in_text_scripts_is_understood(settings):
    assert parse_job_options({"text_scripts": "latin chinese"}, settings).text_scripts == (
        "latin+chinese"
    )


def test_every_option_parsed_and_stored_as_one_json_of_what_differs(settings):
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
    assert json.loads(options.stored()) == {
        "exclude_labels": ["cat"],
        "labels": ["person", "dog"],
        "min_confidence": 0.5,
        "text_scripts": "latin+chinese",
    }


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"min_confidence": "nan"}, "min_confidence must be a number from 0 to 1"),
        ({"min_confidence": "1.5"}, "got '1.5'"),
        ({"min_confidence": "-0.1"}, "min_confidence must be a number from 0 to 1"),
        ({"text_min_confidence": "inf"}, "text_min_confidence must be a number from 0 to 1"),
        ({"text_min_confidence": "high"}, "got 'high'"),
        ({"labels": ""}, "labels must be a comma-separated list of class names"),
        ({"labels": "person,,dog"}, "without empty entries"),
        ({"exclude_labels": " "}, "exclude_labels must be a comma-separated list"),
        ({"labels": "dog,person,dog"}, "labels names dog more than once"),
        ({"labels": "person,unicorn"}, "unknown class name(s) 'unicorn'"),
        ({"labels": "motorcycle"}, "the model's classes are: person, bicycle, car, motorbike"),
        ({"text_scripts": "cyrillic"}, "text_scripts must be one of latin, latin+chinese"),
        ({"min_conf": "0.5"}, "the accepted ones are pipeline_id, sample_fps, min_confidence"),
    ],
)
def test_bad_values_say_what_to_fix(settings, params, says):
    with pytest.raises(BadRequest) as raised:
        parse_job_options(params, settings)
    assert says in raised.value.message


def test_the_api_knows_the_coco_names_of_the_built_in_model(settings, model_path):
    from chalicelib.analysis.detector import load_detector

    assert known_class_names(settings) == COCO_NAMES
    assert load_detector(model_path).class_names == COCO_NAMES


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


def test_options_round_trip_through_the_job_row(aws):
    options = JobOptions("yolo", 2.0, 0.4, ("dog",), (), 0.9, "latin")
    job = Job.new("3b2f3f0e-8a4c-4c7e-9a57-3f1b7c1d2e4f", input_path="x", pipeline_id="yolo",
                  sample_fps=2.0, options=options.stored())  # fmt: skip
    job.save()
    assert JobOptions.from_job(Job.get_by_id(job.job_id)) == options
    plain = Job.new("5c6d7e8f-1a2b-4c3d-8e9f-0a1b2c3d4e5f", input_path="x", pipeline_id="ocr")
    plain.save()
    assert JobOptions.from_job(Job.get_by_id(plain.job_id)) == JobOptions("ocr")


@pytest.fixture
def client(aws):
    with Client(app) as test_client:
        yield test_client


def test_submit_stores_the_options_and_the_worker_hands_them_to_the_pipeline(client, aws, tiny_mp4):
    response = client.http.post(
        "/video/submit?pipeline_id=yolo&labels=person&min_confidence=0.6",
        body=tiny_mp4.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 202
    job = Job.get_by_id(response.json_body["job_id"])
    assert json.loads(job.options) == {"labels": ["person"], "min_confidence": 0.6}
    seen = []

    class Recording:
        def run_on_file(self, file_path, pipeline_id, *, sample_fps=None, options=None):
            seen.append((pipeline_id, options))
            return {"frames": []}

    aws.worker.pipelines, real = Recording(), aws.worker.pipelines
    try:
        assert aws.worker.process(job.job_id)
    finally:
        aws.worker.pipelines = real
    assert seen == [("yolo", JobOptions("yolo", None, 0.6, ("person",)))]


@pytest.mark.parametrize("route", ["/video/submit", "/video/uploads"])
@pytest.mark.parametrize(
    "query", ["?min_confidence=NaN", "?labels=", "?labels=dog,dog", "?exclude_labels=unicorn"]
)
def test_both_routes_answer_bad_options_with_a_400(client, route, query):
    response = client.http.post(
        route + query, body=b"\x00" * 16, headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 400
    assert response.json_body["code"] == "BadRequest"
    name = query[1:].split("=")[0]
    assert response.json_body["message"].startswith(name)
