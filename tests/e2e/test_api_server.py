"""The local API server (infra/api_server.py, `chalice local`) at the HTTP level, over real
sockets: a burst of connections, malformed and huge Content-Length, chunked bodies, and a body
over the direct-upload limit refused before it is read.
"""

import json
import os
import re
import select
import signal
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.support.stack import local_stack

MIB = 1024 * 1024
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with local_stack(tmp_path_factory.mktemp("api-server")) as running:
        yield {"port": running.api_port, "pid": running.pid("api"), "base": running.base}


def exchange(port: int, head: str, body: bytes = b"", timeout_s: float = 10) -> tuple[int, dict]:
    """Send a raw request; the status and JSON body of the answer (status 0: no answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received:
                    headers, _, rest = received.partition(b"\r\n\r\n")
                    length = re.search(rb"Content-Length: (\d+)", headers, re.IGNORECASE)
                    if length and len(rest) >= int(length.group(1)):
                        break
        except (TimeoutError, ConnectionResetError):
            pass
    if not received:
        return 0, {}
    headers, _, rest = received.partition(b"\r\n\r\n")
    return int(headers.split()[1]), json.loads(rest or b"{}")


def submit_head(port: int, extra: str) -> str:
    return (
        f"POST /video/submit HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: video/mp4\n{extra}\n"
    )


def peak_rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


def test_listen_backlog_holds_a_burst_of_64_connections(stack):
    os.kill(stack["pid"], signal.SIGSTOP)  # accepts nothing: only the listen backlog holds them
    sockets = []
    try:
        for _ in range(64):
            conn = socket.socket()
            conn.setblocking(False)
            conn.connect_ex(("127.0.0.1", stack["port"]))
            sockets.append(conn)
        time.sleep(0.5)  # a SYN dropped for a full backlog is retried only after 1 s
        _, writable, _ = select.select([], sockets, [], 0)
        connected = [c for c in writable if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
        assert len(connected) == 64
    finally:
        for conn in sockets:
            conn.close()
        os.kill(stack["pid"], signal.SIGCONT)


@pytest.mark.parametrize("value", ["abc", "-5", "1e3", "12 34"])
def test_a_content_length_that_is_not_a_number_gets_400(stack, value):
    status, body = exchange(stack["port"], submit_head(stack["port"], f"Content-Length: {value}"))
    assert status == 400 and body["code"] == "BadRequest"
    assert "Content-Length" in body["message"] and value in body["message"]


@pytest.mark.parametrize("value", ["99999999999999", "9" * 5000])
def test_a_huge_content_length_gets_413_without_waiting_for_the_body(stack, value):
    started = time.monotonic()
    head = submit_head(stack["port"], f"Content-Length: {value}")
    status, body = exchange(stack["port"], head, timeout_s=5)
    assert status == 413 and body["code"] == "PayloadTooLarge"
    assert value[:14] in body["message"] and "/video/uploads" in body["message"]
    assert len(body["message"]) < 200 and time.monotonic() - started < 5


def test_a_chunked_body_is_read_whole(stack, tiny_mp4):
    data = tiny_mp4.read_bytes()

    def pieces():  # requests sends an iterator with Transfer-Encoding: chunked
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    response = requests.post(
        f"{stack['base']}/video/submit", data=pieces(), headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 202, response.text
    job = requests.get(f"{stack['base']}{response.json()['status_url']}", timeout=10).json()
    assert job["status"] in ("pending", "running", "completed")


def test_a_chunked_body_over_the_limit_gets_413(stack):
    chunk = b"\0" * MIB
    response = requests.post(
        f"{stack['base']}/video/submit",
        data=(chunk for _ in range(8)),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"


def test_malformed_chunking_gets_400(stack):
    head = submit_head(stack["port"], "Transfer-Encoding: chunked")
    status, body = exchange(stack["port"], head, b"zz\r\nhello\r\n0\r\n\r\n")
    assert status == 400 and "chunk" in body["message"]


class Zeros:
    """A 200 MB request body that costs the client no memory."""

    def __init__(self, size: int):
        self.left = self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"\0" * n


def test_a_200_mb_body_gets_413_before_it_is_read(stack):
    before = peak_rss_bytes(stack["pid"])
    response = requests.post(
        f"{stack['base']}/video/submit",
        data=Zeros(200 * MIB),
        headers={"Content-Type": "video/mp4"},
        timeout=60,
    )
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"
    grown = peak_rss_bytes(stack["pid"]) - before
    print(f"API peak memory grew by {grown / MIB:.1f} MiB for a 200 MB body")
    assert grown < 16 * MIB
    assert requests.get(f"{stack['base']}/video/status/x", timeout=10).status_code == 404
