"""Who is calling: the one place that turns a request's credentials into a ``Caller``.

``app.py`` asks the ``Authenticator`` (built by the composition root) once per request:

* REST routes: ``Authorization: Bearer <api_token>``. The token's SHA-256 names its tenant (one
  lookup; the hash of a 256-bit random token leaks nothing through timing). Missing, unknown or
  revoked: ``Unauthorized``.
* The viewer: a browser navigation cannot send a header, so ``video-jobs view`` asks
  ``POST /video/view/{id}/link`` for a link carrying a *view token*
  (``vt1.<expiry>.<tenant>.<mac>``, an HMAC bound to one job and tenant, valid
  ``view_url_expiry_s``). The page sends it back as its Bearer token when it fetches that job's
  status and results; it opens nothing else.
* POST / (Rekognition): SigV4 against the tenant's secret (``chalicelib/access/sigv4.py``).

With ``VIDEO_JOBS_AUTH=off`` every request is ``PUBLIC``. Decrypted secrets are kept per
container for ``SECRET_CACHE_S`` (a KMS Decrypt per signed request costs more than the check);
revocation still takes effect at once, because the key's row is read on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from chalicelib.access.keys import KeyStore, token_hash
from chalicelib.access.secrets import SecretBox
from chalicelib.access.sigv4 import SignedRequest, verify
from chalicelib.errors import Unauthorized, UnknownAccessKey
from chalicelib.jobs.tenancy import PUBLIC, TENANT_NAME, Caller

VIEW_TOKEN_PREFIX = "vt1."
SECRET_CACHE_S = 300
MAX_TOKEN_CHARS = 512
HOW_TO_GET_A_TOKEN = "an operator creates one with `make key TENANT=<name>`"


def view_key(signing_key: bytes) -> bytes:
    """The view-token key, derived from the deployment's signing key (another purpose, so
    another key)."""
    return hmac.new(signing_key, b"video-jobs view tokens", hashlib.sha256).digest()


class Authenticator:
    def __init__(
        self,
        *,
        required: bool,
        keys: KeyStore,
        secrets: Callable[[], SecretBox],
        view_key: bytes,
        view_ttl_s: int,
        clock: Callable[[], float] = time.time,
    ):
        self.required = required
        self._keys, self._secrets = keys, secrets
        self._view_key, self._view_ttl_s, self._clock = view_key, view_ttl_s, clock
        self._cache: dict[tuple[str, bytes], tuple[float, str]] = {}
        self._lock = threading.Lock()

    # --- REST --------------------------------------------------------------------------------

    def bearer(self, authorization: str | None, *, job_id: str | None = None) -> Caller:
        """The caller of a REST route. ``job_id``: the route reads that one job, so a view token
        for it is accepted too."""
        if not self.required:
            return PUBLIC
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(f"send Authorization: Bearer <api_token> ({HOW_TO_GET_A_TOKEN})")
        if token.startswith(VIEW_TOKEN_PREFIX) and job_id is not None:
            return self.viewer(token, job_id)
        tenant = (
            None if len(token) > MAX_TOKEN_CHARS else self._keys.tenant_of_token(token_hash(token))
        )
        if tenant is None:
            raise Unauthorized(
                f"the API token is not valid: it is wrong or was revoked ({HOW_TO_GET_A_TOKEN})"
            )
        return Caller(tenant)

    def viewer(self, view_token: str | None, job_id: str) -> Caller:
        """The caller of a viewer link: this job, read only."""
        if not self.required:
            return PUBLIC
        parts = (view_token or "").removeprefix(VIEW_TOKEN_PREFIX).split(".")
        if len(parts) == 3 and parts[0].isdigit() and TENANT_NAME.fullmatch(parts[1]):
            expires, tenant, mac = int(parts[0]), parts[1], parts[2]
            good = hmac.compare_digest(mac, self._view_mac(tenant, job_id, expires))
            if good and expires >= self._clock():
                return Caller(tenant, job_id=job_id)
        raise Unauthorized(
            "this viewer link is not valid or has expired: get a new one with "
            "`video-jobs view <job_id>`"
        )

    def view_token(self, caller: Caller, job_id: str) -> tuple[str, int]:
        """A view token for ``job_id`` (which the caller may see) and its expiry, epoch s."""
        expires = int(self._clock()) + self._view_ttl_s
        mac = self._view_mac(caller.tenant, job_id, expires)
        return f"{VIEW_TOKEN_PREFIX}{expires}.{caller.tenant}.{mac}", expires

    def _view_mac(self, tenant: str, job_id: str, expires: int) -> str:
        message = f"view\n{tenant}\n{job_id}\n{expires}".encode()
        return hmac.new(self._view_key, message, hashlib.sha256).hexdigest()[:32]

    # --- SigV4 -------------------------------------------------------------------------------

    def signed(self, request: SignedRequest) -> Caller:
        """The caller of POST /; an Unauthorized error (``Signature*``, ``UnknownAccessKey``) if
        the signature fails."""
        if not self.required:
            return PUBLIC
        tenant: list[str] = []

        def secret_of(access_key_id: str) -> str:
            key = self._keys.find(access_key_id)
            if key is None or key.revoked_at is not None:
                raise UnknownAccessKey("The security token included in the request is invalid.")
            tenant.append(key.tenant)
            return self._secret(access_key_id, key.secret_ciphertext)

        verify(request, secret_of, self._clock())
        return Caller(tenant[0])

    def _secret(self, access_key_id: str, ciphertext: bytes) -> str:
        now, entry = self._clock(), (access_key_id, ciphertext)
        with self._lock:
            cached = self._cache.get(entry)
        if cached is not None and cached[0] > now:
            return cached[1]
        secret = self._secrets().decrypt(access_key_id, ciphertext)
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[entry] = (now + SECRET_CACHE_S, secret)
        return secret
