"""Access keys: the ``KeyStore`` port and its in-memory adapter (secrets: ``secrets.py``).

A tenant's key has three parts (``python -m infra.keys create`` makes them):

* ``access_key_id`` (public, like an AWS one) and ``secret_access_key``: SigV4 signatures on the
  Rekognition-compatible API. The server needs the secret itself to recompute a signature, so it
  keeps it encrypted with KMS (bound to the key id by the encryption context), never in clear.
* ``api_token``: ``Authorization: Bearer`` on the REST routes. 256 random bits, so the server keeps
  only its SHA-256 (no slow hash is needed for a secret nobody can guess) and finds it by that.

A key also carries its grants: the S3 locations its tenant's Start* requests may analyze
(``sources``, ``s3://bucket/prefix``) and the SNS topics a ``NotificationChannel`` may name
(``topics``). None granted: none allowed.

In DynamoDB (``chalicelib/access/dynamo_keys.py``) a key is two items in the jobs table, under
partition keys that can never be job ids: ``key#<access_key_id>`` and ``token#<sha256(api_token)>``.
Revoking marks the first and deletes the second, so both halves stop working at once.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any


def token_hash(api_token: str) -> str:
    return hashlib.sha256(api_token.encode()).hexdigest()


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    tenant: str
    secret_ciphertext: bytes  # the secret access key, encrypted by a SecretBox
    token_hash: str  # SHA-256 of the API token, hex
    created_at: str
    revoked_at: str | None = None
    sources: tuple[str, ...] = ()  # S3 locations Start* may analyze (s3://bucket/prefix)
    topics: tuple[str, ...] = ()  # SNS topic ARNs a NotificationChannel may name

    def listing(self) -> dict[str, Any]:
        """What ``infra.keys list`` prints: never the secret, nor the token's hash."""
        return {
            "tenant": self.tenant,
            "access_key_id": self.access_key_id,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "sources": list(self.sources),
            "topics": list(self.topics),
        }


class KeyStore(ABC):
    @abstractmethod
    def add(self, key: AccessKey) -> None:
        """Store a new key (its access key id and token hash are fresh random values)."""

    @abstractmethod
    def find(self, access_key_id: str) -> AccessKey | None:
        """The key, revoked or not; None if there is no such key."""

    @abstractmethod
    def tenant_of_token(self, digest: str) -> str | None:
        """The tenant whose live key has this API token hash; None for none (or revoked)."""

    @abstractmethod
    def all(self) -> list[AccessKey]:
        """Every key, revoked ones included."""

    @abstractmethod
    def revoke(self, access_key_id: str, when: str) -> AccessKey | None:
        """Mark the key revoked and forget its token; the key, or None if there is none."""


class InMemoryKeyStore(KeyStore):
    def __init__(self) -> None:
        self._keys: dict[str, AccessKey] = {}
        self._tokens: dict[str, str] = {}  # token hash -> access key id
        self._lock = threading.Lock()

    def add(self, key: AccessKey) -> None:
        with self._lock:
            self._keys[key.access_key_id] = copy.deepcopy(key)
            self._tokens[key.token_hash] = key.access_key_id

    def find(self, access_key_id: str) -> AccessKey | None:
        with self._lock:
            return copy.deepcopy(self._keys.get(access_key_id))

    def tenant_of_token(self, digest: str) -> str | None:
        with self._lock:
            key_id = self._tokens.get(digest)
            return None if key_id is None else self._keys[key_id].tenant

    def all(self) -> list[AccessKey]:
        with self._lock:
            return copy.deepcopy(list(self._keys.values()))

    def revoke(self, access_key_id: str, when: str) -> AccessKey | None:
        with self._lock:
            key = self._keys.get(access_key_id)
            if key is None:
                return None
            self._tokens.pop(key.token_hash, None)
            self._keys[access_key_id] = replace(key, revoked_at=key.revoked_at or when)
            return copy.deepcopy(self._keys[access_key_id])
