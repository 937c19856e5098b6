"""One webhook attempt against real sockets on 127.0.0.1: its wall-clock deadline, the cap on
the answer it reads, and TLS."""

from __future__ import annotations

import ssl
import time
from dataclasses import replace

import pytest

from chalicelib.config import load_settings
from chalicelib.notices.callbacks import check_callback_url
from chalicelib.notices.delivery import Courier, UnreadableAnswer, post
from chalicelib.notices.events import Notice
from tests.support.slow_receiver import OK, SlowReceiver, self_signed

BODY, HEADERS = b'{"job_id":"x"}', {"Content-Type": "application/json"}
HOST = "hooks.test"


def target(url: str):
    return check_callback_url(url, allow_loopback=True, resolve=lambda host, port: ["127.0.0.1"])


def test_an_answer_trickled_one_byte_a_second_is_cut_off_at_the_deadline():
    """Per-read timeouts never fire on a trickle: only a deadline over the whole attempt does."""
    with SlowReceiver(OK, every_s=1.0) as hook:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            post(target(hook.url), BODY, HEADERS, 2.0)
        took = time.monotonic() - started
        arrival = hook.wait_for_end(hook.wait_for_arrival(1), timeout_s=5)
    assert 1.9 <= took < 2.5, took
    assert arrival.how == "cut off by the client" and 1 <= arrival.sent < len(OK)


def test_a_tls_handshake_trickled_one_byte_at_a_time_is_cut_off_too():
    handshake = b"\x16\x03\x03\x3e\x80" + b"\x02" * 60  # a record header, then a slow record
    with SlowReceiver(handshake, every_s=0.3, read_request=False) as hook:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            post(target(f"https://{HOST}:{hook.port}/hook"), BODY, HEADERS, 1.5)
    assert time.monotonic() - started < 2.0


def test_the_courier_says_which_deadline_passed():
    settings = replace(load_settings().notices, attempt_deadline_s=1.0)
    courier = Courier(sqs=None, queue_url="", dlq_url="", settings=settings, secret="s",
                      allow_loopback=True)  # fmt: skip
    with SlowReceiver(OK, every_s=0.4) as hook:
        notice = Notice({"job_id": "j", "event_id": "e"}, hook.url, None, 0.0)
        assert courier.attempt(notice) == "no answer within the 1 s deadline"


def test_at_most_max_answer_bytes_of_the_answer_are_read():
    with SlowReceiver(b"HTTP/1.1 200 " + b"x" * 200_000, every_s=0) as hook:
        hook.every_s = 0.0
        with pytest.raises(UnreadableAnswer, match="no status line in the first 4096 bytes"):
            post(target(hook.url), BODY, HEADERS, 5.0, max_answer_bytes=4096)


@pytest.mark.parametrize(
    "answer,status",
    [
        (OK, 200),
        (b"HTTP/1.0 204\r\n\r\n", 204),
        (b"HTTP/1.1 503 Busy\nRetry-After: 1\n\n", 503),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
         b"HTTP/1.1 202 Accepted\r\n\r\n", 202),
    ],
)  # fmt: skip
def test_the_status_is_read_past_interim_answers(answer, status):
    with SlowReceiver(answer, every_s=0) as hook:
        assert post(target(hook.url), BODY, HEADERS, 5.0) == status


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 20", b""])
def test_an_answer_without_a_status_line_fails(answer):
    with SlowReceiver(answer, every_s=0) as hook, pytest.raises(UnreadableAnswer):
        post(target(hook.url), BODY, HEADERS, 5.0)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("tls"), HOST)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_https_checks_the_certificate_and_the_host_name(certificate):
    server, trusting = certificate
    with SlowReceiver(OK, every_s=0, tls=server) as hook:
        url = f"https://{HOST}:{hook.port}/hook"
        assert post(target(url), BODY, HEADERS, 5.0, tls=trusting) == 200
        with pytest.raises(ssl.SSLCertVerificationError):  # the public CAs do not know it
            post(target(url), BODY, HEADERS, 5.0)
        with pytest.raises(ssl.SSLCertVerificationError, match="match"):
            post(target(f"https://other.test:{hook.port}/"), BODY, HEADERS, 5.0, tls=trusting)


def test_an_attempt_ends_well_inside_the_delivery_functions_timeout():
    """On AWS a bounded attempt fails and is re-queued on its schedule, instead of running to
    the Lambda timeout and being dead-lettered after 5 receives."""
    from infra.resources import NOTICE_TIMEOUT_S

    assert 2 * load_settings().notices.attempt_deadline_s <= NOTICE_TIMEOUT_S
