"""Access control on the live local stack with VIDEO_JOBS_AUTH=required: Bearer tokens (a
thousand random ones), revoked keys, SigV4 with a stock boto3 rekognition client, a replayed
signed request, tenant isolation on every route, the per-tenant limit, the viewer link."""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.auth import signed_headers
from tests.support.stack import bearer, keys_cli, local_stack

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 2
TENANTS = ("acme", "globex")
VIDEOS_BUCKET = "tenant-videos"  # both tenants' keys grant it
pytestmark = pytest.mark.slow
UNKNOWN_JOB = "0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"
AMZ_JSON = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"VIDEO_JOBS_AUTH": "required", "VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT": str(LIMIT)}
    workdir = tmp_path_factory.mktemp("auth")
    with local_stack(workdir, env) as running:
        yield running


@pytest.fixture(scope="module")
def tenants(stack):
    grant = ("--source", f"s3://{VIDEOS_BUCKET}/")
    return {name: keys_cli(stack, "create", "--tenant", name, *grant)[0] for name in TENANTS}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> bytes:
    return make_mp4(tmp_path_factory.mktemp("clip") / "tiny.mp4").read_bytes()


def submit(stack, key: dict, data: bytes) -> requests.Response:
    headers = {"Content-Type": "video/mp4", **bearer(key)}
    return requests.post(f"{stack.base}/video/submit", data=data, headers=headers, timeout=30)


def rekognition(stack, key: dict, secret: str | None = None, region: str = "us-east-1"):
    return boto3.client(
        "rekognition",
        endpoint_url=stack.base,
        region_name=region,
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=secret or key["secret_access_key"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def error_code(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def videos(stack, tiny):
    s3 = boto3.client(
        "s3", endpoint_url=stack.aws_base, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    s3.create_bucket(Bucket=VIDEOS_BUCKET)
    s3.put_object(Bucket=VIDEOS_BUCKET, Key="tiny.mp4", Body=tiny)
    return {"S3Object": {"Bucket": VIDEOS_BUCKET, "Name": "tiny.mp4"}}


@pytest.fixture(scope="module")
def acme_jobs(stack, tenants, tiny, videos):
    """acme's REST job (finished) and its Rekognition job."""
    job_id = submit(stack, tenants["acme"], tiny).json()["job_id"]
    rk_job = rekognition(stack, tenants["acme"]).start_text_detection(Video=videos)["JobId"]
    deadline = time.monotonic() + 180
    for pending in (job_id, rk_job):
        while time.monotonic() < deadline:
            status = requests.get(
                f"{stack.base}/video/status/{pending}", headers=bearer(tenants["acme"]), timeout=10
            ).json()["status"]
            if status in ("completed", "failed"):
                break
            time.sleep(0.3)
    return {"rest": job_id, "rekognition": rk_job}


def test_a_thousand_random_tokens_are_all_refused(stack, tenants):
    session, statuses = requests.Session(), set()
    started = time.monotonic()
    for _ in range(1000):
        token = secrets.token_urlsafe(32)
        answer = session.get(
            f"{stack.base}/video/status/{UNKNOWN_JOB}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        statuses.add(answer.status_code)
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="video-jobs"'
        assert answer.json()["code"] == "Unauthorized"
    assert statuses == {401}
    assert time.monotonic() - started < 120


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/video/submit"),
        ("POST", "/video/uploads"),
        ("POST", f"/video/uploads/{UNKNOWN_JOB}/start"),
        ("GET", f"/video/status/{UNKNOWN_JOB}"),
        ("GET", f"/video/results/{UNKNOWN_JOB}"),
        ("GET", f"/video/view/{UNKNOWN_JOB}"),
        ("POST", f"/video/view/{UNKNOWN_JOB}/link"),
    ],
)
def test_every_rest_route_needs_a_token(stack, method, path):
    answer = requests.request(method, f"{stack.base}{path}", timeout=10)
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["code"] == "Unauthorized" and "Bearer" in body["message"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_for_both_apis(stack, tiny, videos):
    key = keys_cli(stack, "create", "--tenant", "shortlived")[0]
    assert submit(stack, key, tiny).status_code == 202
    (revoked,) = keys_cli(stack, "revoke", "--access-key-id", key["access_key_id"])
    assert revoked["revoked_at"] and "secret_access_key" not in revoked
    assert submit(stack, key, tiny).status_code == 401
    code, _ = error_code(rekognition(stack, key).start_label_detection, Video=videos)
    assert code == "UnrecognizedClientException"
    listed = {k["access_key_id"]: k for k in keys_cli(stack, "list")}
    assert listed[key["access_key_id"]]["revoked_at"] == revoked["revoked_at"]
    assert all("api_token" not in k and "secret_access_key" not in k for k in listed.values())


def test_stock_rekognition_client_with_a_real_key(stack, tenants, acme_jobs):
    answer = rekognition(stack, tenants["acme"]).get_text_detection(JobId=acme_jobs["rekognition"])
    assert answer["JobStatus"] == "SUCCEEDED"


def test_wrong_secret_and_unknown_key(stack, tenants, videos):
    wrong = rekognition(stack, tenants["acme"], secret="not-the-secret-" * 3)
    code, message = error_code(wrong.start_label_detection, Video=videos)
    assert code == "InvalidSignatureException" and "does not match" in message
    stranger = {"access_key_id": "VJNOBODYHASTHISKEY00", "secret_access_key": "s" * 40}
    code, _ = error_code(rekognition(stack, stranger).start_label_detection, Video=videos)
    assert code == "UnrecognizedClientException"
    unsigned = requests.post(
        stack.base + "/", data=b"{}", timeout=10,
        headers={"X-Amz-Target": "RekognitionService.GetLabelDetection", "Content-Type": AMZ_JSON},
    )  # fmt: skip
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("region", ["eu-west-1", "x"])
def test_a_stock_client_configured_for_another_region_is_refused(stack, tenants, region):
    elsewhere = rekognition(stack, tenants["acme"], region=region)
    code, message = error_code(elsewhere.get_label_detection, JobId=UNKNOWN_JOB)
    assert code == "InvalidSignatureException"
    assert f"not '{region}'" in message and "region_name='us-east-1'" in message


def test_a_replayed_signed_request_outside_the_window_is_rejected(stack, tenants, acme_jobs):
    key = tenants["acme"]
    body = json.dumps({"JobId": acme_jobs["rekognition"]}).encode()
    url = stack.base + "/"
    target = "RekognitionService.GetTextDetection"

    def send(at):
        headers = signed_headers(
            url, body, key["access_key_id"], key["secret_access_key"], at=at, target=target
        )
        return requests.post(url, data=body, headers=headers, timeout=10)

    fresh = send(None)
    assert fresh.status_code == 200, fresh.text
    past = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    replay = send(past)
    assert replay.status_code == 403
    assert replay.json()["__type"] == "InvalidSignatureException"
    assert replay.json()["message"].startswith("Signature expired")


def test_another_tenants_jobs_are_not_found_on_every_route(stack, tenants, acme_jobs):
    globex, acme = bearer(tenants["globex"]), bearer(tenants["acme"])
    job = acme_jobs["rest"]
    routes = [
        ("GET", "/video/status/{}"),
        ("GET", "/video/results/{}"),
        ("POST", "/video/uploads/{}/start"),
        ("GET", "/video/view/{}"),
        ("POST", "/video/view/{}/link"),
    ]
    for method, path in routes:
        theirs = requests.request(method, stack.base + path.format(job), headers=globex, timeout=10)
        unknown = requests.request(
            method, stack.base + path.format(UNKNOWN_JOB), headers=globex, timeout=10
        )
        assert theirs.status_code == unknown.status_code == 404, (path, theirs.text)
        assert theirs.json()["code"] == unknown.json()["code"] == "JobNotFound"
        mine = requests.request(method, stack.base + path.format(job), headers=acme, timeout=10)
        assert mine.status_code != 404 or path.startswith("/video/uploads"), (path, mine.text)
    other = rekognition(stack, tenants["globex"])
    for get in (other.get_text_detection, other.get_label_detection):
        code, _ = error_code(get, JobId=acme_jobs["rekognition"])
        assert code == "ResourceNotFoundException"


def test_idempotency_keys_and_request_tokens_are_per_tenant(stack, tenants, tiny, videos):
    def keyed(key):
        headers = {"Content-Type": "video/mp4", "Idempotency-Key": "shared-key", **bearer(key)}
        answer = requests.post(f"{stack.base}/video/submit", data=tiny, headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text
        return answer.json()["job_id"]

    first, again = keyed(tenants["acme"]), keyed(tenants["acme"])
    assert first == again != keyed(tenants["globex"])
    start = {"Video": videos, "ClientRequestToken": "shared-token"}
    acme_rk, globex_rk = rekognition(stack, tenants["acme"]), rekognition(stack, tenants["globex"])
    one = acme_rk.start_label_detection(**start)["JobId"]
    assert acme_rk.start_label_detection(**start)["JobId"] == one
    assert globex_rk.start_label_detection(**start)["JobId"] != one


def test_the_per_tenant_limit(stack, videos):
    key = keys_cli(stack, "create", "--tenant", "limited", "--source", f"s3://{VIDEOS_BUCKET}/")[0]
    for _ in range(LIMIT):  # uploads stay active (uploading) until started
        created = requests.post(f"{stack.base}/video/uploads", headers=bearer(key), timeout=10)
        assert created.status_code == 201, created.text
    refused = requests.post(f"{stack.base}/video/uploads", headers=bearer(key), timeout=10)
    assert refused.status_code == 429
    assert refused.json()["code"] == "TooManyJobs"
    assert int(refused.headers["Retry-After"]) > 0
    code, message = error_code(rekognition(stack, key).start_label_detection, Video=videos)
    assert code == "LimitExceededException" and str(LIMIT) in message


def test_the_viewer_link_opens_one_job_in_a_browser(stack, tenants, acme_jobs, tiny):
    acme, job = tenants["acme"], acme_jobs["rest"]
    link = requests.post(
        f"{stack.base}/video/view/{job}/link", headers=bearer(acme), timeout=10
    ).json()
    assert link["url"].startswith(f"/video/view/{job}?token=vt1.") and link["expires_at"]
    page = requests.get(stack.base + link["url"], timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    config = json.loads(re.search(r'id="config"[^>]*>(.*?)</script>', page.text, re.S).group(1))
    as_viewer = {"Authorization": f"Bearer {config['token']}"}
    for path in (f"/video/status/{job}", f"/video/results/{job}"):
        assert requests.get(stack.base + path, headers=as_viewer, timeout=10).status_code == 200
    other_job = submit(stack, acme, tiny).json()["job_id"]  # same tenant, another job
    answer = requests.get(f"{stack.base}/video/status/{other_job}", headers=as_viewer, timeout=10)
    assert answer.status_code == 401  # the token is bound to its job: not valid for another
    answer = requests.post(
        f"{stack.base}/video/uploads", headers=as_viewer, timeout=10
    )  # a view token writes nothing
    assert answer.status_code == 401
    forged = stack.base + link["url"].replace("token=vt1.", "token=vt1.9")
    assert requests.get(forged, timeout=10).status_code == 401


def test_the_cli_prints_a_working_viewer_link(stack, tenants, acme_jobs):
    env = {
        **os.environ,
        "VIDEO_JOBS_API": stack.base,
        "VIDEO_JOBS_TOKEN": tenants["acme"]["api_token"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "video_jobs_cli", "view", acme_jobs["rest"]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    url = done.stdout.strip()
    assert "token=vt1." in url and requests.get(url, timeout=10).status_code == 200
