"""Tenants' own detectors through the REST API in process (moto), with auth required and two
tenants: register, upload, validate (the real child process), run a job on a clip with the
model, and see its class names; bad models end failed saying why; another tenant sees nothing."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

import onnx
import pytest
import requests
from chalice.test import Client

from app import app
from chalicelib.bootstrap import services
from chalicelib.jobs.record import FAILED
from infra.keys import create
from tests.support import tenant_models as tm


@pytest.fixture
def api(aws, monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "required")
    monkeypatch.setenv("VIDEO_JOBS_PAGINATION_KEY", "a test stage's own key")
    monkeypatch.setenv("VIDEO_JOBS_MAX_MODEL_BYTES", str(64 * 1024))
    monkeypatch.setenv("VIDEO_JOBS_MAX_MODELS_PER_TENANT", "3")
    services.cache_clear()
    wired = services()
    keys = {
        name: create(wired.keys, wired.secrets, name)["api_token"] for name in ("acme", "globex")
    }
    with Client(app) as client:
        yield Api(client, keys)
    services.cache_clear()


class Api:
    def __init__(self, client: Client, keys: dict[str, str]):
        self.client, self.keys = client, keys

    def call(self, method: str, path: str, tenant: str, **kwargs) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}", **kwargs.pop("headers", {})}
        response = getattr(self.client.http, method)(path, headers=headers, **kwargs)
        return response.status_code, json.loads(response.body)

    def register(self, tenant: str, data: bytes, **fields) -> dict:
        """Register, PUT the file, start; the model as start answers it."""
        body = json.dumps({"name": "site safety", **fields})
        status, ticket = self.call("post", "/video/models", tenant, body=body,
                                   headers={"Content-Type": "application/json"})  # fmt: skip
        assert status == 201, ticket
        upload = ticket["upload"]
        assert requests.put(upload["url"], data=data, headers=upload["headers"]).ok
        status, model = self.call("post", ticket["start_url"], tenant)
        assert status in (202, 413), model
        return model if status == 202 else {"model_id": ticket["model"]["model_id"], **model}

    def run_queue(self) -> None:
        """Hand every waiting message to the analyzer's SQS handler, as the trigger would."""
        queue = services().queue
        while (message := queue.dequeue()) is not None:
            event = self.client.events.generate_sqs_event([message.body], "video-jobs-queue")
            self.client.lambda_.invoke("analyze_video", event)
            queue.ack(message)

    def submit(self, tenant: str, query: str, video: bytes) -> tuple[int, dict]:
        headers = {"Content-Type": "video/mp4"}
        return self.call("post", "/video/submit" + query, tenant, body=video, headers=headers)

    def model(self, tenant: str, model_id: str) -> dict:
        status, body = self.call("get", f"/video/models/{model_id}", tenant)
        assert status == 200, body
        return body


def test_a_tenant_runs_its_own_model_and_sees_its_class_names(api, tiny_mp4):
    started = api.register("acme", tm.serialized(tm.detector("v8")))
    assert started["status"] == "validating"
    api.run_queue()
    model = api.model("acme", started["model_id"])
    assert model["status"] == "ready" and model["class_names"] == tm.CLASSES
    assert model["layout"] == "v8" and model["input_size"] == tm.SIDE
    assert model["version"] == model["sha256"][:12]
    query = f"?model_id={model['model_id']}&pipeline_id=yolo&labels=pallet"
    status, job = api.submit("acme", query, tiny_mp4.read_bytes())
    assert status == 202, job
    api.run_queue()
    status, results = api.call("get", f"/video/results/{job['job_id']}", "acme")
    assert status == 200, results
    document = results["results"]
    assert document["models"]["detector"] == {
        "name": "site safety", "model_id": model["model_id"], "version": model["version"],
        "sha256": model["sha256"],
    }  # fmt: skip
    assert document["options"]["model_id"] == model["model_id"]
    labels = {obj["label"] for frame in document["frames"] for obj in frame["objects"]}
    assert labels == {"pallet"}  # found on every frame, and a name only this model has
    assert viewer_labels(api, job["job_id"]) == {"pallet"}


def viewer_labels(api: Api, job_id: str) -> set[str]:
    """The labels the viewer draws (boxes, track names, timeline rows), read from what its page
    fetches: the results with the page's own view token, as viewer.html sends it."""
    status, link = api.call("post", f"/video/view/{job_id}/link", "acme")
    assert status == 200, link
    token = link["url"].partition("?token=")[2]
    page = api.client.http.get(link["url"])
    assert page.status_code == 200
    config = re.search(rb'<script id="config" type="application/json">(.*?)</script>', page.body)
    assert config is not None and json.loads(config.group(1))["token"] == unquote(token)
    bearer = {"Authorization": f"Bearer {unquote(token)}"}  # what viewer.html sends
    results = api.client.http.get(f"/video/results/{job_id}", headers=bearer)
    assert results.status_code == 200
    document = json.loads(results.body)["results"]
    drawn = {obj["label"] for frame in document["frames"] for obj in frame["objects"]}
    named = {track["label"] for track in document.get("tracks", [])}
    rows = {segment["label"] for segment in document["segments"]["objects"]}
    assert drawn and named and rows, document.keys()  # the viewer has something to show
    return drawn | named | rows


def test_a_v5_model_without_names_metadata_takes_the_registered_names(api, tiny_mp4):
    names = ["forklift", "box"]
    model = api.register("acme", tm.serialized(tm.detector("v5", names, names_metadata=False)),
                         class_names=names)  # fmt: skip
    api.run_queue()
    ready = api.model("acme", model["model_id"])
    assert ready["status"] == "ready" and ready["layout"] == "v5"
    status, body = api.submit(
        "acme", f"?model_id={model['model_id']}&labels=pallet", tiny_mp4.read_bytes()
    )
    assert status == 400 and "forklift, box" in body["message"]  # filters check its classes


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (tm.serialized(tm.with_custom_operator()), "only standard ONNX operators"),
        (tm.serialized(tm.with_external_data()), "external data"),
        (tm.serialized(tm.with_wrong_output()), "matches neither"),
        (b"GIF89a not a model at all", "not an ONNX model"),
    ],
)
def test_a_bad_model_ends_failed_saying_what_to_fix_and_runs_no_job(api, tiny_mp4, data, says):
    model = api.register("acme", data)
    api.run_queue()
    failed = api.model("acme", model["model_id"])
    assert failed["status"] == "failed" and says in failed["error"]["message"], failed
    status, body = api.submit("acme", f"?model_id={model['model_id']}", tiny_mp4.read_bytes())
    assert status == 400 and body["code"] == "ModelUnavailable" and says in body["message"]


def test_an_oversized_file_is_refused_at_start_and_the_model_fails(api):
    model = onnx.ModelProto()
    model.CopyFrom(tm.detector())
    model.metadata_props.add(key="padding", value="x" * 70_000)
    answer = api.register("acme", tm.serialized(model))
    assert answer["code"] == "PayloadTooLarge" and "65536-byte limit" in answer["message"]
    failed = api.model("acme", answer["model_id"])
    assert failed["status"] == "failed" and "export a smaller model" in failed["error"]["message"]


def test_another_tenant_can_neither_see_nor_use_nor_delete_a_model(api, tiny_mp4):
    model = api.register("acme", tm.serialized(tm.detector()))
    api.run_queue()
    model_id = model["model_id"]
    unknown = "mdl-" + "0" * 32
    for path in (f"/video/models/{model_id}", f"/video/models/{unknown}"):
        got = api.call("get", path, "globex")
        assert got[0] == 404 and got[1]["code"] == "ModelNotFound"
        assert api.call("delete", path, "globex")[0] == 404
    assert api.call("get", "/video/models", "globex") == (200, {"models": []})
    status, body = api.submit("globex", f"?model_id={model_id}", tiny_mp4.read_bytes())
    assert status == 404 and body["code"] == "ModelNotFound"
    assert api.model("acme", model_id)["status"] == "ready"


def test_deleting_a_model_fails_its_queued_jobs_cleanly(api, tiny_mp4):
    model = api.register("acme", tm.serialized(tm.detector()))
    api.run_queue()
    status, job = api.submit("acme", f"?model_id={model['model_id']}", tiny_mp4.read_bytes())
    assert status == 202
    assert api.call("delete", f"/video/models/{model['model_id']}", "acme")[0] == 200
    api.run_queue()
    status, body = api.call("get", f"/video/status/{job['job_id']}", "acme")
    assert body["status"] == FAILED and "was deleted after this job was submitted" in str(body)
    assert api.call("get", "/video/models", "acme") == (200, {"models": []})


def test_the_count_limit_holds_and_registration_garbage_is_a_400(api):
    for _ in range(3):
        status, _ = api.call("post", "/video/models", "acme", body=b'{"name": "m"}')
        assert status == 201
    status, body = api.call("post", "/video/models", "acme", body=b'{"name": "m"}')
    assert status == 409 and body["code"] == "TooManyModels"
    garbage_bodies = (
        b"", b"[]", b"{", b'{"name": ""}', b'{"name": "m", "colour": 1}',
        b'{"name": "m", "class_names": ["a", "a"]}', b'{"name": "m", "class_names": ["a,b"]}',
        b'{"name": "m", "input_size": 641}', b'{"name": "m", "layout": "v7"}',
    )  # fmt: skip
    for garbage in garbage_bodies:
        status, body = api.call("post", "/video/models", "globex", body=garbage)
        assert status == 400 and body["code"] == "BadRequest", garbage


def test_a_model_needs_a_pipeline_that_detects_objects(api, tiny_mp4):
    status, job = api.call("post", "/video/submit?pipeline_id=ocr&model_id=mdl-" + "1" * 32,
                           "acme", body=tiny_mp4.read_bytes(),
                           headers={"Content-Type": "video/mp4"})  # fmt: skip
    assert status == 400 and "detects objects" in job["message"]


def test_the_sweep_fails_a_model_never_started_and_its_late_start_is_a_409(api):
    status, ticket = api.call("post", "/video/models", "acme", body=b'{"name": "m"}')
    assert status == 201
    upload = ticket["upload"]
    assert requests.put(upload["url"], data=b"not yet", headers=upload["headers"]).ok
    model_id = ticket["model"]["model_id"]
    services().reconcile(now=time.time() + services().catalog.url_expiry_s + 1)
    failed = api.model("acme", model_id)
    assert failed["status"] == "failed" and failed["error"]["code"] == "UploadExpired"
    status, body = api.call("post", ticket["start_url"], "acme")
    assert status == 409 and body["code"] == "Conflict", body
    assert services().storage.stat(f"tenant_models/acme/{model_id}.onnx") is None
