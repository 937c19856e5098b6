"""SigV4 verification for the Rekognition-compatible API, with botocore's own signer.

The received request is rebuilt as a botocore ``AWSRequest`` from its method, path, the headers
the client says it signed, and its body; ``SigV4Auth`` then computes the canonical request, the
string to sign and the signature at the request's own ``X-Amz-Date`` (pinned through the
request context, as ``add_auth`` would set it), and the two signatures are compared in constant
time. Refusals are the neutral ``Signature*`` errors (``chalicelib/errors.py``); ``app.py`` gives
them the codes AWS answers with.

As on AWS, the credential scope must name the endpoint's region (the deployment's) and the
service (``rekognition``, what botocore signs with), its date must be ``X-Amz-Date``'s day, and
``host`` and ``x-amz-target`` (which names the operation) must be signed. Every field is parsed
as ASCII of a bounded length before anything converts or compares it: a regex digit class and
``strptime`` take other scripts' digits, and ``hmac.compare_digest`` raises on a non-ASCII string.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalicelib.errors import (
    SignatureIncomplete,
    SignatureMismatch,
    SignatureMissing,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rekognition"
MAX_SKEW_S = 300  # X-Amz-Date may be this far from the server's clock, either way
REQUIRED_SIGNED = {"host": "Host", "x-amz-target": "X-Amz-Target"}  # name -> AWS's spelling
_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)=([^,\s]*)\s*", re.ASCII)
_SCOPE = re.compile(
    r"([A-Za-z0-9]{1,128})/([0-9]{8})/([a-z0-9-]{1,32})/([a-z0-9-]{1,32})/aws4_request"
)
_HEADER_NAME = r"[a-z0-9!#$%&'*+.^_`|~-]{1,64}"  # an HTTP token, lower case as SigV4 wants
_SIGNED_HEADERS = re.compile(rf"{_HEADER_NAME}(?:;{_HEADER_NAME}){{0,63}}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")  # a signature, a payload hash
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method."
)


@dataclass(frozen=True)
class SignedRequest:
    method: str
    paths: tuple[str, ...]  # the path as the client may have signed it (with a stage prefix)
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True)
class Signature:
    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str | None) -> Signature:
    if not header:
        raise SignatureMissing("Missing Authentication Token: sign the request with SigV4")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureIncomplete(f"Authorization header must use {ALGORITHM} (SigV4)")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        if match := _FIELD.fullmatch(part):
            fields[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise SignatureIncomplete(f"Authorization header requires {', '.join(missing)}")
    scope = _SCOPE.fullmatch(fields["Credential"])
    if scope is None:
        raise SignatureIncomplete(
            "Credential must be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request"
        )
    if not _SIGNED_HEADERS.fullmatch(fields["SignedHeaders"]):
        raise SignatureIncomplete("SignedHeaders must be lower-case header names separated by ';'")
    signed = tuple(fields["SignedHeaders"].split(";"))
    for name, spelling in REQUIRED_SIGNED.items():
        if name not in signed:
            raise SignatureIncomplete(
                f"'{spelling}' must be a 'SignedHeader' in the AWS Authorization."
            )
    if not _HEX_SHA256.fullmatch(fields["Signature"]):
        raise SignatureIncomplete("Signature must be 64 lower-case hexadecimal digits")
    key_id, date, region, service = scope.groups()
    return Signature(key_id, date, region, service, signed, fields["Signature"])


def check_date(amz_date: str | None, now: float) -> None:
    if not amz_date:
        raise SignatureIncomplete("the request has no X-Amz-Date header")
    try:
        if not _AMZ_DATE.fullmatch(amz_date):  # strptime alone takes "٢٠٢٦..." and "2026111T..."
            raise ValueError(amz_date)
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise SignatureIncomplete(f"X-Amz-Date {amz_date[:40]!r} is not YYYYMMDDTHHMMSSZ") from None
    if abs(now - signed_at) > MAX_SKEW_S:
        server = datetime.fromtimestamp(now, UTC).strftime(SIGV4_TIMESTAMP)
        raise SignatureMismatch(
            f"Signature expired: {amz_date} is more than 5 min. away from the server's time "
            f"({server}); check the client's clock",
        )


def check_payload(request: SignedRequest) -> None:
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed is None:
        return  # the payload's hash is part of the canonical request anyway
    if not _HEX_SHA256.fullmatch(claimed) or not hmac.compare_digest(
        claimed, hashlib.sha256(request.body).hexdigest()
    ):
        raise SignatureMismatch(
            "The provided x-amz-content-sha256 header does not match what was computed.",
        )


def expected_signature(
    request: SignedRequest, signature: Signature, secret: str, path: str, amz_date: str
) -> str:
    headers = {name: request.headers.get(name, "") for name in signature.signed_headers}
    rebuilt = AWSRequest(
        method=request.method,
        url=f"https://{headers['host']}{path}",
        headers=headers,
        data=request.body,
        params=dict(request.query),
    )
    rebuilt.context["timestamp"] = amz_date
    credentials = Credentials(signature.access_key_id, secret)
    signer = SigV4Auth(credentials, signature.service, signature.region)
    try:
        canonical = signer.canonical_request(rebuilt)
    except ValueError:  # urlsplit refuses the Host header (e.g. "[abc": "Invalid IPv6 URL")
        raise SignatureIncomplete("the Host header is not a host name") from None
    return signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)


def check_scope(signature: Signature, amz_date: str, region: str) -> None:
    """AWS's checks of the credential scope, with AWS's words."""
    if signature.date != amz_date[:8]:
        raise SignatureMismatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{signature.date}' != '{amz_date[:8]}', from 'x-amz-date'."
        )
    if signature.region != region:
        raise SignatureMismatch(
            f"Credential should be scoped to a valid region, not '{signature.region}'. This "
            f"endpoint is in '{region}': create the client with region_name='{region}'."
        )
    if signature.service != SERVICE:
        raise SignatureMismatch(f"Credential should be scoped to correct service: '{SERVICE}'.")


def verify(
    request: SignedRequest,
    secret_of: Callable[[str], str],
    now: float,
    *,
    region: str,
) -> Signature:
    """The checked signature, scoped to ``region`` (the deployment's);
    ``secret_of(access_key_id)`` raises for an unknown key."""
    signature = parse_authorization(request.headers.get("authorization"))
    amz_date = request.headers.get("x-amz-date")
    check_date(amz_date, now)
    assert amz_date is not None
    check_scope(signature, amz_date, region)
    secret = secret_of(signature.access_key_id)
    check_payload(request)
    for path in request.paths:
        expected = expected_signature(request, signature, secret, path, amz_date)
        if hmac.compare_digest(expected, signature.signature):
            return signature
    raise SignatureMismatch(MISMATCH)
