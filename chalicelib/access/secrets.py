"""Access keys' secrets at rest: encrypted under one KMS key (moto's locally), never in clear.

The server needs a SigV4 secret itself to recompute a signature, so it cannot keep only a hash;
``SecretBox`` is what the authenticator and ``infra.keys`` see, ``KmsSecretBox`` the one on AWS.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol


class SecretBox(Protocol):
    def encrypt(self, access_key_id: str, secret: str) -> bytes: ...

    def decrypt(self, access_key_id: str, ciphertext: bytes) -> str: ...


class KmsSecretBox:
    """Secrets encrypted under one KMS key; the access key id is the encryption context, so a
    ciphertext copied onto another key's row does not decrypt."""

    def __init__(self, kms: Any, key_id: str):
        self._kms, self._key_id = kms, key_id

    def encrypt(self, access_key_id: str, secret: str) -> bytes:
        answer = self._kms.encrypt(
            KeyId=self._key_id,
            Plaintext=secret.encode(),
            EncryptionContext={"access_key_id": access_key_id},
        )
        return answer["CiphertextBlob"]

    def decrypt(self, access_key_id: str, ciphertext: bytes) -> str:
        answer = self._kms.decrypt(
            KeyId=self._key_id,
            CiphertextBlob=ciphertext,
            EncryptionContext={"access_key_id": access_key_id},
        )
        return answer["Plaintext"].decode()


def encode_blob(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def decode_blob(text: str) -> bytes:
    return base64.b64decode(text)
