"""A scripted HTTP server on 127.0.0.1 for the command line's tests: each request (method,
path, body length) is recorded, then answered by the test's own function, which may misbehave:
cut the answer short, reset the connection, trickle, or never answer at all."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Respond = Callable[["Exchange"], None]


@dataclass
class Exchange:
    """One request, and what a test's function uses to answer it."""

    handler: BaseHTTPRequestHandler
    method: str
    path: str
    body_bytes: int

    def send(self, status: int, body: bytes | dict, content_type: str = "application/json",
             declared: int | None = None) -> None:  # fmt: skip
        """An answer; ``declared`` > len(body) promises bytes that never come."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data) if declared is None else declared))
        h.end_headers()
        h.wfile.write(data)
        if declared is not None and declared > len(data):
            self.hang_up()

    def chunks_then_cut(self, first: bytes) -> None:
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(b"%x\r\n%s" % (len(first) + 100, first))  # a chunk that never ends
        self.hang_up()

    def trickle(self, seconds: float) -> None:
        """Headers at once, then one byte of a long body every 50 ms for ``seconds``."""
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.05)
        self.hang_up()

    def hang_up(self) -> None:
        self.handler.wfile.flush()
        self.handler.close_connection = True
        self.handler.connection.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Close with RST: no answer at all."""
        linger = struct.pack("ii", 1, 0)
        self.handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.handler.close_connection = True
        self.handler.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer is what some tests are about


@dataclass
class StubApi:
    url: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)


@contextmanager
def stub_api(respond: Respond) -> Iterator[StubApi]:
    """``with stub_api(fn) as api:`` then call ``api.url``; ``api.requests`` lists what came."""
    stub: StubApi

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _any(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            received = 0
            while received < size:  # read whatever is sent, but keep none of it
                chunk = self.rfile.read(min(size - received, 1 << 16))
                if not chunk:
                    break
                received += len(chunk)
            stub.requests.append((self.command, self.path, received))
            respond(Exchange(self, self.command, self.path, received))

        do_GET = do_POST = do_PUT = _any

    server = _Server(("127.0.0.1", 0), Handler)
    stub = StubApi(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
