"""docs/openapi.yaml and the code in step: same routes, a valid spec, valid examples, and real
responses (chalice.test.Client on moto) that conform to the documented schemas.

When this fails after a change to app.py or chalicelib/results/document.py, update the spec (and
docs/endpoints.md) in the same change.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from app import answer_of, app
from chalicelib import errors
from chalicelib.analysis.shots import ShotsPipeline
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import COMPLETED
from chalicelib.results.assembly import build_document
from chalicelib.results.document import FrameResult, encode
from tests.support.pipelines import FakePipelines

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs" / "openapi.yaml"
ENDPOINTS_DOC = ROOT / "docs" / "endpoints.md"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Raised only inside the analyzer: they end up in a failed job's error_message, never in an
# HTTP error body (VideoJobsError itself is only a base class).
WORKER_ONLY_ERRORS = {
    "InputMissing", "TooManyFrames", "AnalysisError", "MalformedMessage", "VideoJobsError",
    "ObjectTooLarge", "LeaseLost", "UnknownTopic", "DamagedCheckpoint", "InvalidModel",
}  # fmt: skip
# Answered on POST / only (Rekognition's __type), or turned into another error before a REST
# route answers (a damaged piece is ResultsDamaged, a changed upload a Conflict), or answered
# under another code (KeyReused is a Conflict to REST clients)
NOT_REST_ERRORS = {
    "SourceUnreadable", "UnknownOperation", "SignatureMissing",
    "SignatureIncomplete", "SignatureMismatch", "UnknownAccessKey", "AccessDenied",
    "KeyReused", "ObjectChanged", "DamagedPiece",
}  # fmt: skip
INTERNAL_ERROR = ("InternalError", 500)  # app.maps_errors' answer to anything unexpected


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def resolve(spec: dict, node: dict) -> dict:
    """Follow a local ``$ref`` (``#/components/...``) to the object it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: object = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(spec: dict, schema: dict) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve in the spec."""
    return Draft202012Validator({**schema, "components": spec["components"]})


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def app_routes() -> dict[tuple[str, str], str]:
    return {
        (path, method.lower()): entry.view_name
        for path, methods in app.routes.items()
        for method, entry in methods.items()
    }


# --- the spec itself ---------------------------------------------------------------------------


def test_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    validate_spec(spec)  # openapi-spec-validator picks the 3.1 validator from the version


def test_every_route_is_documented_and_nothing_else(spec):
    documented = {(path, method) for path, method, _ in operations(spec)}
    assert documented == set(app_routes())


def test_operation_ids_are_the_view_function_names(spec):
    routes = app_routes()
    for path, method, operation in operations(spec):
        assert operation["operationId"] == routes[(path, method)], f"{method} {path}"


def test_endpoints_doc_names_every_route():
    text = ENDPOINTS_DOC.read_text(encoding="utf-8")
    for path, method in app_routes():
        assert f"{method.upper()} {path}" in text, f"docs/endpoints.md lacks {method} {path}"


def test_error_codes_are_exactly_what_the_api_can_answer(spec):
    documented = set(spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"])
    classes = {errors.VideoJobsError, *_subclasses(errors.VideoJobsError)}
    http_errors = {cls.__name__ for cls in classes} - WORKER_ONLY_ERRORS - NOT_REST_ERRORS
    assert documented == http_errors | {INTERNAL_ERROR[0]}


def _subclasses(cls: type) -> set[type]:
    direct = set(cls.__subclasses__())
    return direct.union(*(_subclasses(sub) for sub in direct))


def _status_of(code: str) -> int:
    if code == INTERNAL_ERROR[0]:
        return INTERNAL_ERROR[1]
    return answer_of(getattr(errors, code)("an example")).status


@dataclass(frozen=True)
class Example:
    where: str
    value: object
    schema: dict


def iter_examples(spec: dict, node: object, where: str = "#"):
    """Every example in the spec with the schema it illustrates: media types (``example`` or
    ``examples``), parameters and headers (``example``), and JSON Schema ``examples`` arrays."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from iter_examples(spec, item, f"{where}/{index}")
        return
    if not isinstance(node, dict):
        return
    schema = node.get("schema")
    if isinstance(schema, dict):
        if "example" in node:
            yield Example(f"{where}/example", node["example"], schema)
        for name, example in node.get("examples", {}).items():
            example = resolve(spec, example)
            if "value" in example:
                yield Example(f"{where}/examples/{name}", example["value"], schema)
    if isinstance(node.get("examples"), list) and "schema" not in node:  # a JSON Schema
        for index, value in enumerate(node["examples"]):
            yield Example(f"{where}/examples/{index}", value, node)
    for key, child in node.items():
        if key != "examples" or not isinstance(child, list):
            yield from iter_examples(spec, child, f"{where}/{key}")


def test_every_example_validates_against_its_schema(spec):
    examples = list(iter_examples(spec, spec))
    assert len(examples) >= 30  # the walk found them (the spec has examples on every response)
    for example in examples:
        problems = [e.message for e in validator(spec, example.schema).iter_errors(example.value)]
        assert not problems, f"{example.where}: {problems}"


def test_error_examples_carry_the_status_their_code_maps_to(spec):
    checked = set()
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            content = resolve(spec, response).get("content", {}).get("application/json", {})
            samples = [content.get("example")] + [
                e.get("value") for e in content.get("examples", {}).values()
            ]
            for sample in samples:
                if isinstance(sample, dict) and set(sample) == {"code", "message"}:
                    assert _status_of(sample["code"]) == int(status), f"{method} {path} {status}"
                    checked.add(sample["code"])
    assert len(checked) >= 8, checked  # the walk found error examples of (nearly) every code


# --- real responses conform --------------------------------------------------------------------


class Conformance:
    """Checks responses of the app against the operation they came from."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, method: str, path: str, response, status: int) -> dict:
        assert response.status_code == status, response.body
        operation = self.spec["paths"][path][method]
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{method} {path} answered undocumented {status}"
        documented = resolve(self.spec, documented)
        assert response.headers["Content-Type"] == "application/json"
        body = json.loads(response.body)
        schema = documented["content"]["application/json"]["schema"]
        problems = [e.message for e in validator(self.spec, schema).iter_errors(body)]
        assert not problems, f"{method} {path} {status}: {problems}"
        for name, header in documented.get("headers", {}).items():
            header = resolve(self.spec, header)
            value = response.headers.get(name)
            assert value is not None or not header.get("required"), f"{name} missing"
            if value is not None:
                assert not list(validator(self.spec, header["schema"]).iter_errors(value))
        if status >= 400:
            assert _status_of(body["code"]) == status
        self.seen.add((path, method, status))
        return body


@dataclass(frozen=True)
class Thing:
    """Stands in for the analyzer's Detection and TextLine (same attribute names)."""

    label: str = ""
    class_id: int = 0
    confidence: float = 0.0
    box: tuple = ()
    text: str = ""
    polygon: tuple = ()


def synthetic_frames() -> list[FrameResult]:
    dog = Thing(label="dog", class_id=16, confidence=0.83491, box=(0.41, 0.55, 0.2, 0.38))
    corners = ((0.1, 0.2), (0.3, 0.2), (0.3, 0.3), (0.1, 0.3))
    sam = Thing(text="SAM", confidence=0.98, polygon=corners)
    return [FrameResult(0, 0, [dog], [sam]), FrameResult(1000, 10, [], [sam])]


SYNTHETIC_FIELDS = dict(
    options=JobOptions("yolo_ocr", labels=("dog",)).result_options(),
    models={"detector": {"name": "yolov3-tiny-coco", "sha256": "0" * 64}, "ocr": {"name": "x"}},
    video={"duration_ms": 2000, "fps": 10.0, "width": 320, "height": 240, "frame_count": 20,
           "codec": "h264", "rotation": 0, "ignored_video_tracks": 0},
    sampling={"fps": 1.0, "frames_sampled": 2, "frames_decoded": 20, "ocr_frames": 1,
              "ended_early": False},
)  # fmt: skip


def synthetic_document(pipeline_id: str = "yolo_ocr") -> dict:
    """A results document built by chalicelib.results.assembly, as the real pipeline's is."""
    return build_document(pipeline_id=pipeline_id, **SYNTHETIC_FIELDS, frames=synthetic_frames())


def submit(client, data: bytes, content_type: str = "video/mp4", query: str = ""):
    return client.http.post(
        f"/video/submit{query}", body=data, headers={"Content-Type": content_type}
    )


def test_every_route_answers_as_documented(client, aws, spec, tiny_mp4, monkeypatch):
    check = Conformance(spec).check
    mp4 = tiny_mp4.read_bytes()
    status, results = "/video/status/{job_id}", "/video/results/{job_id}"

    accepted = check("post", "/video/submit", submit(client, mp4, query="?sample_fps=2"), 202)
    job_id = accepted["job_id"]
    assert check("get", status, client.http.get(f"/video/status/{job_id}"), 200)["progress"] == 0
    not_ready = check("get", results, client.http.get(f"/video/results/{job_id}"), 404)
    assert not_ready["code"] == "ResultsNotReady"

    pipelines = FakePipelines(frames=synthetic_frames(), fields=SYNTHETIC_FIELDS)
    monkeypatch.setattr(aws.worker, "pipelines", pipelines)
    event = client.events.generate_sqs_event([json.dumps({"job_id": job_id})], "video-jobs-queue")
    client.lambda_.invoke("analyze_video", event)
    done = check("get", status, client.http.get(f"/video/status/{job_id}"), 200)
    assert done["status"] == COMPLETED
    document = check("get", results, client.http.get(f"/video/results/{job_id}"), 200)
    assert encode(document["results"]) == encode(synthetic_document())
    page = check("get", results, client.http.get(f"/video/results/{job_id}?max_frames=1"), 200)
    assert len(page["results"]["frames"]) == 1 and page["next_token"] == "1"
    last = f"/video/results/{job_id}?max_frames=1&next_token={page['next_token']}"
    assert "next_token" not in check("get", results, client.http.get(last), 200)

    ticket = check("post", "/video/uploads", client.http.post("/video/uploads"), 201)
    start = "/video/uploads/{job_id}/start"
    check("post", start, client.http.post(ticket["start_url"]), 409)
    put = requests.put(ticket["upload"]["url"], data=mp4, headers=ticket["upload"]["headers"])
    assert put.status_code == 200
    check("post", start, client.http.post(ticket["start_url"]), 202)
    check("post", start, client.http.post(ticket["start_url"]), 409)


def test_every_documented_error_answer_conforms(client, aws, spec, tiny_mp4, monkeypatch):
    conformance = Conformance(spec)
    check, mp4 = conformance.check, tiny_mp4.read_bytes()
    check("post", "/video/submit", submit(client, b"hello"), 400)
    check("post", "/video/submit", submit(client, mp4, query="?pipeline_id=nope"), 400)
    check("post", "/video/submit", submit(client, mp4, "text/plain"), 415)
    check("post", "/video/uploads", client.http.post("/video/uploads?sample_fps=0"), 400)
    check("post", "/video/uploads", client.http.post("/video/uploads?detector_size=500"), 400)
    results = "/video/results/{job_id}"
    check("get", results, client.http.get(f"/video/results/{new_job_id()}?max_frames=0"), 400)
    for path in ("/video/status/{job_id}", "/video/results/{job_id}"):
        for job_id in ("not-a-uuid", new_job_id()):
            check("get", path, client.http.get(path.format(job_id=job_id)), 404)
    start = "/video/uploads/{job_id}/start"
    check("post", start, client.http.post(f"/video/uploads/{new_job_id()}/start"), 404)

    ticket = client.http.post("/video/uploads").json_body
    aws.storage.save_file(b"\x89PNG not a video", f"video_jobs/{ticket['job_id']}.mp4")
    check("post", start, client.http.post(ticket["start_url"]), 400)

    failed = submit(client, mp4).json_body["job_id"]
    aws.jobs.claim(failed, "w", lease_s=60)
    aws.jobs.fail(failed, "the file has no video track (audio only?)")
    status = check("get", "/video/status/{job_id}", client.http.get(f"/video/status/{failed}"), 200)
    assert status["error_message"].startswith("the file has no video track")
    check("get", "/video/results/{job_id}", client.http.get(f"/video/results/{failed}"), 404)

    monkeypatch.setenv("VIDEO_JOBS_MAX_DIRECT_UPLOAD_BYTES", "1000")
    from chalicelib.bootstrap import services

    services.cache_clear()
    check("post", "/video/submit", submit(client, mp4), 413)
    monkeypatch.delenv("VIDEO_JOBS_MAX_DIRECT_UPLOAD_BYTES")
    services.cache_clear()
    monkeypatch.setattr(services().storage, "save_file", _unavailable)
    check("post", "/video/submit", submit(client, mp4), 503)
    monkeypatch.setattr(services().jobs, "find", _unavailable)
    check("get", "/video/status/{job_id}", client.http.get(f"/video/status/{failed}"), 500)
    assert {status for _, _, status in conformance.seen} == {200, 400, 404, 413, 415, 500, 503}


def _unavailable(*args, **kwargs):
    raise ConnectionError("the dependency is down")


@pytest.mark.slow
@pytest.mark.parametrize("query", ["?sample_fps=2", "?sample_fps=2&detector_size=608"])
def test_real_analysis_results_conform(client, aws, spec, tiny_mp4, pipeline, monkeypatch, query):
    """The real detector and OCR behind the real SQS handler: the stored document fits."""
    monkeypatch.setattr(aws.worker.pipelines, "pipeline", lambda pipeline_id: pipeline)
    job_id = submit(client, tiny_mp4.read_bytes(), query=query).json_body["job_id"]
    event = client.events.generate_sqs_event([json.dumps({"job_id": job_id})], "video-jobs-queue")
    client.lambda_.invoke("analyze_video", event)
    response = client.http.get(f"/video/results/{job_id}")
    body = Conformance(spec).check("get", "/video/results/{job_id}", response, 200)
    assert body["results"]["sampling"]["frames_sampled"] == 4  # 2 s at 2 frames/s
    assert re.fullmatch(r"[0-9a-f]{64}", body["results"]["models"]["detector"]["sha256"])
    assert body["results"]["options"].get("detector_size") == (608 if "608" in query else None)


def test_real_shots_results_conform_and_the_schema_tells_them_apart(client, aws, spec, tiny_mp4,
                                                                     monkeypatch):  # fmt: skip
    """The real shots pipeline behind the real SQS handler: its document fits the schema, and
    the parts only it has (or lacks) are held to its pipeline_id."""
    shots = ShotsPipeline(None)
    monkeypatch.setattr(aws.worker.pipelines, "pipeline", lambda pipeline_id: shots)
    query = "?pipeline_id=shots&black_max_pixel_threshold=0.1"
    job_id = submit(client, tiny_mp4.read_bytes(), query=query).json_body["job_id"]
    event = client.events.generate_sqs_event([json.dumps({"job_id": job_id})], "video-jobs-queue")
    client.lambda_.invoke("analyze_video", event)
    response = client.http.get(f"/video/results/{job_id}")
    results = Conformance(spec).check("get", "/video/results/{job_id}", response, 200)["results"]
    assert results["segments"]["shots"][0]["start_ms"] == 0 and results["frames"] == []
    assert results["sampling"]["fps"] is None and results["options"]["black_max_pixel_threshold"]
    schema = validator(spec, spec["components"]["schemas"]["ResultsDocument"])
    assert schema.is_valid(results)
    without_shots = json.loads(json.dumps(results))
    del without_shots["segments"]["shots"]
    as_yolo = {**results, "pipeline_id": "yolo"}
    yolo = synthetic_document()
    yolo_with_shots = {**yolo, "segments": {**yolo["segments"], "shots": []}}
    assert schema.is_valid(yolo)
    for wrong in (
        without_shots,
        as_yolo,
        yolo_with_shots,
        {**yolo, "sampling": results["sampling"]},
    ):
        assert not schema.is_valid(wrong)


def test_model_routes_answer_garbage_and_their_states_as_documented(client, aws, spec, tiny_mp4):
    """What schemathesis throws at /video/models, and each state a model can show (no
    validation runs here: tests/integration/test_tenant_models.py runs those)."""
    conformance = Conformance(spec)
    check, mp4 = conformance.check, tiny_mp4.read_bytes()
    one, start = "/video/models/{model_id}", "/video/models/{model_id}/start"
    unknown, json_type = "mdl-" + "0" * 32, {"Content-Type": "application/json"}

    def register(body: bytes, status: int) -> dict:
        answer = client.http.post("/video/models", body=body, headers=json_type)
        return check("post", "/video/models", answer, status)

    nulls = b'{"name": "m", "class_names": null, "input_size": null, "layout": null}'
    ticket = register(nulls, 201)
    model_id = ticket["model"]["model_id"]
    for garbage in (
        b"",
        b"null",
        b"[1]",
        b"{",
        b'{"name": 5}',
        b'{"name": "m", "layout": 7}',
        b'{"name": "m", "class_names": []}',
        b'{"name": "m", "input_size": 33}',
    ):
        register(garbage, 400)  # fmt: skip
    register(b'{"name": "' + b"x" * 140_000 + b'"}', 413)
    check("post", start, client.http.post(ticket["start_url"]), 409)  # no file yet
    for bad_id in (unknown, "not-a-model", "mdl-" + "Z" * 32):
        check("get", one, client.http.get(f"/video/models/{bad_id}"), 404)
        check("post", start, client.http.post(f"/video/models/{bad_id}/start"), 404)
        check("delete", one, client.http.delete(f"/video/models/{bad_id}"), 404)
    for query in (f"?model_id={unknown}", "?model_id=", "?model_id=%00"):
        check("post", "/video/submit", submit(client, mp4, query=query), 404)
        check("post", "/video/uploads", client.http.post(f"/video/uploads{query}"), 404)
    not_ready = check("post", "/video/submit", submit(client, mp4, query=f"?model_id={model_id}"),
                      400)  # fmt: skip
    assert not_ready["code"] == "ModelUnavailable"
    aws.reconcile(now=time.time() + aws.catalog.url_expiry_s + 1)  # its upload URL expired
    failed = check("get", one, client.http.get(f"/video/models/{model_id}"), 200)
    assert failed["status"] == "failed" and failed["error"]["code"] == "UploadExpired"
    listed = check("get", "/video/models", client.http.get("/video/models"), 200)
    assert [model["model_id"] for model in listed["models"]] == [model_id]
    check("post", start, client.http.post(ticket["start_url"]), 409)
    check("delete", one, client.http.delete(f"/video/models/{model_id}"), 200)
    check("delete", one, client.http.delete(f"/video/models/{model_id}"), 404)
    assert {status for _, _, status in conformance.seen} == {200, 201, 400, 404, 409, 413}
