"""Callback URLs: where a job may send its completion notice (checked at submit and at delivery).

A callback is a request the service makes on a caller's behalf, so a careless one is a
server-side request forgery: a URL naming the cloud metadata service (169.254.169.254), a
private address or loopback would let any caller reach inside the network. The rules:

- ``https`` only, except on the local stage, which also allows ``http`` (for development);
- no user name or password in the URL, ASCII only (IDN hosts in their ``xn--`` form);
- IPv4 literals only as four decimal numbers: ``2130706433``, ``0177.0.0.1`` or ``0x7f.1`` are
  refused, because resolvers read them differently (all three are 127.0.0.1 to glibc);
- the host is resolved and EVERY address must be public: no loopback (allowed on the local
  stage), private, link-local (the metadata service), shared CGNAT (100.64/10), unique-local
  IPv6, multicast, unspecified or reserved address, and no IPv6 form that embeds an IPv4
  address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64), which could hide any of those.

``check_callback_url`` returns the addresses it checked; the delivery connects to one of those
very addresses (chalicelib/notices/delivery.py), so DNS cannot answer differently between check and
connect.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.errors import BadRequest

MAX_URL_CHARS = 2048
Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
ADVICE = "callbacks must go to a public address"


@dataclass(frozen=True)
class CallbackTarget:
    url: str
    scheme: str
    host: str  # as written (no brackets): TLS checks the certificate against it
    netloc: str  # the Host header
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # every address the host resolved to, all checked


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_reason(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a callback may not go to ``ip`` (None: it may)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "IPv4-mapped IPv6"
        if ip.sixtofour is not None or ip.teredo is not None or any(ip in n for n in NAT64):
            return "IPv4-embedding IPv6 (6to4, Teredo or NAT64)"
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("link-local (this includes the cloud metadata service)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("shared (carrier-grade NAT)", ip in SHARED_ADDRESS_SPACE),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)


def _literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for; None for a DNS name."""
    try:
        return _parse_address(host)
    except ValueError:
        pass
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if NUMERIC_LABEL.fullmatch(last_label):  # no top-level domain is numeric: an IPv4 form
        raise BadRequest(
            f"callback_url host {host!r} is an IPv4 address in an ambiguous form: write it as "
            "four decimal numbers (like 93.184.215.14), or use a host name"
        )
    return None


# Any: a urlsplit() result whose hostname is checked to be set, which its type cannot say.
def _split(url: object, allow_http: bool) -> tuple[Any, int | None]:
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_CHARS:
        raise BadRequest(f"callback_url must be a URL of 1 to {MAX_URL_CHARS} characters")
    if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise BadRequest(
            "callback_url must be plain ASCII without spaces: percent-encode the path and "
            "write international host names in their xn-- form"
        )
    schemes = ("https", "http") if allow_http else ("https",)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise BadRequest(f"callback_url is not a valid URL ({error})") from None
    if parts.scheme.lower() not in schemes:
        raise BadRequest(f"callback_url must start with {' or '.join(schemes)}://, got {url!r:.80}")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("callback_url must not carry a user name or password")
    if not parts.hostname:
        raise BadRequest("callback_url has no host")
    return parts, port


def check_callback_url(
    url: object, *, allow_loopback: bool = False, resolve: Resolver = system_resolver
) -> CallbackTarget:
    """The URL's target if a callback may go there, else BadRequest saying why not.

    ``allow_loopback`` (the local stage) also allows ``http`` and loopback addresses.
    """
    parts, port = _split(url, allow_http=allow_loopback)
    scheme, host = parts.scheme.lower(), parts.hostname
    port = port or (443 if scheme == "https" else 80)
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise BadRequest(f"callback_url host {host!r} does not resolve to any address")
    for address in addresses:
        reason = forbidden_reason(_parse_address(address), allow_loopback=allow_loopback)
        if reason is not None:
            raise BadRequest(
                f"callback_url host {host!r} resolves to {address}, a {reason} address: {ADVICE}"
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return CallbackTarget(str(url), scheme, host, netloc, port, path, tuple(addresses))
