"""``chalice local``, made to hold up at the HTTP level the way API Gateway does.

    python -m infra.api_server --no-autoreload --stage local --port 8000

Everything else is the real ``chalice local`` command line. What this adds:

* TCP_NODELAY: chalice writes a response's headers and body in two sends; with Nagle's
  algorithm the body waited for the client's delayed ACK (~40 ms on Linux) on every request.
* A listen backlog of 128 instead of socketserver's 5, which reset connections under 16
  parallel submits.
* The body is checked before it is read: a Content-Length that is not a number gets a 400, one
  over the direct-upload limit (``Settings.max_direct_upload_bytes``) a 413, answered at once
  (to ``Expect: 100-continue`` too, so curl never sends the body). What the client still sends
  after the answer is read and thrown away for up to ``DISCARD_S``, so that it sees the answer
  rather than a reset connection. Without this a 200 MB body was read into memory first.
* ``Transfer-Encoding: chunked`` bodies are de-chunked (within the same limit); chalice read
  them as empty.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import local
from chalice.cli import main as chalice_main

from chalicelib.config import load_settings

if TYPE_CHECKING:
    from email.message import Message
    from io import BufferedIOBase

    from chalice.app import Chalice
    from chalice.config import Config

LISTEN_BACKLOG = 128
DISCARD_S = 5.0
MAX_LINE = 1024
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")


class BodyRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_request(message: str) -> BodyRefused:
    return BodyRefused(400, "BadRequest", message)


def too_large(size: str, limit: int) -> BodyRefused:
    return BodyRefused(
        413,
        "PayloadTooLarge",
        f"request body is {size} bytes, above the {limit}-byte limit for a direct submit: "
        "upload larger videos through POST /video/uploads",
    )


def declared_length(headers: Message, limit: int) -> int | None:
    """The body's size from Content-Length; None for a chunked body; BodyRefused if unusable."""
    lengths = headers.get_all("Content-Length") or []
    encoding = headers.get("Transfer-Encoding")
    if encoding is not None:
        if encoding.strip().lower() != "chunked":
            raise bad_request(
                f"Transfer-Encoding {encoding!r} is not supported: send Content-Length"
            )
        if lengths:
            raise bad_request("send either Content-Length or Transfer-Encoding: chunked, not both")
        return None
    if not lengths:
        return 0
    digits = lengths[0].strip()
    if len(set(lengths)) > 1 or not _DECIMAL.fullmatch(digits):
        shown = ", ".join(lengths)[:40]
        raise bad_request(
            f"Content-Length {shown!r} is not a number of bytes: send the body's size"
        )
    if len(digits) > 18 or int(digits) > limit:  # no int() of a 5000-digit string
        raise too_large(digits[:40], limit)
    return int(digits)


def read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    """A chunked body, de-chunked; BodyRefused past ``limit`` bytes or if the framing is broken."""
    body = bytearray()
    while True:
        size_line = rfile.readline(MAX_LINE).split(b";")[0].strip()
        if not _HEX.fullmatch(size_line):
            raise bad_request("malformed chunked body (bad chunk size line): send Content-Length")
        size = int(size_line, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise too_large(f"more than {limit}", limit)
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(MAX_LINE).strip():
            raise bad_request("malformed chunked body (a chunk is not its declared size)")
        body += chunk
    while rfile.readline(MAX_LINE).strip():  # trailer fields, ignored
        pass
    return bytes(body)


class ApiRequestHandler(local.ChaliceRequestHandler):
    disable_nagle_algorithm = True

    @property
    def max_body_bytes(self) -> int:
        assert isinstance(self.server, ApiServer)  # create_local_server pairs the two
        return self.server.max_body_bytes

    def handle_expect_100(self) -> bool:
        try:
            declared_length(self.headers, self.max_body_bytes)
        except BodyRefused as refusal:
            self.refuse(refusal)
            return False
        return super().handle_expect_100()

    def _parse_payload(self) -> tuple[dict[str, str], bytes | None]:
        headers = dict(self.headers)
        length = declared_length(self.headers, self.max_body_bytes)
        body: bytes | None
        if length is None:
            body = read_chunked(self.rfile, self.max_body_bytes)
            headers.pop("Transfer-Encoding", None)
            headers["Content-Length"] = str(len(body))
        else:
            body = self.rfile.read(length) if length else None
        return headers, body

    def _generic_handle(self) -> None:
        try:
            super()._generic_handle()
        except BodyRefused as refusal:
            self.refuse(refusal)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def refuse(self, refusal: BodyRefused) -> None:
        """Answer now and close, throwing away what the client still sends (a lingering close:
        closing on unread data would reset the connection before the client reads the answer)."""
        body = json.dumps({"code": refusal.code, "message": refusal.message}).encode()
        self.send_response(refusal.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(1)
        deadline = time.monotonic() + DISCARD_S
        try:
            while time.monotonic() < deadline and self.rfile.read1(65536):
                pass
        except OSError:
            pass


class ApiServer(local.ThreadedHTTPServer):
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], handler: Callable[..., Any]) -> None:
        super().__init__(address, handler)
        self.max_body_bytes = load_settings().max_direct_upload_bytes  # Lambda's payload limit


def create_local_server(
    app_obj: Chalice, config: Config, host: str, port: int
) -> local.LocalDevServer:
    """``chalice.local.create_local_server``, with our handler and server classes. The app
    becomes an instance of a class made for it here (chalice's own version rewrites the bases of
    a class it shares)."""
    app_obj.__class__ = type("LocalApp", (local.LocalChalice, type(app_obj)), {})
    return local.LocalDevServer(
        app_obj, config, host, port, handler_cls=ApiRequestHandler, server_cls=ApiServer
    )


def main(argv: list[str]) -> int:
    local.create_local_server = create_local_server  # what `chalice local` calls to build it
    sys.argv = ["chalice", "local", *argv]
    return chalice_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
