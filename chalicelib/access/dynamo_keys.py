"""``DynamoKeyStore``: access keys as items of the jobs table (see ``chalicelib/access/keys.py``).

``key#<access_key_id>`` holds the tenant, the KMS-encrypted secret, the token hash, the dates and
the grants (S3 locations and SNS topics);
``token#<sha256(api_token)>`` names the tenant and key, so a Bearer check is one GetItem. Neither
has a ``status`` or an ``expires_at``: the reconcile scan and the job TTL pass them by.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.models import Model

from chalicelib.access.keys import AccessKey, KeyStore
from chalicelib.access.secrets import decode_blob, encode_blob
from chalicelib.adapters.dynamo import table_meta

KEY_PREFIX, TOKEN_PREFIX = "key#", "token#"


def _models(table_name: str, region: str, host: str | None) -> tuple[Any, Any]:
    meta = table_meta(table_name, region, host)

    class AccessKeyRow(Model):
        Meta = meta  # type: ignore[assignment]  # pynamodb reads it as a plain class
        item_id = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key
        tenant = UnicodeAttribute()
        secret_ciphertext = UnicodeAttribute()  # base64 of the KMS ciphertext
        token_hash = UnicodeAttribute()
        created_at = UnicodeAttribute()
        revoked_at = UnicodeAttribute(null=True)
        sources = ListAttribute(of=UnicodeAttribute, null=True)  # absent on older keys: none
        topics = ListAttribute(of=UnicodeAttribute, null=True)

    class TokenRow(Model):
        Meta = meta  # type: ignore[assignment]
        item_id = UnicodeAttribute(hash_key=True, attr_name="job_id")
        tenant = UnicodeAttribute()
        access_key_id = UnicodeAttribute()

    return AccessKeyRow, TokenRow


class DynamoKeyStore(KeyStore):
    def __init__(self, table_name: str, *, region: str, host: str | None = None):
        self._keys, self._tokens = _models(table_name, region, host)

    def _record(self, row: Any) -> AccessKey:
        return AccessKey(
            access_key_id=row.item_id.removeprefix(KEY_PREFIX),
            tenant=row.tenant,
            secret_ciphertext=decode_blob(row.secret_ciphertext),
            token_hash=row.token_hash,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            sources=tuple(row.sources or ()),
            topics=tuple(row.topics or ()),
        )

    def add(self, key: AccessKey) -> None:
        row = self._keys(
            KEY_PREFIX + key.access_key_id,
            tenant=key.tenant,
            secret_ciphertext=encode_blob(key.secret_ciphertext),
            token_hash=key.token_hash,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            sources=list(key.sources),
            topics=list(key.topics),
        )
        row.save(condition=self._keys.item_id.does_not_exist())
        if key.revoked_at is None:
            token = self._tokens(
                TOKEN_PREFIX + key.token_hash, tenant=key.tenant, access_key_id=key.access_key_id
            )
            token.save(condition=self._tokens.item_id.does_not_exist())

    def find(self, access_key_id: str) -> AccessKey | None:
        try:
            return self._record(self._keys.get(KEY_PREFIX + access_key_id, consistent_read=True))
        except DoesNotExist:
            return None

    def tenant_of_token(self, digest: str) -> str | None:
        try:
            return self._tokens.get(TOKEN_PREFIX + digest, consistent_read=True).tenant
        except DoesNotExist:
            return None

    def all(self) -> list[AccessKey]:
        rows = self._keys.scan(self._keys.item_id.startswith(KEY_PREFIX), consistent_read=True)
        return sorted((self._record(row) for row in rows), key=lambda key: key.created_at)

    def revoke(self, access_key_id: str, when: str) -> AccessKey | None:
        key = self.find(access_key_id)
        if key is None:
            return None
        self._tokens(TOKEN_PREFIX + key.token_hash).delete()  # the token stops working first
        if key.revoked_at is None:
            row = self._keys(KEY_PREFIX + access_key_id)
            try:
                row.update(
                    actions=[self._keys.revoked_at.set(when)],
                    condition=self._keys.item_id.exists(),
                )
            except UpdateError:  # deleted meanwhile: nothing left to revoke
                return None
        return self.find(access_key_id)
