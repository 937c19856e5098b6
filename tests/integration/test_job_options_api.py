"""Per-job result options over HTTP (Chalice's test client on moto) and against the real model."""

import pytest

from chalicelib.analysis.labels import COCO_NAMES, known_class_names
from chalicelib.config import load_settings
from chalicelib.jobs.options import JobOptions


def test_the_api_knows_the_coco_names_of_the_built_in_model(monkeypatch, model_path):
    from chalicelib.analysis.detector import load_detector

    monkeypatch.delenv("VIDEO_JOBS_MODEL_PATH", raising=False)
    assert known_class_names(load_settings()) == COCO_NAMES
    assert load_detector(model_path).class_names == COCO_NAMES


def test_submit_stores_the_options_in_dynamodb_as_one_attribute(client, aws, tiny_mp4):
    response = client.http.post(
        "/video/submit?pipeline_id=yolo&labels=person&min_confidence=0.6",
        body=tiny_mp4.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 202
    job = aws.jobs.get(response.json_body["job_id"])
    assert job.options == {"labels": ["person"], "min_confidence": 0.6}
    assert JobOptions.from_record(job) == JobOptions("yolo", None, 0.6, ("person",))


@pytest.mark.parametrize("route", ["/video/submit", "/video/uploads"])
@pytest.mark.parametrize(
    "query",
    ["?min_confidence=NaN", "?labels=", "?labels=dog,dog", "?exclude_labels=unicorn",
     "?detector_size=500", "?detector_size=abc", "?detector_size=0", "?detector_size=10000",
     "?detector_size=416.5",
     "?black_max_pixel_threshold=1.5", "?black_max_pixel_threshold=-0.1",
     "?black_max_pixel_threshold=", "?black_max_pixel_threshold=0x1",
     "?black_min_coverage_percentage=100.5", "?black_min_coverage_percentage=inf",
     "?black_min_coverage_percentage=99%25", "?black_min_coverage_percentage=1e999"],
)  # fmt: skip
def test_both_routes_answer_bad_options_with_a_400(client, route, query):
    response = client.http.post(
        route + query, body=b"\x00" * 16, headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 400
    assert response.json_body["code"] == "BadRequest"
    name = query[1:].split("=")[0]
    assert response.json_body["message"].startswith(name)


def test_submit_and_uploads_keep_a_detector_size_of_608_on_the_row(client, aws, tiny_mp4):
    submitted = client.http.post(
        "/video/submit?pipeline_id=yolo&detector_size=608",
        body=tiny_mp4.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    uploading = client.http.post("/video/uploads?detector_size=608")
    for response in (submitted, uploading):
        assert response.status_code in (201, 202), response.json_body
        job = aws.jobs.get(response.json_body["job_id"])
        assert job.options == {"detector_size": 608}
        assert JobOptions.from_record(job).detector_size == 608


def test_a_job_runs_at_its_detector_size_and_its_results_say_so(client, aws, tiny_mp4, model_path):
    def results(query: str) -> dict:
        response = client.http.post(
            "/video/submit?pipeline_id=yolo&sample_fps=2" + query,
            body=tiny_mp4.read_bytes(),
            headers={"Content-Type": "video/mp4"},
        )
        job_id = response.json_body["job_id"]
        assert aws.worker.process(job_id) is True
        return client.http.get(f"/video/results/{job_id}").json_body["results"]

    default, explicit, large = (
        results(""),
        results("&detector_size=416"),
        results("&detector_size=608"),
    )
    assert explicit == default  # asking for the default changes nothing in the results
    assert "detector_size" not in default["options"]
    assert default["models"]["detector"]["name"] == "yolov3-tiny-coco"
    assert large["options"] == {**default["options"], "detector_size": 608}
    assert large["models"]["detector"]["name"] == "yolov3-tiny-coco-608"
    assert len(large["frames"]) == len(default["frames"]) == 4


def test_black_frame_options_are_stored_and_their_ranges_named(client, aws, tiny_mp4):
    response = client.http.post(
        "/video/submit?pipeline_id=shots&black_max_pixel_threshold=0.1"
        "&black_min_coverage_percentage=99",  # the default: not stored
        body=tiny_mp4.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 202, response.json_body
    job = aws.jobs.get(response.json_body["job_id"])
    assert (job.pipeline_id, job.options) == ("shots", {"black_max_pixel_threshold": 0.1})
    bad = client.http.post("/video/uploads?black_min_coverage_percentage=250")
    assert bad.json_body == {
        "code": "BadRequest",
        "message": "black_min_coverage_percentage must be a decimal number from 0 to 100 (the "
        "percentage of black pixels a black frame has, e.g. 99), got '250'",
    }
