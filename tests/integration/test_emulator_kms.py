"""The emulator keeps its KMS key (the one that encrypts access keys' secrets) across SIGKILL: a
secret encrypted before the crash decrypts after the restart."""

import signal
import socket
import subprocess
import sys
import time

import boto3

from tests.support.servers import free_port

ALIAS = "alias/video-jobs-keys"


def start(port: int, state_dir) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.emulator", "--port", str(port), "--state-dir",
         str(state_dir)],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "the emulator exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        assert time.monotonic() < deadline
        time.sleep(0.05)


def kms(port: int):
    return boto3.client(
        "kms", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip


def test_the_kms_key_survives_a_sigkill(tmp_path):
    port = free_port()
    process = start(port, tmp_path)
    try:
        client = kms(port)
        key_id = client.create_key()["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
        context = {"access_key_id": "VJTEST"}
        blob = client.encrypt(KeyId=ALIAS, Plaintext=b"s3cret", EncryptionContext=context)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    process = start(port, tmp_path)
    try:
        answer = kms(port).decrypt(
            CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context, KeyId=ALIAS
        )
        assert answer["Plaintext"] == b"s3cret"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
