"""The template's half of access control: the KMS key for secrets (the API may only Decrypt
with it), the functions' VIDEO_JOBS_KEYS_KMS_KEY, API Gateway throttling; auth is required on
every stage but local."""

from __future__ import annotations

import json

import pytest

from chalicelib.config import AUTH_OFF, AUTH_REQUIRED, load_settings
from infra.cloud_template import (
    KEYS_KEY,
    REST_API,
    THROTTLE_BURST,
    THROTTLE_RATE,
    finish,
    functions,
    merge_template,
)
from infra.package import package


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    return json.loads(package(tmp_path_factory.mktemp("package") / "out").read_text())


def test_the_api_finds_the_kms_key_and_gateway_throttles(template):
    key = template["Resources"][KEYS_KEY]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"]
    for _, function in functions(template):
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["VIDEO_JOBS_KEYS_KMS_KEY"] == {"Fn::GetAtt": [KEYS_KEY, "Arn"]}
    (setting,) = template["Resources"][REST_API]["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": THROTTLE_RATE}
    assert setting["ThrottlingBurstLimit"] == {"Ref": THROTTLE_BURST}
    assert THROTTLE_RATE in template["Parameters"] and THROTTLE_BURST in template["Parameters"]


def test_finish_refuses_a_template_without_the_rest_api():
    merged = merge_template()
    for name, handler in (("AnalyzeVideo", "app.analyze_video"),
                          ("ReconcileJobs", "app.reconcile_jobs")):  # fmt: skip
        merged["Resources"][name] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Handler": handler, "Events": {}},
        }
    with pytest.raises(Exception, match=REST_API):
        finish(merged)


@pytest.mark.parametrize(
    ("stage", "expected", "limit"), [("local", AUTH_OFF, 0), ("prod", AUTH_REQUIRED, 20)]
)
def test_auth_is_required_on_every_stage_but_local(monkeypatch, stage, expected, limit):
    for name in ("VIDEO_JOBS_AUTH", "VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIDEO_JOBS_STAGE", stage)
    settings = load_settings()
    assert (settings.auth, settings.max_active_jobs_per_tenant) == (expected, limit)
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "maybe")
    with pytest.raises(ValueError, match="VIDEO_JOBS_AUTH"):
        load_settings()
