"""Helpers for access-control tests: a reversible secret box, and a SigV4 signer at any time."""

from __future__ import annotations

import datetime
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class ReversibleBox:
    """A SecretBox that needs no KMS: the ciphertext names the key id it belongs to."""

    def __init__(self) -> None:
        self.decrypts = 0

    def encrypt(self, access_key_id: str, secret: str) -> bytes:
        return f"{access_key_id}:{secret}".encode()[::-1]

    def decrypt(self, access_key_id: str, ciphertext: bytes) -> str:
        self.decrypts += 1
        owner, _, secret = ciphertext[::-1].decode().partition(":")
        assert owner == access_key_id, "a ciphertext decrypted for another key"
        return secret


def signed_headers(
    url: str,
    body: bytes,
    access_key_id: str,
    secret: str,
    *,
    at: datetime.datetime | None = None,
    target: str = "RekognitionService.GetLabelDetection",
    region: str = "us-east-1",
    service: str = "rekognition",
    extra: dict[str, str] | None = None,
    unsigned: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers botocore's signer gives a Rekognition request to ``url``, signed at ``at``
    (now by default): a replay from the past is one with an old ``at``. ``unsigned``: headers
    added after signing (so SignedHeaders leaves them out)."""
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": target,
        **(extra or {}),
    }
    for name in unsigned or {}:
        headers.pop(name, None)
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    signer = SigV4Auth(Credentials(access_key_id, secret), service, region)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(request)
    return {**dict(request.headers.items()), **(unsigned or {})}
