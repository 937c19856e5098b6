"""A webhook receiver that answers slowly: it reads the request, then sends its answer one byte
every ``every_s`` seconds (a slow-loris receiver), recording when each connection came and how
it ended. With ``read_request=False`` it starts trickling at once, which an HTTPS client reads
as a TLS handshake that never ends. ``self_signed`` makes a certificate for TLS tests."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Arrival:
    arrived: float  # time.monotonic() when the request (or the connection) came
    sent: int = 0  # answer bytes sent
    ended: float | None = None  # when the connection ended
    how: str = ""  # "answered", "cut off by the client", "receiver stopped"


class SlowReceiver:
    """``with SlowReceiver(OK, every_s=1.0) as hook:`` then POST to ``hook.url``."""

    def __init__(
        self,
        answer: bytes = OK,
        every_s: float = 1.0,
        *,
        read_request: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.answer, self.every_s, self.read_request, self.tls = answer, every_s, read_request, tls
        self.arrivals: list[Arrival] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def wait_for_arrival(self, timeout_s: float) -> Arrival:
        with self._changed:
            if not self._changed.wait_for(lambda: self.arrivals, timeout_s):
                raise AssertionError(f"no request reached the slow receiver in {timeout_s} s")
            return self.arrivals[0]

    def wait_for_end(self, arrival: Arrival, timeout_s: float) -> Arrival:
        with self._changed:
            if not self._changed.wait_for(lambda: arrival.ended is not None, timeout_s):
                raise AssertionError(f"the connection is still open after {timeout_s} s")
            return arrival

    def __enter__(self) -> SlowReceiver:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed by __exit__
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            connection = raw if self.tls is None else self.tls.wrap_socket(raw, server_side=True)
            if self.read_request:
                read_request(connection)
        except OSError:  # the client refused the certificate, or left
            raw.close()
            return
        with connection:
            arrival = Arrival(time.monotonic())
            with self._changed:
                self.arrivals.append(arrival)
                self._changed.notify_all()
            arrival.how = self._trickle(connection, arrival)
            with self._changed:
                arrival.ended = time.monotonic()
                self._changed.notify_all()

    def _trickle(self, connection: socket.socket, arrival: Arrival) -> str:
        for index in range(len(self.answer)):
            if self._stop.wait(self.every_s if index else 0):
                return "receiver stopped"
            try:
                connection.sendall(self.answer[index : index + 1])
                arrival.sent += 1
            except OSError:
                return "cut off by the client"
        try:  # the answer ends here; the client closes once it has read the status line
            connection.shutdown(socket.SHUT_WR)
            connection.settimeout(5)
            connection.recv(1)
        except OSError:
            pass
        return "answered"


def read_request(connection: socket.socket) -> bytes:
    """The head and the Content-Length body of one request."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")), 0,
    )  # fmt: skip
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """A certificate for ``host`` signed by its own key: (certificate, key) PEM files."""
    from cryptography import x509  # moto's dependency, so always in the test environment
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
