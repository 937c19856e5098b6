"""Page tokens of the REST lists (``GET /video/jobs``, ``GET /video/search``): the last item
shown (a cursor), signed (HMAC-SHA256 with the deployment's signing key) together with the scope
it belongs to, the tenant and the filters or query, so a token cannot be edited into another
tenant's items or replayed with other filters. ``base64url(cursor JSON "\\n" mac)``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from chalicelib.errors import InvalidToken

MAX_TOKEN_CHARS = 400
_MAC_CHARS = 32


class SignedCursors:
    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, scope: Sequence[Any], payload: str) -> bytes:
        message = json.dumps([*scope, payload]).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:_MAC_CHARS].encode()

    def issue(self, scope: Sequence[Any], cursor: Sequence[Any]) -> str:
        payload = json.dumps(list(cursor), separators=(",", ":"))
        raw = f"{payload}\n{self._mac(scope, payload).decode()}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, scope: Sequence[Any], token: str | None, refusal: str) -> list[Any] | None:
        """The cursor ``token`` names (None for no token); ``InvalidToken(refusal)`` for one not
        issued for this scope."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
            payload, mac = raw.rsplit("\n", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            payload, mac = "", ""
        # as bytes: compare_digest refuses a str with anything but ASCII in it
        if len(token) > MAX_TOKEN_CHARS or not hmac.compare_digest(
            mac.encode(), self._mac(scope, payload)
        ):
            raise InvalidToken(refusal)
        return list(json.loads(payload))
