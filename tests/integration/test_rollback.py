"""scripts/rollback_local.py against a short-lived moto_server: it removes what the bootstrap
created (with data in it), proves nothing is left, and refuses real AWS."""

from __future__ import annotations

import pytest

from chalicelib.bootstrap import aws_client, services
from chalicelib.jobs.ids import video_path
from infra.resources import bootstrap, dlq_name
from scripts import rollback_local
from tests.support.jobs import new_job
from tests.support.servers import free_port, moto_server


@pytest.fixture
def endpoint(aws_env, monkeypatch):
    """A fresh moto_server for this test, and the app's settings aimed at it."""
    with moto_server() as url:
        monkeypatch.setenv("VIDEO_JOBS_AWS_ENDPOINT", url)
        services.cache_clear()
        try:
            yield url
        finally:
            services.cache_clear()


def populated(url: str) -> None:
    """The stack's resources with something in each: a job row, a video, a queued message."""
    settings = rollback_local.emulator_settings(url)
    bootstrap(settings)
    wired = services()
    job_id = new_job(wired.jobs).job_id
    wired.storage.save_file(b"not really a video", video_path(job_id))
    wired.queue.enqueue(job_id)
    assert rollback_local.leftovers(settings) == [
        f"table {settings.table_name}",
        f"bucket {settings.bucket}",
        f"queue {settings.queue_name}",
        f"queue {dlq_name(settings)}",
        f"queue {settings.notices.queue_name}",
        f"queue {settings.notices.dlq_name}",
        f"topic {settings.notices.topic}",
    ]


def test_rollback_deletes_everything_and_verifies(endpoint, capsys):
    populated(endpoint)
    assert rollback_local.main(["--endpoint", endpoint]) == 0
    out = capsys.readouterr().out
    assert "deleted it and 1 object version(s)" in out and "verified" in out
    settings = rollback_local.emulator_settings(endpoint)
    assert rollback_local.leftovers(settings) == []
    assert aws_client("dynamodb", settings).list_tables()["TableNames"] == []
    assert aws_client("s3", settings).list_buckets().get("Buckets", []) == []
    assert aws_client("sqs", settings).list_queues().get("QueueUrls", []) == []
    assert rollback_local.main(["--endpoint", endpoint]) == 0  # twice is fine
    assert "already gone" in capsys.readouterr().out


def test_reset_forgets_everything(endpoint, capsys):
    populated(endpoint)
    assert rollback_local.main(["--endpoint", endpoint, "--reset"]) == 0
    assert "reset" in capsys.readouterr().out
    assert rollback_local.leftovers(rollback_local.emulator_settings(endpoint)) == []


def test_dry_run_deletes_nothing(endpoint, capsys):
    populated(endpoint)
    assert rollback_local.main(["--endpoint", endpoint, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete" in out and "nothing was deleted" in out
    assert len(rollback_local.leftovers(rollback_local.emulator_settings(endpoint))) == 7


def test_a_resource_that_will_not_go_is_reported(endpoint, monkeypatch, capsys):
    populated(endpoint)
    monkeypatch.setattr(rollback_local, "delete_queues", lambda *args: None)
    assert rollback_local.main(["--endpoint", endpoint]) == 1
    assert "NOT DONE, still listed: queue video-jobs-queue" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["--endpoint", "https://dynamodb.us-east-1.amazonaws.com"]])
def test_real_aws_and_missing_endpoints_are_refused(aws_env, monkeypatch, argv, capsys):
    monkeypatch.delenv("VIDEO_JOBS_AWS_ENDPOINT", raising=False)
    assert rollback_local.main(argv) == 2
    assert "refused" in capsys.readouterr().err


def test_an_emulator_that_does_not_answer_is_a_failure(aws_env, capsys):
    assert rollback_local.main(["--endpoint", f"http://127.0.0.1:{free_port()}"]) == 1
    assert "nothing answers" in capsys.readouterr().err
