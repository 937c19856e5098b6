"""Pagination tokens for Get*: opaque, bound to one job and one view of its results, and signed.

A token is ``base64url(offset "." mac)``, where the MAC (HMAC-SHA256 with the deployment's
pagination key, truncated to 16 bytes) covers the job id, the view (operation, sort order,
aggregation) and the offset. A token from another job or view, or an edited one, fails the check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from chalicelib.errors import InvalidToken

_MAC_BYTES = 16


def _mac(key: bytes, job_id: str, view: str, offset: int) -> str:
    message = f"{job_id}\n{view}\n{offset}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[: 2 * _MAC_BYTES]


def issue(key: bytes, job_id: str, view: str, offset: int) -> str:
    raw = f"{offset}.{_mac(key, job_id, view, offset)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read(key: bytes, job_id: str, view: str, token: str | None) -> int:
    """The offset a token names; 0 for no token (or ``""``, which some callers send first)."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        offset_text, mac = raw.split(".")
        offset = int(offset_text) if offset_text.isdigit() and len(offset_text) < 10 else -1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        offset, mac = -1, ""
    if offset < 0 or not hmac.compare_digest(mac, _mac(key, job_id, view, offset)):
        raise invalid_token()
    return offset


def invalid_token() -> InvalidToken:
    return InvalidToken(
        "NextToken is not a token this API issued for this job and request: pass back the "
        "NextToken of the previous page unchanged, with the same JobId, SortBy and AggregateBy",
    )
