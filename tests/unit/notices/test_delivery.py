"""Webhook delivery's retry schedule, and notices chained past SQS's longest delay (the
deliveries themselves, to a real receiver, are in tests/integration/test_delivery.py)."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.config import load_settings
from chalicelib.jobs.record import COMPLETED
from chalicelib.notices.delivery import retry_delay, retry_schedule
from chalicelib.notices.events import (
    MAX_SQS_DELAY_S,
    Notice,
    build_event,
    send_notice,
)
from tests.support.jobs import final_job

CALLBACK = "https://hooks.example.com/video-jobs"


# --- the retry schedule -----------------------------------------------------------------------


def test_default_schedule_first_retry_within_a_minute_then_doubling_for_a_day(monkeypatch):
    for name in ("FIRST_RETRY_S", "MAX_RETRY_DELAY_S", "RETRY_WINDOW_S"):
        monkeypatch.delenv(f"VIDEO_JOBS_WEBHOOK_{name}", raising=False)
    settings = load_settings().notices
    schedule = retry_schedule(settings)
    assert schedule[:8] == [0, 30, 90, 210, 450, 930, 1890, 3810]
    waits = [b - a for a, b in zip(schedule, schedule[1:], strict=False)]
    assert waits[:7] == [30, 60, 120, 240, 480, 960, 1920] and set(waits[7:]) == {3600}
    assert schedule[-1] <= 24 * 3600 < schedule[-1] + 3600
    assert len(schedule) == 30 and schedule[-1] == 83010  # the last at 23 h 03 min


def test_schedule_follows_the_settings(monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_FIRST_RETRY_S", "1")
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_MAX_RETRY_DELAY_S", "4")
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_RETRY_WINDOW_S", "20")
    settings = load_settings().notices
    assert [retry_delay(n, settings) for n in range(1, 6)] == [1, 2, 4, 4, 4]
    assert retry_schedule(settings) == [0, 1, 3, 7, 11, 15, 19]


def test_waits_beyond_900_s_are_chained():
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/video-jobs-notices"
    calls = []

    class Recorder:
        def send_message(self, **kwargs):
            calls.append(kwargs)

    notice = Notice(build_event(final_job(COMPLETED)), CALLBACK, 0.0, due_at=3600.0)
    send_notice(Recorder(), url, notice, now=0.0)
    send_notice(Recorder(), url, replace(notice, due_at=30.0), now=0.0)
    send_notice(Recorder(), url, notice, now=4000.0)
    assert [call["DelaySeconds"] for call in calls] == [MAX_SQS_DELAY_S, 30, 0]
