"""``make bench``, API sections: import time of the API path, and a 1 MB submit on the local stack.

The submit is measured against the bare boto3 calls it makes (S3 ``put_object`` of the same
bytes, DynamoDB ``put_item`` of a job row, SQS ``send_message``) on the same ``moto_server``,
interleaved request by request so both see the same machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

IMPORTS = {
    "python -c pass": "pass",
    "import boto3, pynamodb": "import boto3, pynamodb",
    "import boto3, pynamodb.models": "import boto3, pynamodb.models",
    "import app": "import app",
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def import_times(runs: int, *, cached_bytecode: bool) -> dict[str, float]:
    """Median wall seconds of ``python -c CODE`` in fresh interpreters, interleaved.

    ``cached_bytecode``: let Python write and reuse .pyc files (in a private prefix folder);
    otherwise the environment decides (PYTHONDONTWRITEBYTECODE=1 here: the repository's own
    modules are compiled on every start, as on a Lambda package shipped without .pyc files)."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="video-jobs-pycache-") as prefix:
        if cached_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = prefix
            for code in IMPORTS.values():  # write the .pyc files once
                subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
        times: dict[str, list[float]] = {name: [] for name in IMPORTS}
        for _ in range(runs):
            for name, code in IMPORTS.items():
                started = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def heaviest_imports(count: int = 6) -> list[tuple[str, float]]:
    """Where ``import app`` spends its time: ``python -X importtime`` self times summed per
    top-level package, in seconds, largest first."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in result.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        package = fields[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(fields[0]) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def megabyte_mp4(directory: Path) -> bytes:
    """A valid H.264 MP4 of just over 1 MiB: the fixture's frames with seeded noise (so they do
    not compress to nothing), written by the fixture's own encoder."""
    import numpy as np

    from chalicelib.analysis.mp4 import validate_mp4_bytes
    from tests.fixtures.make_tiny_mp4 import _encode, draw_frame

    rng = np.random.default_rng(7)
    size, images = (640, 360), []
    while True:
        count = len(images)
        noise = rng.integers(-24, 25, (size[1], size[0], 3), dtype=np.int16)
        image = np.clip(draw_frame(count, 100, size).astype(np.int16) + noise, 0, 255)
        images.append((image.astype(np.uint8), count))
        if count % 2:
            continue
        path = _encode(
            directory / "one-megabyte.mp4",
            images,
            rate=Fraction(10),
            time_base=Fraction(1, 10),
            codec="h264",
            pix_fmt="yuv420p",
            rotation=0,
        )
        data = path.read_bytes()
        if len(data) >= MIB:
            validate_mp4_bytes(data)  # what the API checks first
            return data


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited with code {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the local stack's API did not come up on port {port}")


@dataclass
class Latency:
    """Milliseconds per request, by what was called: "api submit", "bare submit", ..."""

    ms: dict[str, list[float]]
    body_bytes: int
    validate_ms: float


def bare_clients(aws_port: int):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    endpoint = f"http://127.0.0.1:{aws_port}"
    config = Config(retries={"max_attempts": 4, "mode": "standard"})
    s3_config = config.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    return (
        session.client("s3", endpoint_url=endpoint, config=s3_config),
        session.client("dynamodb", endpoint_url=endpoint, config=config),
        session.client("sqs", endpoint_url=endpoint, config=config),
    )


def submit_latency(requests_count: int, warmup: int = 5) -> Latency:
    """Start ``infra.local_stack`` on free ports, time submits and the bare calls, stop it.

    The stack's worker gets a model path that does not exist, so each job it picks up fails
    at once (one S3 download, no analysis): the measurement is the API's, not the analyzer's
    competing for the same two cores."""
    import requests

    from chalicelib.analysis.mp4 import validate_mp4_bytes
    from chalicelib.config import DEFAULT_BUCKET, DEFAULT_QUEUE_NAME, DEFAULT_TABLE_NAME

    api_port, aws_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="video-jobs-bench-") as workdir:
        data = megabyte_mp4(Path(workdir))
        started = time.perf_counter()
        for _ in range(20):
            validate_mp4_bytes(data)
        validate_ms = (time.perf_counter() - started) / 20 * 1000
        env = {
            **os.environ,
            "VIDEO_JOBS_MODEL_PATH": str(Path(workdir) / "absent.onnx"),
            "VIDEO_JOBS_STATE_DIR": str(Path(workdir) / "state"),
        }
        stack_log = (Path(workdir) / "stack.log").open("w")
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "infra.local_stack"]
                + ["--api-port", str(api_port), "--aws-port", str(aws_port)],
                cwd=ROOT,
                env=env,
                stdout=stack_log,
                stderr=subprocess.STDOUT,
            )
        ]
        try:
            log(f"local stack: API :{api_port}, emulator :{aws_port}")
            wait_for_port(api_port, processes[0], 120)
            s3, dynamodb, sqs = bare_clients(aws_port)
            queue_url = sqs.get_queue_url(QueueName=DEFAULT_QUEUE_NAME)["QueueUrl"]

            def api_submit(session: requests.Session, port: int) -> None:
                response = session.post(
                    f"http://127.0.0.1:{port}/video/submit",
                    data=data,
                    headers={"Content-Type": "video/mp4"},
                    timeout=60,
                )
                if response.status_code != 202:
                    raise RuntimeError(f"submit answered {response.status_code}: {response.text}")

            def bare_submit() -> None:
                job_id = str(uuid.uuid4())
                key = f"video_jobs/{job_id}.mp4"
                now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
                s3.put_object(Bucket=DEFAULT_BUCKET, Key=key, Body=data)
                dynamodb.put_item(
                    TableName=DEFAULT_TABLE_NAME,
                    Item={
                        "job_id": {"S": job_id},
                        "status": {"S": "pending"},
                        "created_at": {"S": now},
                        "updated_at": {"S": now},
                        "input_path": {"S": key},
                        "pipeline_id": {"S": "yolo_ocr"},
                        "attempts": {"N": "0"},
                        "expires_at": {"N": str(int(time.time()) + 30 * 86400)},
                    },
                    ConditionExpression="attribute_not_exists(job_id)",
                )
                sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"job_id": job_id}))

            def api_status(session: requests.Session, port: int) -> None:
                job_id = uuid.uuid4()
                response = session.get(f"http://127.0.0.1:{port}/video/status/{job_id}", timeout=60)
                if response.status_code != 404:
                    raise RuntimeError(f"status answered {response.status_code}")

            def bare_status() -> None:
                dynamodb.get_item(
                    TableName=DEFAULT_TABLE_NAME,
                    Key={"job_id": {"S": str(uuid.uuid4())}},
                    ConsistentRead=True,
                )

            calls = {
                "api submit": lambda session: api_submit(session, api_port),
                "bare submit": lambda session: bare_submit(),
                "api status": lambda session: api_status(session, api_port),
                "bare status": lambda session: bare_status(),
            }
            result = Latency({name: [] for name in calls}, len(data), validate_ms)
            with requests.Session() as session:
                for i in range(warmup + requests_count):
                    for name, call in calls.items():
                        started = time.perf_counter()
                        call(session)
                        if i >= warmup:
                            result.ms[name].append((time.perf_counter() - started) * 1000)
            return result
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
            for process in reversed(processes):
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            stack_log.close()
