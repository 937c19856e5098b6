"""What one tenant may do on the live local stack (auth required, the limit at 3): analyze only the
S3 locations and notify only the SNS topics its key grants; no more active jobs than the limit,
exactly, under a burst of 50 simultaneous requests; and uploads whose URL expired unstarted end
``failed`` and stop counting at that moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.config import DEFAULT_BUCKET, DEFAULT_TABLE_NAME
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.stack import bearer, keys_cli, local_stack, run_keys, wait_for

pytestmark = pytest.mark.slow
LIMIT = 3
URL_EXPIRY_S = 45  # longer than the burst takes on a loaded machine (27 s at a load of 8)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {
        "VIDEO_JOBS_AUTH": "required",
        "VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT": str(LIMIT),
        "VIDEO_JOBS_UPLOAD_URL_EXPIRY_S": str(URL_EXPIRY_S),
    }
    with local_stack(tmp_path_factory.mktemp("limits"), env) as running:
        yield running


def status_of(stack, key: dict, job_id: str) -> dict:
    url = f"{stack.base}/video/status/{job_id}"
    return requests.get(url, headers=bearer(key), timeout=10).json()


def test_a_burst_of_50_accepts_exactly_the_limit_and_abandoned_uploads_end(stack):
    key = keys_cli(stack, "create", "--tenant", "bursty")[0]
    barrier = threading.Barrier(50)

    def create(_: int) -> requests.Response:
        barrier.wait()
        return requests.post(f"{stack.base}/video/uploads", headers=bearer(key), timeout=60)

    began = time.monotonic()
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(create, range(50)))
    assert time.monotonic() - began < URL_EXPIRY_S  # else early places lapsed during the burst
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] * LIMIT + [429] * (50 - LIMIT), codes
    tickets = [answer.json() for answer in answers if answer.status_code == 201]
    accepted = [ticket["job_id"] for ticket in tickets]
    expires = {ticket["upload"]["expires_at"] for ticket in tickets}

    # nobody PUTs a video: once the URLs expire the jobs are failed and free their places at
    # once, long before the sweep (every 30 s) writes that down
    last = max(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() for at in expires)
    time.sleep(max(0.0, last + 0.5 - time.time()))
    for job_id in accepted:
        seen = status_of(stack, key, job_id)
        assert seen["status"] == "failed", seen
        assert seen["error_message"].startswith("UploadExpired: no video was started before the")
        assert any(at.removesuffix("Z") in seen["error_message"] for at in expires), seen
        started = requests.post(
            f"{stack.base}/video/uploads/{job_id}/start", headers=bearer(key), timeout=10
        )
        assert started.status_code == 409 and "UploadExpired" in started.json()["message"]
    again = requests.post(f"{stack.base}/video/uploads", headers=bearer(key), timeout=10)
    assert again.status_code == 201, again.text


ACME_TOPIC = "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionAcme"
GLOBEX_TOPIC = "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionGlobex"


def aws(stack, service: str, key: dict | None = None):
    credentials = (key["access_key_id"], key["secret_access_key"]) if key else ("x", "x")
    return boto3.client(
        service, endpoint_url=stack.base if key else stack.aws_base, region_name="us-east-1",
        aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1],
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


@pytest.fixture(scope="module")
def buckets(stack, tmp_path_factory):
    """acme's private bucket, and a shared one where acme may read only its own folder."""
    tiny = make_mp4(tmp_path_factory.mktemp("clip") / "tiny.mp4").read_bytes()
    s3 = aws(stack, "s3")
    for bucket, key in [("acme-private", "a.mp4"), ("shared-media", "acme/a.mp4"),
                        ("shared-media", "globex/g.mp4")]:  # fmt: skip
        if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=tiny)
    return s3


def video(bucket: str, name: str) -> dict:
    return {"S3Object": {"Bucket": bucket, "Name": name}}


def refusal(call, **params) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    answer = caught.value.response
    status = answer["ResponseMetadata"]["HTTPStatusCode"]
    return status, answer["Error"]["Code"], answer["Error"]["Message"]


def test_a_tenant_analyzes_only_the_s3_locations_its_key_grants(stack, buckets):
    acme = keys_cli(
        stack, "create", "--tenant", "acme", "--source", "s3://acme-private/",
        "--source", "s3://shared-media/acme/", "--topic", ACME_TOPIC,
    )[0]  # fmt: skip
    globex = keys_cli(
        stack, "create", "--tenant", "globex", "--source", "s3://shared-media/globex/"
    )[0]
    assert acme["sources"] == ["s3://acme-private/", "s3://shared-media/acme/"]
    acme_rk, globex_rk = aws(stack, "rekognition", acme), aws(stack, "rekognition", globex)
    assert acme_rk.start_label_detection(Video=video("acme-private", "a.mp4"))["JobId"]
    assert acme_rk.start_label_detection(Video=video("shared-media", "acme/a.mp4"))["JobId"]
    assert globex_rk.start_label_detection(Video=video("shared-media", "globex/g.mp4"))["JobId"]

    for who, bucket, name in [(globex_rk, "acme-private", "a.mp4"),
                              (globex_rk, "shared-media", "acme/a.mp4"),
                              (acme_rk, "shared-media", "globex/g.mp4"),
                              (acme_rk, "shared-media", "acme/../globex/g.mp4"),
                              (acme_rk, "acme-private-2", "a.mp4")]:  # fmt: skip
        status, code, message = refusal(who.start_label_detection, Video=video(bucket, name))
        assert (status, code) == (400, "AccessDeniedException"), message
        assert f"s3://{bucket}/{name} is not in an S3 location your access key" in message
    nothing = aws(stack, "rekognition", keys_cli(stack, "create", "--tenant", "nogrants")[0])
    _, code, message = refusal(nothing.start_text_detection, Video=video("acme-private", "a.mp4"))
    assert code == "AccessDeniedException" and "it grants none" in message


def test_a_tenant_names_only_the_sns_topics_its_key_grants(stack, buckets):
    acme = keys_cli(
        stack, "create", "--tenant", "acme", "--source", "s3://acme-private/", "--topic", ACME_TOPIC
    )[0]
    acme_rk = aws(stack, "rekognition", acme)
    channel = {"SNSTopicArn": GLOBEX_TOPIC, "RoleArn": "arn:aws:iam::123456789012:role/r"}
    _, code, message = refusal(
        acme_rk.start_label_detection, Video=video("acme-private", "a.mp4"),
        NotificationChannel=channel,
    )  # fmt: skip
    assert code == "AccessDeniedException" and GLOBEX_TOPIC in message and ACME_TOPIC in message
    channel["SNSTopicArn"] = ACME_TOPIC
    started = acme_rk.start_label_detection(
        Video=video("acme-private", "a.mp4"), NotificationChannel=channel
    )
    assert started["JobId"]


@pytest.mark.parametrize(
    "garbage",
    ["http://bucket/x", "s3://UPPER/", "s3://ab/", "s3://a..b/", "s3:///x", "s3://b" + "x" * 70,
     "arn-not-s3"],
)  # fmt: skip
def test_a_bad_grant_is_a_usage_error(stack, garbage):
    done = run_keys(stack, "create", "--tenant", "x", "--source", garbage)
    assert done.returncode == 2 and "use s3://<bucket>/" in done.stderr
    assert "Traceback" not in done.stderr


def test_each_tenant_lists_and_deletes_only_its_own_jobs_and_a_delete_leaves_nothing(
    stack, tmp_path
):
    """Over real HTTP, with the real worker: a completed job of each tenant; each lists its
    own, neither can delete the other's, and a delete leaves no object or item naming the job."""
    keys = {name: keys_cli(stack, "create", "--tenant", name)[0] for name in ("lib-a", "lib-b")}
    clip = make_mp4(tmp_path / "tiny.mp4").read_bytes()
    jobs = {}
    for name, key in keys.items():
        answer = requests.post(f"{stack.base}/video/submit", data=clip, timeout=30,
                               headers={**bearer(key), "Content-Type": "video/mp4"})  # fmt: skip
        assert answer.status_code == 202, answer.text
        jobs[name] = answer.json()["job_id"]
    for name, job_id in jobs.items():
        wait_for(lambda: status_of(stack, keys[name], job_id)["status"] == "completed", 120,  # noqa: B023
                 f"job {job_id} to complete", stack)  # fmt: skip

    def listed(name: str) -> list[str]:
        answer = requests.get(f"{stack.base}/video/jobs", headers=bearer(keys[name]), timeout=10)
        return [job["job_id"] for job in answer.json()["jobs"]]

    assert (listed("lib-a"), listed("lib-b")) == ([jobs["lib-a"]], [jobs["lib-b"]])
    doomed = jobs["lib-a"]
    crossed = requests.delete(f"{stack.base}/video/{doomed}", headers=bearer(keys["lib-b"]),
                              timeout=10)  # fmt: skip
    assert (crossed.status_code, crossed.json()["code"]) == (404, "JobNotFound")
    s3, table = aws(stack, "s3"), aws(stack, "dynamodb")
    bucket = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"] == DEFAULT_BUCKET][0]

    def stored() -> tuple[list[str], list[str]]:
        objects = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        items = table.scan(TableName=DEFAULT_TABLE_NAME, ConsistentRead=True)["Items"]
        return ([k for k in objects if doomed in k],
                [str(i["job_id"]) for i in items if doomed in str(i)])  # fmt: skip

    objects, items = stored()
    assert objects and items  # what the delete must remove is there
    deleted = requests.delete(f"{stack.base}/video/{doomed}", headers=bearer(keys["lib-a"]),
                              timeout=10)  # fmt: skip
    assert deleted.json() == {"job_id": doomed, "status": "completed", "deleted": True}
    assert stored() == ([], [])
    assert status_of(stack, keys["lib-a"], doomed)["code"] == "JobNotFound"
    assert (listed("lib-a"), listed("lib-b")) == ([], [jobs["lib-b"]])
