"""infra/emulator.py: moto whose S3 and DynamoDB state survives SIGKILL and a clean restart.

A real emulator process on a free port, stock boto3 clients, the state directory inspected.
"""

import json
import signal
import socket
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config

from infra.emulator_journal import JournalReader
from tests.support.servers import free_port

BUCKET, TABLE = "emulator-test", "emulator-test"


class Emulator:
    def __init__(self, state_dir):
        self.port, self.state_dir = free_port(), state_dir
        self.process = None

    def start(self) -> subprocess.Popen:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.emulator", "--port", str(self.port),
             "--state-dir", str(self.state_dir)],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.process.stderr.read()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.process
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def stop(self, signum=signal.SIGTERM) -> None:
        self.process.send_signal(signum)
        self.process.wait(timeout=30)

    def log(self) -> list[dict]:
        """The stopped process's JSON log lines."""
        return [json.loads(line) for line in self.process.stderr.read().splitlines()
                if line.startswith("{")]  # fmt: skip


def counter(dynamodb) -> int:
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "c"}}, ConsistentRead=True)
    return int(item["Item"]["n"]["N"])


def bump(dynamodb) -> None:
    dynamodb.update_item(
        TableName=TABLE,
        Key={"id": {"S": "c"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


@pytest.fixture
def emulator(tmp_path):
    emulator = Emulator(tmp_path / "state")
    emulator.start()
    yield emulator
    if emulator.process.poll() is None:
        emulator.stop(signal.SIGKILL)


def test_writes_survive_sigkill_a_torn_journal_and_a_clean_restart(emulator):
    s3, dynamodb = emulator.client("s3"), emulator.client("dynamodb")
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3.put_object(Bucket=BUCKET, Key="a/video.mp4", Body=b"\x00video" * 1000)
    s3.put_object(Bucket=BUCKET, Key="a/gone", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="a/gone")
    for _ in range(3):
        bump(dynamodb)
    sqs = emulator.client("sqs")
    sqs.create_queue(QueueName="not-kept")

    emulator.stop(signal.SIGKILL)  # no snapshot: everything is in the journal
    journal = next(emulator.state_dir.glob("journal-*.log"))
    with journal.open("ab") as file:
        file.write(b"\x80\x05\x95 torn")  # a write cut short by the kill
    emulator.start()
    stored = s3.get_object(Bucket=BUCKET, Key="a/video.mp4")["Body"].read()
    assert stored == b"\x00video" * 1000
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == ["a/video.mp4"]
    assert counter(dynamodb) == 3  # each ADD applied once, the torn record dropped
    assert sqs.list_queues().get("QueueUrls", []) == []

    bump(dynamodb)
    emulator.stop()  # SIGTERM: a snapshot, an empty journal
    assert [p.stat().st_size for p in emulator.state_dir.glob("journal-*.log")] == [0]
    emulator.start()
    assert counter(dynamodb) == 4
    assert s3.get_object(Bucket=BUCKET, Key="a/video.mp4")["ContentLength"] == 6000


def test_a_second_emulator_on_the_same_state_is_refused(emulator):
    second = subprocess.run(
        [sys.executable, "-m", "infra.emulator", "--port", str(free_port()),
         "--state-dir", str(emulator.state_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode != 0 and "another emulator is using" in second.stderr


def test_wipe_forgets_everything(emulator):
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    emulator.stop()
    wiped = subprocess.run(
        [sys.executable, "-m", "infra.emulator", "--wipe", "--state-dir", str(emulator.state_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert wiped.returncode == 0 and not emulator.state_dir.exists()
    emulator.start()
    assert emulator.client("s3").list_buckets()["Buckets"] == []


def object_keys(s3) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def flip(path, at: int, n: int) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + n] = bytes(b ^ 0x5A for b in data[at : at + n])
    path.write_bytes(bytes(data))


def journal_after_sigkill(emulator):
    """The journal, which holds every write once the emulator is killed (no snapshot)."""
    emulator.stop(signal.SIGKILL)
    return next(emulator.state_dir.glob("journal-*.log"))


def errors_of(emulator):
    emulator.stop()
    return [line["msg"] for line in emulator.log() if line["level"] == "ERROR"]


def test_16_damaged_bytes_in_the_journal_restore_exactly_the_writes_before_them(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    keys = [f"k/{i:03d}" for i in range(99)]  # with the bucket: 100 journaled writes
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=bytes([i]) * (100 + 20 * i))
    journal = journal_after_sigkill(emulator)
    ends = [reader.end for reader in [JournalReader(journal)] for _ in reader]
    assert len(ends) == 100
    middle = journal.stat().st_size // 2
    before = sum(end <= middle for end in ends)  # records wholly before the damage
    flip(journal, middle, 16)
    damaged = journal.read_bytes()
    emulator.start()

    assert object_keys(s3) == keys[: before - 1]  # exactly the writes before the damage
    (error,) = errors_of(emulator)
    assert f"replayed the {before} records before the damage" in error
    assert f"and {100 - before - 1} intact records after it" in error
    (kept,) = emulator.state_dir.parent.glob("state-journal-*-damaged-*.log")
    assert str(kept) in error and kept.read_bytes() == damaged


def test_a_journaled_object_whose_bytes_were_damaged_is_not_restored(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    video = bytes(range(256)) * 400
    s3.put_object(Bucket=BUCKET, Key="before.txt", Body=b"first")
    s3.put_object(Bucket=BUCKET, Key="video.mp4", Body=video)
    s3.put_object(Bucket=BUCKET, Key="after.txt", Body=b"last")

    journal = journal_after_sigkill(emulator)
    flip(journal, journal.read_bytes().index(video) + len(video) // 2, 16)
    emulator.start()
    assert object_keys(s3) == ["before.txt"]  # the video is refused, not stored damaged
    (error,) = errors_of(emulator)
    assert "replayed the 2 records before the damage" in error and "checksum" in error
