"""The key that signs viewer links and NextTokens: a secret on AWS, never the published one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.bootstrap import Services, aws_client, services
from chalicelib.config import LOCAL_SIGNING_KEY


def test_required_auth_refuses_the_published_local_key_off_the_local_stage(aws, monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "required")  # the test stage: not "local"
    services.cache_clear()
    with pytest.raises(RuntimeError, match="VIDEO_JOBS_SIGNING_KEY_ARN"):
        _ = services().signing_key
    monkeypatch.setenv("VIDEO_JOBS_PAGINATION_KEY", "an operator's own key")
    services.cache_clear()
    assert services().signing_key == b"an operator's own key"


def test_on_aws_the_key_is_read_from_secrets_manager(aws, monkeypatch):
    secrets = aws_client("secretsmanager", aws.settings)
    arn = secrets.create_secret(Name="token-key", SecretString="k" * 64)["ARN"]
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "required")
    monkeypatch.setenv("VIDEO_JOBS_SIGNING_KEY_ARN", arn)
    services.cache_clear()
    wired = services()
    assert wired.signing_key == b"k" * 64
    assert wired.rekognition.signing_key == b"k" * 64  # NextTokens too


def test_the_local_stage_may_try_auth_with_the_local_key(aws):
    local = replace(aws.settings, stage="local", auth="required")
    assert (
        Services(local, aws.storage, aws.queue, aws.jobs).signing_key == LOCAL_SIGNING_KEY.encode()
    )
