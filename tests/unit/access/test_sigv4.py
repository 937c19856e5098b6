"""SigV4 verification (chalicelib/access/sigv4.py) on requests signed by botocore: the credential
scope (region, service, date) and the headers AWS requires signed, and malformed fields, each a
neutral ``Unauthorized`` error (never another exception, which would be a 500)."""

from __future__ import annotations

import datetime
import json

import pytest

from chalicelib import errors
from chalicelib.access.sigv4 import SignedRequest, verify
from tests.support.auth import signed_headers

NOW = 1_780_000_000.0
REGION = "us-east-1"  # the deployment's
KEY_ID, SECRET = "VJTESTKEY0000000000", "s" * 40
BODY = json.dumps({"JobId": "0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"}).encode()
WHEN = datetime.datetime.fromtimestamp(NOW, datetime.UTC).replace(tzinfo=None)


def headers(**kw) -> dict[str, str]:
    """botocore's headers for a Rekognition call, with the Host the HTTP client sends (and
    signed), names in lower case as ``app.py`` passes them."""
    signed = signed_headers("http://127.0.0.1:8109/", BODY, KEY_ID, SECRET, at=WHEN, **kw)
    return {name.lower(): value for name, value in {**signed, "Host": "127.0.0.1:8109"}.items()}


def check(lower: dict[str, str], region: str = REGION):
    request = SignedRequest("POST", ("/",), {}, lower, BODY)
    return verify(request, lambda _: SECRET, NOW, region=region)


def refusal(lower: dict[str, str], region: str = REGION) -> tuple[type, str]:
    with pytest.raises(errors.Unauthorized) as caught:
        check(lower, region)
    return type(caught.value), caught.value.message


def test_a_request_signed_for_the_deployments_region_and_rekognition_passes():
    assert check(headers()).region == REGION
    assert check(headers(region="eu-west-1"), region="eu-west-1").region == "eu-west-1"


@pytest.mark.parametrize("signed_for", ["eu-west-1", "x", "us-east-2", "aws-global"])
def test_a_scope_naming_another_region_is_an_invalid_signature(signed_for):
    code, message = refusal(headers(region=signed_for))
    assert code is errors.SignatureMismatch  # InvalidSignatureException, 403
    assert message.startswith("Credential should be scoped to a valid region")
    assert f"not '{signed_for}'" in message and f"region_name='{REGION}'" in message


def test_the_deployments_region_is_the_one_checked():
    code, message = refusal(headers(region=REGION), region="eu-west-1")
    assert code is errors.SignatureMismatch and f"not '{REGION}'" in message


@pytest.mark.parametrize("service", ["s3", "execute-api", "rekognitionx", "dynamodb"])
def test_a_scope_naming_another_service_is_an_invalid_signature(service):
    code, message = refusal(headers(service=service))
    assert code is errors.SignatureMismatch
    assert message == "Credential should be scoped to correct service: 'rekognition'."


def test_x_amz_target_must_be_signed():
    unsigned = headers(unsigned={"X-Amz-Target": "RekognitionService.StartLabelDetection"})
    assert "x-amz-target" in unsigned and "x-amz-target" not in unsigned["authorization"]
    code, message = refusal(unsigned)
    assert code is errors.SignatureIncomplete  # IncompleteSignatureException, 400
    assert message == "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."


def test_host_must_be_signed():
    lower = headers()
    lower["authorization"] = lower["authorization"].replace("host;", "")
    code, message = refusal(lower)
    assert code is errors.SignatureIncomplete and message.startswith("'Host' must be")


def test_the_scope_date_must_be_the_days_of_x_amz_date():
    lower = headers()
    day = lower["x-amz-date"][:8]
    lower["authorization"] = lower["authorization"].replace(f"/{day}/", "/20200101/")
    code, message = refusal(lower)
    assert code is errors.SignatureMismatch and "'20200101' != " in message


def _arabic_indic(text: str) -> str:
    return text.translate({ord("0") + i: 0x0660 + i for i in range(10)})


def _replace(name: str, old: str, new: str):
    def edit(lower: dict[str, str]) -> None:
        lower[name] = lower[name].replace(old, new)

    return edit


def _set(name: str, value: str):
    def edit(lower: dict[str, str]) -> None:
        lower[name] = value

    return edit


def _arabic_date(lower: dict[str, str]) -> None:
    lower["x-amz-date"] = _arabic_indic(lower["x-amz-date"])  # strptime took it as the same time


def _arabic_scope_date(lower: dict[str, str]) -> None:
    day = lower["x-amz-date"][:8]
    lower["authorization"] = lower["authorization"].replace(day, _arabic_indic(day))


def _short_date(lower: dict[str, str]) -> None:  # strptime reads "2026061" as 2026-06-01
    lower["x-amz-date"] = lower["x-amz-date"][:4] + lower["x-amz-date"][5:]


# name -> an edit of a correctly signed request's headers; each must be refused as Unauthorized
MALFORMED = {
    "arabic-indic x-amz-date": _arabic_date,
    "arabic-indic scope date": _arabic_scope_date,
    "x-amz-date missing a digit": _short_date,
    "5000-digit x-amz-date": _set("x-amz-date", "2" * 5000),
    "superscript x-amz-date": _set("x-amz-date", "\u00b2" * 8 + "T" + "\u00b2" * 6 + "Z"),
    "non-ascii signature": _replace("authorization", "Signature=", "Signature=\u00e9"),
    "short signature": _replace("authorization", "Signature=", "Signature=0, X="),
    "upper-case signed header": _replace("authorization", "SignedHeaders=", "SignedHeaders=Host;"),
    "non-ascii signed header": _replace("authorization", "SignedHeaders=", "SignedHeaders=\u00e9;"),
    "empty signed header": _replace("authorization", "SignedHeaders=", "SignedHeaders=;"),
    "non-ascii payload hash": _set("x-amz-content-sha256", "\u00e9" * 64),
    "unsigned payload": _set("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    "host not a host name": _set("host", "[abc"),
    "5000-digit region": _replace("authorization", f"/{REGION}/", f"/{'1' * 5000}/"),
}


@pytest.mark.parametrize("form", MALFORMED)
def test_a_malformed_signature_field_is_refused_never_a_crash(form):
    lower = headers()
    MALFORMED[form](lower)
    code, message = refusal(lower)
    assert code in (errors.SignatureIncomplete, errors.SignatureMismatch) and message
