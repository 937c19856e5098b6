"""The Authenticator on fakes: Bearer tokens, viewer links, SigV4 (signed by botocore), the
secret cache, and the per-tenant limit and idempotency scope in Submissions."""

from __future__ import annotations

import datetime
import hashlib
import json

import pytest

from chalicelib import errors
from chalicelib.access.authenticator import Authenticator
from chalicelib.access.keys import InMemoryKeyStore
from chalicelib.access.sigv4 import SignedRequest
from chalicelib.jobs.record import utc_now
from chalicelib.jobs.tenancy import PUBLIC, Caller
from chalicelib.metrics import Metrics
from infra.keys import create
from tests.support.auth import ReversibleBox, signed_headers

NOW = 1_780_000_000.0
REGION = "us-east-1"  # the deployment's (what tests.support.auth signs for by default)
# the neutral errors a refused signature raises (app.py gives them AWS's codes)
INCOMPLETE_SIGNATURE, INVALID_SIGNATURE = errors.SignatureIncomplete, errors.SignatureMismatch
MISSING_AUTHENTICATION, UNRECOGNIZED_CLIENT = errors.SignatureMissing, errors.UnknownAccessKey
JOB = "0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"
BODY = json.dumps({"JobId": JOB}).encode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts():
    keys, box, clock = InMemoryKeyStore(), ReversibleBox(), Clock()
    auth = Authenticator(
        required=True,
        keys=keys,
        secrets=lambda: box,
        view_key=b"k" * 32,
        view_ttl_s=600,
        region=REGION,
        clock=clock,
    )
    return auth, keys, box, clock


def at(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)


def signed(key: dict, *, when: float = NOW, secret: str | None = None, path: str = "/", **kw):
    url = f"http://127.0.0.1:8109{path}"
    headers = signed_headers(
        url,
        kw.pop("body", BODY),
        key["access_key_id"],
        secret or key["secret_access_key"],
        at=at(when),
        **kw,
    )
    headers["Host"] = "127.0.0.1:8109"  # what the HTTP client sends (and signed)
    return headers


def request(headers: dict, body: bytes = BODY, paths=("/",)) -> SignedRequest:
    lower = {name.lower(): value for name, value in headers.items()}
    return SignedRequest("POST", tuple(paths), {}, lower, body)


def code_of(call) -> tuple[type, str]:
    """The neutral error a refused signature raises (app.py gives it AWS's code)."""
    with pytest.raises(errors.Unauthorized) as caught:
        call()
    return type(caught.value), caught.value.message


# --- Bearer ---------------------------------------------------------------------------------


def test_auth_off_makes_everyone_the_public_caller(parts):
    _, keys, box, _ = parts
    off = Authenticator(
        required=False, keys=keys, secrets=lambda: box, view_key=b"k", view_ttl_s=1, region=REGION
    )
    assert off.bearer(None) is PUBLIC and off.signed(request({})) is PUBLIC
    assert PUBLIC.may_see("acme", JOB)


def test_a_live_token_names_its_tenant(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    assert auth.bearer(f"Bearer {key['api_token']}") == Caller("acme")
    assert auth.bearer(f"bearer   {key['api_token']} ") == Caller("acme")


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer nope", "x" * 9000]
)
def test_missing_or_wrong_tokens_are_unauthorized(parts, header):
    auth, keys, box, _ = parts
    create(keys, box, "acme")
    with pytest.raises(errors.Unauthorized, match="make key TENANT"):
        auth.bearer(header)


def test_a_revoked_token_is_unauthorized(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    keys.revoke(key["access_key_id"], utc_now())
    with pytest.raises(errors.Unauthorized, match="revoked"):
        auth.bearer(f"Bearer {key['api_token']}")


def test_the_store_keeps_only_the_tokens_hash_and_an_encrypted_secret(parts):
    _, keys, box, _ = parts
    key = create(keys, box, "acme")
    (stored,) = keys.all()
    assert stored.token_hash == hashlib.sha256(key["api_token"].encode()).hexdigest()
    assert key["secret_access_key"].encode() not in stored.secret_ciphertext
    assert key["api_token"] not in json.dumps(stored.listing())


def test_tenant_names_are_checked():
    with pytest.raises(ValueError, match="lower-case"):
        create(InMemoryKeyStore(), ReversibleBox(), "Acme Corp")


# --- viewer links ----------------------------------------------------------------------------


def test_a_view_token_opens_one_job_of_its_tenant_until_it_expires(parts):
    auth, _, _, clock = parts
    token, expires = auth.view_token(Caller("acme"), JOB)
    assert expires == NOW + 600
    caller = auth.viewer(token, JOB)
    assert caller == Caller("acme", job_id=JOB)
    assert caller.may_see("acme", JOB) and not caller.may_see("acme", "other-job")
    assert auth.bearer(f"Bearer {token}", job_id=JOB) == caller
    clock.now = NOW + 601
    with pytest.raises(errors.Unauthorized, match="expired"):
        auth.viewer(token, JOB)


def test_a_view_token_for_another_job_or_edited_is_refused(parts):
    auth, _, _, _ = parts
    token, _ = auth.view_token(Caller("acme"), JOB)
    other = "1b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"
    for bad in (token.replace("acme", "evil"), token[:-1] + "0", "vt1.garbage"):
        with pytest.raises(errors.Unauthorized):
            auth.viewer(bad, JOB)
    with pytest.raises(errors.Unauthorized):
        auth.viewer(token, other)
    with pytest.raises(errors.Unauthorized):  # not on a route that writes (no job_id given)
        auth.bearer(f"Bearer {token}")


ARABIC_INDIC_ZERO = "\u0660"  # '١٢٣' is 123 to int(); the valid MAC goes with it


def _spelled(digits: str, zero: str) -> str:
    """``digits`` in another script whose zero is ``zero`` (int() reads them all the same)."""
    return digits.translate({ord("0") + i: ord(zero) + i for i in range(10)})


# name -> a view token built from a valid one (expiry E, MAC M); every one must be a 401
MALFORMED_VIEW_TOKENS = {
    "superscript digit": lambda e, m: f"vt1.\u00b2.acme.{m}",  # '²'.isdigit(), int() refuses
    "5000-digit expiry": lambda e, m: f"vt1.{'9' * 5000}.acme.{m}",  # int()'s 4300-digit limit
    "100k-digit expiry": lambda e, m: f"vt1.{'1' * 100_000}.acme.{m}",
    "13-digit expiry": lambda e, m: f"vt1.{'1' * 13}.acme.{m}",
    "arabic-indic expiry": lambda e, m: f"vt1.{_spelled(e, ARABIC_INDIC_ZERO)}.acme.{m}",
    "extended arabic-indic": lambda e, m: f"vt1.{_spelled(e, '۰')}.acme.{m}",
    "devanagari expiry": lambda e, m: f"vt1.{_spelled(e, '०')}.acme.{m}",
    "fullwidth expiry": lambda e, m: f"vt1.{_spelled(e, '０')}.acme.{m}",
    "leading zero": lambda e, m: f"vt1.0{e}.acme.{m}",  # the same int, the valid MAC
    "signed expiry": lambda e, m: f"vt1.+{e}.acme.{m}",
    "underscored expiry": lambda e, m: f"vt1.{e[:4]}_{e[4:]}.acme.{m}",
    "spaced expiry": lambda e, m: f"vt1. {e}.acme.{m}",
    "empty expiry": lambda e, m: f"vt1..acme.{m}",
    "non-ascii mac": lambda e, m: f"vt1.{e}.acme.{'é' * 32}",  # compare_digest raises
    "upper-case mac": lambda e, m: f"vt1.{e}.acme.{m.upper()}",
    "short mac": lambda e, m: f"vt1.{e}.acme.{m[:-1]}",
    "non-ascii tenant": lambda e, m: f"vt1.{e}.acm\u00e9.{m}",
    "extra part": lambda e, m: f"vt1.{e}.acme.{m}.x",
    "trailing newline": lambda e, m: f"vt1.{e}.acme.{m}\n",
    "nul byte": lambda e, m: f"vt1.{e}.acme\x00.{m}",
    "other version": lambda e, m: f"vt2.{e}.acme.{m}",
    "prefix only": lambda e, m: "vt1.",
}


@pytest.mark.parametrize("form", MALFORMED_VIEW_TOKENS)
def test_a_malformed_view_token_is_unauthorized_with_a_clear_message(parts, form):
    auth, _, _, _ = parts
    token, expires = auth.view_token(Caller("acme"), JOB)
    mac = token.rsplit(".", 1)[1]
    bad = MALFORMED_VIEW_TOKENS[form](str(expires), mac)
    with pytest.raises(errors.Unauthorized, match="malformed.*video-jobs view"):
        auth.viewer(bad, JOB)
    if bad.strip() == bad:  # (a header's outer whitespace is HTTP's own, stripped before this)
        with pytest.raises(errors.Unauthorized):  # sent as a Bearer token to status or results
            auth.bearer(f"Bearer {bad}", job_id=JOB)


def test_a_view_token_with_a_twelve_digit_expiry_still_opens_its_job(parts):
    auth, _, _, clock = parts
    clock.now = 999_999_999_000.0  # the last 12-digit Unix times
    token, expires = auth.view_token(Caller("acme"), JOB)
    assert len(str(expires)) == 12
    assert auth.viewer(token, JOB) == Caller("acme", job_id=JOB)


# --- library tokens --------------------------------------------------------------------------


def test_a_library_token_names_its_tenant_on_the_routes_that_take_it_until_it_expires(parts):
    auth, _, _, clock = parts
    token, expires = auth.library_token(Caller("acme"))
    assert token.startswith("lt1.") and expires == NOW + 600
    assert auth.library(token) == Caller("acme", until=expires)  # its tenant's jobs only
    assert auth.bearer(f"Bearer {token}", library=True) == Caller("acme", until=expires)
    clock.now = NOW + 601
    with pytest.raises(errors.Unauthorized, match="expired.*video-jobs library"):
        auth.library(token)


def test_a_view_link_made_through_a_library_link_ends_with_it(parts):
    auth, _, _, clock = parts
    token, library_expires = auth.library_token(Caller("acme"))
    clock.now = NOW + 500
    view, view_expires = auth.view_token(auth.library(token), JOB)
    assert view_expires == library_expires == NOW + 600  # not NOW + 1100
    assert auth.view_token(Caller("acme"), JOB)[1] == NOW + 1100  # an API key's: the full time
    clock.now = NOW + 601
    with pytest.raises(errors.Unauthorized, match="expired"):
        auth.viewer(view, JOB)


def test_a_library_token_opens_no_other_route_and_no_view_token_passes_for_one(parts):
    auth, _, _, _ = parts
    token, _ = auth.library_token(Caller("acme"))
    view, _ = auth.view_token(Caller("acme"), JOB)
    for refused in (
        lambda: auth.bearer(f"Bearer {token}"),  # submit, delete, keys...: an API key only
        lambda: auth.bearer(f"Bearer {token}", job_id=JOB),  # status and results of a job
        lambda: auth.viewer(token, JOB),
        lambda: auth.library(view),
        lambda: auth.library(view.replace("vt1.", "lt1.", 1)),  # a view MAC is not a library one
        lambda: auth.library(token.replace("acme", "globex")),
        lambda: auth.library(token[:-1] + ("0" if token[-1] != "0" else "1")),
    ):
        with pytest.raises(errors.Unauthorized):
            refused()


@pytest.mark.parametrize("form", MALFORMED_VIEW_TOKENS)
def test_a_malformed_library_token_is_unauthorized_with_a_clear_message(parts, form):
    auth, _, _, _ = parts
    token, expires = auth.library_token(Caller("acme"))
    mac = token.rsplit(".", 1)[1]
    bad = "lt" + MALFORMED_VIEW_TOKENS[form](str(expires), mac)[2:]  # the same forms, lt1.
    with pytest.raises(errors.Unauthorized, match="malformed.*video-jobs library"):
        auth.library(bad)
    if bad.strip() == bad:
        with pytest.raises(errors.Unauthorized):
            auth.bearer(f"Bearer {bad}", library=True)


def test_with_auth_off_the_library_is_public(parts):
    auth, keys, box, clock = parts
    off = Authenticator(required=False, keys=keys, secrets=lambda: box, view_key=b"k" * 32,
                        view_ttl_s=600, region=REGION, clock=clock)  # fmt: skip
    assert off.library("anything") == PUBLIC and off.bearer(None, library=True) == PUBLIC


# --- SigV4 -----------------------------------------------------------------------------------


def test_a_request_signed_by_botocore_names_its_tenant(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    assert auth.signed(request(signed(key))) == Caller("acme")


def test_a_wrong_secret_is_an_invalid_signature(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    code, message = code_of(lambda: auth.signed(request(signed(key, secret="wrong" * 8))))
    assert code == INVALID_SIGNATURE and "does not match" in message


def test_a_changed_body_or_signed_header_is_an_invalid_signature(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    headers = signed(key)
    other = json.dumps({"JobId": "1" + JOB[1:]}).encode()
    assert code_of(lambda: auth.signed(request(headers, body=other)))[0] == INVALID_SIGNATURE
    changed = {**headers, "X-Amz-Target": "RekognitionService.StartLabelDetection"}
    assert code_of(lambda: auth.signed(request(changed)))[0] == INVALID_SIGNATURE


def test_a_payload_hash_header_must_match_the_body(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    claimed = hashlib.sha256(b"something else").hexdigest()
    headers = signed(key, extra={"X-Amz-Content-SHA256": claimed})
    code, message = code_of(lambda: auth.signed(request(headers)))
    assert code == INVALID_SIGNATURE and "x-amz-content-sha256" in message
    good = hashlib.sha256(BODY).hexdigest()
    headers = signed(key, extra={"X-Amz-Content-SHA256": good})
    assert auth.signed(request(headers)) == Caller("acme")


def test_unknown_and_revoked_keys_are_unrecognized_clients(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    stranger = {**key, "access_key_id": "VJAAAAAAAAAAAAAAAAAA"}
    assert code_of(lambda: auth.signed(request(signed(stranger))))[0] == UNRECOGNIZED_CLIENT
    keys.revoke(key["access_key_id"], utc_now())
    assert code_of(lambda: auth.signed(request(signed(key))))[0] == UNRECOGNIZED_CLIENT


@pytest.mark.parametrize("skew_s", [-301, 301, -86400])
def test_a_request_signed_outside_five_minutes_has_expired(parts, skew_s):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    code, message = code_of(lambda: auth.signed(request(signed(key, when=NOW + skew_s))))
    assert code == INVALID_SIGNATURE and message.startswith("Signature expired")


def test_a_request_signed_within_five_minutes_passes(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    for skew_s in (-299, 299):
        assert auth.signed(request(signed(key, when=NOW + skew_s))) == Caller("acme")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, MISSING_AUTHENTICATION),
        ("AWS4-HMAC-SHA256", INCOMPLETE_SIGNATURE),
        ("AWS4-HMAC-SHA256 Credential=VJ/20260101/us-east-1/rekognition/aws4_request",
         INCOMPLETE_SIGNATURE),
        ("AWS AKID:sig", INCOMPLETE_SIGNATURE),
        ("AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=ab", INCOMPLETE_SIGNATURE),
    ],
)  # fmt: skip
def test_malformed_authorization_headers(parts, authorization, code):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    headers = {k: v for k, v in signed(key).items() if k != "Authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    assert code_of(lambda: auth.signed(request(headers)))[0] == code


def test_a_signature_over_the_stage_path_is_accepted_where_that_path_was_sent(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    headers = signed(key, path="/api/")
    assert auth.signed(request(headers, paths=("/api/", "/"))) == Caller("acme")
    assert code_of(lambda: auth.signed(request(headers, paths=("/",))))[0] == INVALID_SIGNATURE


def test_the_decrypted_secret_is_cached_but_revocation_is_immediate(parts):
    auth, keys, box, _ = parts
    key = create(keys, box, "acme")
    for _ in range(3):
        auth.signed(request(signed(key)))
    assert box.decrypts == 1
    keys.revoke(key["access_key_id"], utc_now())
    assert code_of(lambda: auth.signed(request(signed(key))))[0] == UNRECOGNIZED_CLIENT


# --- Refusals are counted by reason (the AuthRefusals metric) --------------------------------


def test_each_refusal_is_counted_once_with_its_reason(parts):
    _, keys, box, clock = parts
    lines: list[str] = []
    auth = Authenticator(
        required=True, keys=keys, secrets=lambda: box, view_key=b"k" * 32, view_ttl_s=600,
        region=REGION, clock=clock, metrics=Metrics(lines.append),
    )  # fmt: skip
    key = create(keys, box, "acme")
    stranger = {**key, "access_key_id": "VJAAAAAAAAAAAAAAAAAA"}
    expired = f"vt1.{int(NOW) - 1}.acme.{'0' * 32}"
    for call in [
        lambda: auth.bearer(None),
        lambda: auth.bearer("Bearer nope"),
        lambda: auth.viewer("vt1.x", JOB),
        lambda: auth.bearer(f"Bearer {expired}", job_id=JOB),
        lambda: auth.signed(request(signed(key, secret="wrong" * 8))),
        lambda: auth.signed(request(signed(stranger))),
        lambda: auth.signed(request({})),
    ]:
        with pytest.raises(errors.Unauthorized):
            call()
    assert auth.bearer(f"Bearer {key['api_token']}") == Caller("acme")  # not counted
    reasons = [json.loads(line)["Reason"] for line in lines]
    assert reasons == [
        "MissingToken", "UnknownToken", "MalformedViewToken", "InvalidViewToken",
        "SignatureMismatch", "UnknownAccessKey", "SignatureMissing",
    ]  # fmt: skip
    assert all(json.loads(line)["AuthRefusals"] == 1 for line in lines)
