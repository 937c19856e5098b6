"""Malformed credentials over HTTP, with VIDEO_JOBS_AUTH=required (chalice.test.Client on moto):
a malformed view token is a 401 with a message on every route that reads one, never a 500; and
the Rekognition API takes a stock boto3 client signed for the deployment's region only."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from chalice.test import Client

from app import app
from chalicelib.bootstrap import services
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import JobRecord
from chalicelib.jobs.tenancy import Caller
from infra.keys import create
from tests.support.auth import signed_headers

ENDPOINT = "http://127.0.0.1:8109"
REGION = "us-east-1"  # the test stage's (tests/conftest.py)
AMZ_JSON = "application/x-amz-json-1.1"


@pytest.fixture
def secured(aws, monkeypatch):
    """Auth required; acme's key and one pending job of acme's; the test client."""
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "required")
    monkeypatch.setenv("VIDEO_JOBS_PAGINATION_KEY", "a test stage's own key")
    services.cache_clear()
    wired = services()
    key = create(wired.keys, wired.secrets, "acme")
    job = JobRecord.new(
        new_job_id(), input_path="video_jobs/x.mp4", pipeline_id="yolo", retention_days=1,
        tenant="acme",
    )  # fmt: skip
    wired.jobs.create(job)
    with Client(app) as client:
        yield client, key, job.job_id
    services.cache_clear()


def _arabic_indic(digits: str) -> str:
    return digits.translate({ord("0") + i: 0x0660 + i for i in range(10)})


def malformed(token: str) -> dict[str, str]:
    """Forms of a valid view token ``vt1.<expiry>.acme.<mac>`` that must all be refused."""
    expiry, mac = token.split(".")[1], token.split(".")[3]
    return {
        "superscript digit": f"vt1.\u00b2.acme.{mac}",
        "5000-digit expiry": f"vt1.{'9' * 5000}.acme.{mac}",
        "arabic-indic expiry": f"vt1.{_arabic_indic(expiry)}.acme.{mac}",
        "leading zero": f"vt1.0{expiry}.acme.{mac}",
        "non-ascii mac": f"vt1.{expiry}.acme." + "\u00e9" * 32,
        "13-digit expiry": f"vt1.{'1' * 13}.acme.{mac}",
    }


def routes(job_id: str, token: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Every route that reads a view token: as a Bearer header, or ``?token=`` on the page."""
    bearer = {"Authorization": f"Bearer {token}"}
    return {
        "GET status": ("GET", f"/video/status/{job_id}", bearer),
        "HEAD status": ("HEAD", f"/video/status/{job_id}", bearer),
        "GET results": ("GET", f"/video/results/{job_id}", bearer),
        "HEAD results": ("HEAD", f"/video/results/{job_id}", bearer),
        "GET view, Bearer": ("GET", f"/video/view/{job_id}", bearer),
        "GET view, ?token=": ("GET", f"/video/view/{job_id}?token={quote(token, safe='')}", {}),
        "HEAD view, ?token=": ("HEAD", f"/video/view/{job_id}?token={quote(token, safe='')}", {}),
    }


def test_malformed_view_tokens_are_401_on_every_route_never_500(secured):
    client, _, job_id = secured
    token, _ = services().auth.view_token(Caller("acme"), job_id)
    for method, path, headers in routes(job_id, token).values():  # the valid token works
        assert client.http.request(method, path, headers=headers).status_code in (200, 404)
    answers: dict[tuple[str, str], int] = {}
    for form, bad in malformed(token).items():
        for route, (method, path, headers) in routes(job_id, bad).items():
            response = client.http.request(method, path, headers=headers)
            answers[form, route] = response.status_code
            if method == "GET":
                assert response.json_body["code"] == "Unauthorized", (form, route)
                assert "video-jobs view" in response.json_body["message"], (form, route)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(answers) == 6 * 7 and set(answers.values()) == {401}, answers


class _Body:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_):
        yield self._data


def rekognition(client, key: dict, region: str):
    """A stock boto3 rekognition client whose requests the chalice test client answers."""
    rk = boto3.client(
        "rekognition", endpoint_url=ENDPOINT, region_name=region,
        aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"],
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip

    def send(request, **_):
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        headers["Host"] = urlsplit(request.url).netloc  # what urllib3 adds (and was signed)
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        answer = client.http.request(request.method, "/", headers=headers, body=body)
        return AWSResponse(request.url, answer.status_code, answer.headers, _Body(answer.body))

    rk.meta.events.register("before-send.rekognition", send)
    return rk


def error_of(call, **params) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


def test_a_stock_client_for_the_deployments_region_is_served(secured):
    client, key, _ = secured
    code, status, _ = error_of(rekognition(client, key, REGION).get_label_detection, JobId="0" * 64)
    assert (code, status) == ("ResourceNotFoundException", 400)  # past the signature check


@pytest.mark.parametrize("region", ["eu-west-1", "x"])
def test_a_stock_client_for_another_region_is_refused(secured, region):
    client, key, _ = secured
    code, status, message = error_of(
        rekognition(client, key, region).get_label_detection, JobId="0" * 64
    )
    assert (code, status) == ("InvalidSignatureException", 403)
    assert f"not '{region}'" in message and f"region_name='{REGION}'" in message


def test_malformed_signatures_are_aws_errors_never_500(secured):
    client, key, _ = secured
    body = b'{"JobId": "0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"}'
    sign = {"access_key_id": key["access_key_id"], "secret": key["secret_access_key"]}

    def sent(**kw) -> dict[str, str]:
        headers = signed_headers(f"{ENDPOINT}/", body, sign["access_key_id"], sign["secret"], **kw)
        return {**headers, "Host": "127.0.0.1:8109"}

    good = sent()
    bad_signature = good["Authorization"].replace("Signature=", "Signature=\u00e9")
    forms = {
        "service s3": (sent(service="s3"), "InvalidSignatureException", 403),
        "unsigned target": (
            sent(unsigned={"X-Amz-Target": "RekognitionService.GetLabelDetection"}),
            "IncompleteSignatureException", 400,
        ),
        "arabic-indic date": (
            {**good, "X-Amz-Date": _arabic_indic(good["X-Amz-Date"])},
            "IncompleteSignatureException", 400,
        ),
        "non-ascii signature": (
            {**good, "Authorization": bad_signature},
            "IncompleteSignatureException", 400,
        ),
        "non-ascii payload hash": (
            {**good, "X-Amz-Content-SHA256": "\u00e9" * 64}, "InvalidSignatureException", 403,
        ),
        "bad host": ({**good, "Host": "[abc"}, "IncompleteSignatureException", 400),
    }  # fmt: skip
    answers = {}
    for form, (headers, aws_type, status) in forms.items():
        response = client.http.post("/", headers={**headers, "Content-Type": AMZ_JSON}, body=body)
        answers[form] = (response.json_body["__type"], response.status_code)
        assert answers[form] == (aws_type, status), (form, response.json_body)
    assert len(answers) == 6
