"""Clients aimed at the emulator carry its credentials, so nothing local needs AWS_* variables
or ~/.aws (a newcomer has neither); clients for real AWS keep boto3's own credential chain."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamo import table_meta
from chalicelib.bootstrap import _session, aws_client
from chalicelib.config import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY, load_settings

EMULATOR = "http://127.0.0.1:5010"


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    """A newcomer's shell: no AWS_* variables, an empty home (no ~/.aws), no instance role."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "VIDEO_JOBS_AWS_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _session.cache_clear()  # the process's boto3 session keeps credentials it found earlier
    yield
    _session.cache_clear()


@pytest.mark.parametrize("service", ["s3", "sqs", "kms", "sns"])
def test_local_stage_clients_carry_the_emulators_credentials(bare_env, monkeypatch, service):
    monkeypatch.setenv("VIDEO_JOBS_STAGE", "local")
    settings = load_settings()
    assert (settings.aws_endpoint, settings.region) == (EMULATOR, "us-east-1")
    credentials = aws_client(service, settings)._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        EMULATOR_ACCESS_KEY_ID,
        EMULATOR_SECRET_ACCESS_KEY,
        None,
    )


def test_emulator_credentials_win_over_the_callers_own(bare_env, monkeypatch):
    """A developer's real AWS session in the shell is never sent to the emulator."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    credentials = aws_client("kms", load_settings())._request_signer._credentials
    assert (credentials.access_key, credentials.token) == (EMULATOR_ACCESS_KEY_ID, None)


def test_clients_for_real_aws_keep_boto3s_credential_chain(bare_env, monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_STAGE", "prod")
    settings = load_settings()
    assert settings.aws_endpoint is None
    assert aws_client("sqs", settings)._request_signer._credentials is None  # none in this shell
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    assert aws_client("sqs", settings)._request_signer._credentials.access_key == "AKIAREALKEY"


def test_dynamodb_tables_on_the_emulator_carry_its_credentials():
    meta = table_meta("video-jobs", "us-east-1", EMULATOR)
    assert (meta.host, meta.aws_access_key_id, meta.aws_secret_access_key) == (
        EMULATOR,
        EMULATOR_ACCESS_KEY_ID,
        EMULATOR_SECRET_ACCESS_KEY,
    )
    on_aws = table_meta("video-jobs", "eu-west-1", None)
    assert on_aws.host is None and not hasattr(on_aws, "aws_access_key_id")
