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
* The library page (``GET /video/library``): likewise, ``POST /video/library/link`` gives a
  link carrying a *library token* (``lt1.<expiry>.<tenant>.<mac>``, bound to the tenant and to
  that purpose, valid ``view_url_expiry_s``). The page sends it as its Bearer token to the few
  read-only routes that opt in (``library=True``: the list, search, view links); every other
  route refuses it, as the viewer's token opens only its job's status and results.
* POST / (Rekognition): SigV4 against the tenant's secret (``chalicelib/access/sigv4.py``),
  scoped to the deployment's region and to ``rekognition``, as AWS requires.

With ``VIDEO_JOBS_AUTH=off`` every request is ``PUBLIC``. Decrypted secrets are kept per
container for ``SECRET_CACHE_S`` (a KMS Decrypt per signed request costs more than the check);
revocation still takes effect at once, because the key's row is read on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable

from chalicelib.access.keys import AccessKey, KeyStore, token_hash
from chalicelib.access.secrets import SecretBox
from chalicelib.access.sigv4 import SignedRequest, verify
from chalicelib.errors import Unauthorized, UnknownAccessKey
from chalicelib.jobs.tenancy import PUBLIC, TENANT_NAME, Caller
from chalicelib.metrics import Metrics

VIEW_TOKEN_PREFIX = "vt1."
LIBRARY_TOKEN_PREFIX = "lt1."
EXPIRY_DIGITS = 12  # a token's expiry is a Unix time: 12 digits last until the year 33658


def _token_pattern(prefix: str) -> re.Pattern[str]:
    """The one spelling of a link's token: ASCII digits with no leading zero (so no other
    digits, sign, padding or 5000-digit number reaches int()), the tenant's name, 32 lower-case
    hex digits."""
    return re.compile(
        re.escape(prefix)
        + rf"([1-9][0-9]{{0,{EXPIRY_DIGITS - 1}}})\.({TENANT_NAME.pattern})\.([0-9a-f]{{32}})"
    )


VIEW_TOKEN = _token_pattern(VIEW_TOKEN_PREFIX)
LIBRARY_TOKEN = _token_pattern(LIBRARY_TOKEN_PREFIX)
GET_A_VIEW_LINK = "get a new one with `video-jobs view <job_id>`"
GET_A_LIBRARY_LINK = "get a new one with `video-jobs library`"
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
        region: str,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ):
        self.required = required
        self._keys, self._secrets = keys, secrets
        self._view_key, self._view_ttl_s, self._clock = view_key, view_ttl_s, clock
        self._region = region  # the deployment's: SigV4 scopes naming another are refused
        self._cache: dict[tuple[str, bytes], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._metrics = metrics or Metrics()

    def _refuse(self, reason: str, error: Unauthorized) -> Unauthorized:
        """Count a refusal by its reason (the AuthRefusals metric), then hand back the error."""
        self._metrics.put("AuthRefusals", 1, {"Reason": reason})
        return error

    # --- REST --------------------------------------------------------------------------------

    def bearer(
        self, authorization: str | None, *, job_id: str | None = None, library: bool = False
    ) -> Caller:
        """The caller of a REST route. ``job_id``: the route reads that one job, so a view token
        for it is accepted too; ``library``: a read-only route the library page calls, so a
        library token is."""
        if not self.required:
            return PUBLIC
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self._refuse(
                "MissingToken",
                Unauthorized(f"send Authorization: Bearer <api_token> ({HOW_TO_GET_A_TOKEN})"),
            )
        if token.startswith(VIEW_TOKEN_PREFIX) and job_id is not None:
            return self.viewer(token, job_id)
        if token.startswith(LIBRARY_TOKEN_PREFIX) and library:
            return self.library(token)
        tenant = (
            None if len(token) > MAX_TOKEN_CHARS else self._keys.tenant_of_token(token_hash(token))
        )
        if tenant is None:
            raise self._refuse(
                "UnknownToken",
                Unauthorized(
                    f"the API token is not valid: it is wrong or was revoked ({HOW_TO_GET_A_TOKEN})"
                ),
            )
        return Caller(tenant)

    def viewer(self, view_token: str | None, job_id: str) -> Caller:
        """The caller of a viewer link: this job, read only."""
        if not self.required:
            return PUBLIC
        match = VIEW_TOKEN.fullmatch(view_token or "")
        if match is None:
            raise self._refuse(
                "MalformedViewToken",
                Unauthorized(
                    "this viewer link's token is malformed (a view token is "
                    f"{VIEW_TOKEN_PREFIX}<expiry>.<tenant>.<mac>): {GET_A_VIEW_LINK}"
                ),
            )
        expires, tenant, mac = int(match[1]), match[2], match[3]
        good = hmac.compare_digest(mac, self._view_mac(tenant, job_id, expires))
        if good and expires >= self._clock():
            return Caller(tenant, job_id=job_id)
        raise self._refuse(
            "InvalidViewToken",
            Unauthorized(f"this viewer link is not valid or has expired: {GET_A_VIEW_LINK}"),
        )

    def view_token(self, caller: Caller, job_id: str) -> tuple[str, int]:
        """A view token for ``job_id`` (which the caller may see) and its expiry, epoch s; one
        made through a library link ends with that link, so a link cannot outlive its source."""
        expires = int(self._clock()) + self._view_ttl_s
        if caller.until is not None:
            expires = min(expires, caller.until)
        mac = self._view_mac(caller.tenant, job_id, expires)
        return f"{VIEW_TOKEN_PREFIX}{expires}.{caller.tenant}.{mac}", expires

    def library(self, library_token: str | None) -> Caller:
        """The caller of a library link: its tenant's jobs, through the routes that opt in."""
        if not self.required:
            return PUBLIC
        match = LIBRARY_TOKEN.fullmatch(library_token or "")
        if match is None:
            raise self._refuse(
                "MalformedLibraryToken",
                Unauthorized(
                    "this library link's token is malformed (a library token is "
                    f"{LIBRARY_TOKEN_PREFIX}<expiry>.<tenant>.<mac>): {GET_A_LIBRARY_LINK}"
                ),
            )
        expires, tenant, mac = int(match[1]), match[2], match[3]
        good = hmac.compare_digest(mac, self._library_mac(tenant, expires))
        if good and expires >= self._clock():
            return Caller(tenant, until=expires)
        raise self._refuse(
            "InvalidLibraryToken",
            Unauthorized(f"this library link is not valid or has expired: {GET_A_LIBRARY_LINK}"),
        )

    def library_token(self, caller: Caller) -> tuple[str, int]:
        """A library token for the caller's tenant, and its expiry, epoch s."""
        expires = int(self._clock()) + self._view_ttl_s
        mac = self._library_mac(caller.tenant, expires)
        return f"{LIBRARY_TOKEN_PREFIX}{expires}.{caller.tenant}.{mac}", expires

    def _library_mac(self, tenant: str, expires: int) -> str:
        # Another first line than a view token's: neither can pass for the other.
        message = f"library\n{tenant}\n{expires}".encode()
        return hmac.new(self._view_key, message, hashlib.sha256).hexdigest()[:32]

    def _view_mac(self, tenant: str, job_id: str, expires: int) -> str:
        message = f"view\n{tenant}\n{job_id}\n{expires}".encode()
        return hmac.new(self._view_key, message, hashlib.sha256).hexdigest()[:32]

    # --- SigV4 -------------------------------------------------------------------------------

    def signed(self, request: SignedRequest) -> Caller:
        """The caller of POST /, with its key's grants; an Unauthorized error (``Signature*``,
        ``UnknownAccessKey``) if the signature fails."""
        if not self.required:
            return PUBLIC
        found: list[AccessKey] = []

        def secret_of(access_key_id: str) -> str:
            key = self._keys.find(access_key_id)
            if key is None or key.revoked_at is not None:
                raise UnknownAccessKey("The security token included in the request is invalid.")
            found.append(key)
            return self._secret(access_key_id, key.secret_ciphertext)

        try:
            verify(request, secret_of, self._clock(), region=self._region)
        except Unauthorized as error:  # SignatureMissing, ..., UnknownAccessKey
            self._refuse(type(error).__name__, error)
            raise
        key = found[0]
        return Caller(key.tenant, sources=key.sources, topics=key.topics)

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
