"""``video-jobs models add|list|delete`` and ``submit --model``: what they ask the API, what
they print, and garbage refused before any request (the real stack: tests/e2e/test_cli_live.py)."""

from __future__ import annotations

import json

import pytest
import responses
from click.testing import CliRunner

from video_jobs_cli.commands import cli

API = "http://api.test"
MODEL_ID = "mdl-" + "ab" * 16
UPLOAD_URL = "http://storage.test/tenant_models/acme/model.onnx?signature=x"
TICKET = {
    "model": {"model_id": MODEL_ID, "status": "uploading"},
    "upload": {"url": UPLOAD_URL, "method": "PUT", "max_bytes": 1000,
               "headers": {"Content-Type": "application/octet-stream"},
               "expires_at": "2026-12-07T03:00:00Z"},
    "start_url": f"/video/models/{MODEL_ID}/start",
}  # fmt: skip
READY = {"model_id": MODEL_ID, "status": "ready", "version": "0123456789ab", "name": "hats",
         "class_names": ["helmet", "head"]}  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(cli, ["--api", API, *args])


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "hats.onnx"
    path.write_bytes(b"\x08\x09onnx bytes")
    return path


@responses.activate
def test_add_registers_uploads_starts_and_waits_until_ready(onnx_file, monkeypatch):
    monkeypatch.setattr("video_jobs_cli.models.POLL_S", 0)
    register = responses.post(f"{API}/video/models", json=TICKET, status=201)
    stored: list[bytes] = []

    def storage(request):
        stored.append(request.body.read() if hasattr(request.body, "read") else request.body)
        return 200, {}, b""

    put = responses.add_callback(responses.PUT, UPLOAD_URL, callback=storage)
    responses.post(f"{API}{TICKET['start_url']}", status=202,
                   json={**READY, "status": "validating"})  # fmt: skip
    polls = responses.get(f"{API}/video/models/{MODEL_ID}", json=READY)
    result = run("models", "add", str(onnx_file), "--name", "hats", "--classes", "helmet, head",
                 "--input-size", "640", "--layout", "v8")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{MODEL_ID}  ready\n"
    assert json.loads(register.calls[0].request.body) == {
        "name": "hats",
        "class_names": ["helmet", "head"],
        "input_size": 640,
        "layout": "v8",
    }
    assert put.calls[0].request.headers["Content-Type"] == "application/octet-stream"
    assert stored == [onnx_file.read_bytes()]
    assert polls.call_count == 1


@responses.activate
def test_add_of_a_model_that_fails_validation_exits_1_with_the_reason(onnx_file):
    responses.post(f"{API}/video/models", json=TICKET, status=201)
    responses.put(UPLOAD_URL)
    failed = {
        **READY,
        "status": "failed",
        "version": None,
        "error": {"code": "InvalidModel", "message": "the model uses custom operators"},
    }
    responses.post(f"{API}{TICKET['start_url']}", status=202, json=failed)
    result = run("models", "add", str(onnx_file), "--name", "hats")
    assert result.exit_code == 1
    assert f"model {MODEL_ID} failed: the model uses custom operators" in result.stderr


@responses.activate
def test_add_refuses_a_file_over_the_limit_before_uploading(tmp_path):
    big = tmp_path / "big.onnx"
    big.write_bytes(b"x" * 1001)
    responses.post(f"{API}/video/models", json=TICKET, status=201)
    result = run("models", "add", str(big), "--name", "hats")
    assert result.exit_code == 1 and "above the 1000-byte limit" in result.stderr
    assert len(responses.calls) == 1  # registered, never uploaded nor started


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--classes", ""], "must not be empty"),
        (["--classes", "helmet,,head"], "empty class name"),
        (["--classes", " , "], "empty class name"),
        (["--name", ""], "must not be empty"),
        (["--input-size", "4000"], "4000 is not in the range 32<=x<=1280"),
        (["--layout", "v7"], "'v7' is not one of 'v5', 'v8'"),
    ],
)
@responses.activate
def test_add_garbage_options_exit_2_before_any_request(onnx_file, args, says):
    result = run("models", "add", str(onnx_file), *(["--name", "hats"] if "--name" not in args
                                                    else []), *args)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(responses.calls) == 0


@responses.activate
def test_add_needs_an_existing_file_not_a_folder(tmp_path):
    missing = run("models", "add", str(tmp_path / "nowhere.onnx"), "--name", "hats")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    folder = run("models", "add", str(tmp_path), "--name", "hats")
    assert folder.exit_code == 2 and "is a directory" in folder.stderr
    assert len(responses.calls) == 0


@responses.activate
def test_list_prints_one_line_a_model_and_delete_prints_what_went():
    pending = {"model_id": "mdl-" + "cd" * 16, "status": "validating", "version": None,
               "name": "pallets", "class_names": None}  # fmt: skip
    responses.get(f"{API}/video/models", json={"models": [READY, pending]})
    listed = run("models", "list")
    assert listed.exit_code == 0, listed.output
    first, second = listed.stdout.splitlines()
    assert first.split() == [MODEL_ID, "ready", "0123456789ab", "hats", "helmet,head"]
    assert second.split() == [pending["model_id"], "validating", "-", "pallets"]
    responses.delete(f"{API}/video/models/{MODEL_ID}", json={"model_id": MODEL_ID,
                                                             "deleted": True})  # fmt: skip
    deleted = run("models", "delete", MODEL_ID)
    assert deleted.exit_code == 0 and deleted.stdout == f"{MODEL_ID}  deleted\n"


@responses.activate
def test_delete_of_an_unknown_model_exits_1_with_the_apis_message():
    responses.delete(
        f"{API}/video/models/{MODEL_ID}",
        status=404,
        json={"code": "ModelNotFound", "message": f"no model with id '{MODEL_ID}'"},
    )
    result = run("models", "delete", MODEL_ID)
    assert result.exit_code == 1 and f"no model with id '{MODEL_ID}'" in result.stderr
    assert run("models", "delete", "").exit_code == 2  # an empty id never reaches the API


@responses.activate
def test_submit_with_a_model_sends_its_id_as_the_jobs_model_id(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32)
    submitted = responses.post(
        f"{API}/video/submit", status=202, json={"job_id": "0791cd2d-b316-4f85-85f4-cdcb59441b41",
                                                 "status": "pending"},
        match=[responses.matchers.query_param_matcher({"model_id": MODEL_ID}, strict_match=False)],
    )  # fmt: skip
    result = run("submit", str(clip), "--model", MODEL_ID)
    assert result.exit_code == 0, result.output
    assert submitted.call_count == 1
    assert run("submit", str(clip), "--model", "").exit_code == 2
