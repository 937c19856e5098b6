"""`make key` (``python -m infra.keys``) as a newcomer runs it: no AWS_* variables, no ~/.aws.
Against a real emulator process it works; with nothing listening it says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from chalicelib.config import load_settings
from infra.resources import bootstrap
from tests.support.servers import ROOT, free_port, moto_server

pytestmark = pytest.mark.slow  # real processes


def keys_cli(home, endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(HOME=str(home), VIDEO_JOBS_STAGE="local", VIDEO_JOBS_AWS_ENDPOINT=endpoint)
    return subprocess.run(
        [sys.executable, "-m", "infra.keys", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_keys_need_no_aws_credentials(tmp_path, monkeypatch):
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    with moto_server() as url:
        monkeypatch.setenv("VIDEO_JOBS_AWS_ENDPOINT", url)
        bootstrap(load_settings())  # the same clients, in this bare process too
        created = keys_cli(tmp_path, url, "create", "--tenant", "acme")
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)
        assert key["tenant"] == "acme" and key["access_key_id"].startswith("VJ")
        listed = keys_cli(tmp_path, url, "list")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["access_key_id"] for line in listed.stdout.splitlines()] == [
        key["access_key_id"]
    ]
    assert not (tmp_path / ".aws").exists()


@pytest.mark.parametrize("args", [("create", "--tenant", "acme"), ("list",)])
def test_a_stack_that_is_not_running_is_one_line(tmp_path, args):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    done = keys_cli(tmp_path, endpoint, *args)
    assert time.monotonic() - started < 10  # not boto3's retries
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f"keys: nothing answers at {endpoint} (the local stack's emulated AWS): start it with "
        "`make run`, or point VIDEO_JOBS_AWS_ENDPOINT at it"
    ]
