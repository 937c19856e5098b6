"""Callback URLs: where a job may send its completion notice (checked at submit and at delivery).

A callback is a request the service makes on a caller's behalf, so a careless one is a
server-side request forgery: a URL naming the cloud metadata service (169.254.169.254), a
private address or loopback would let any caller reach inside the network. The rules:

- ``https`` only, except on the local stage, which also allows ``http`` (for development);
- no user name or password in the URL, ASCII only (IDN hosts in their ``xn--`` form);
- IPv4 literals only as four decimal numbers: ``2130706433``, ``0177.0.0.1`` or ``0x7f.1`` are
  refused, because resolvers read them differently (all three are 127.0.0.1 to glibc);
- a port, if written, from 1 to 65535 (``:0`` is not "the default port");
- the host is resolved and EVERY address must be globally reachable: none of the blocks the IANA
  special-purpose registries do not mark so (the tables below: loopback, allowed on the local
  stage; private-use; link-local, which holds the metadata service; shared CGNAT; documentation;
  benchmarking; ...), no multicast, no IPv6 outside global unicast 2000::/3 (such as the
  deprecated site-local fec0::/10), and no IPv6 form that embeds an IPv4 address (IPv4-mapped
  ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64), which could hide any of those;
- a refusal never quotes what a NAME resolved to: the message would let any caller map private
  DNS names (which host is at which internal address). It says "a non-public address" only.

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
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
ADVICE = "callbacks must go to a public address"
NAME_ADVICE = "use a host name whose every address is public, or a public IP address"

# IANA "IPv4 Special-Purpose Address Registry" (iana-ipv4-special-registry): every block whose
# "Globally Reachable" is False or N/A. Where such a block holds a smaller block marked True
# (192.0.0.9/32 and 192.0.0.10/32: PCP and TURN anycast), the whole block is refused all the same:
# no webhook receiver lives on a protocol's anycast address. The first matching row names it.
NON_GLOBAL_V4 = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private-use"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (this includes the cloud metadata service)"),
    ("172.16.0.0/12", "private-use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", "private-use"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "limited broadcast"),
    # Not in that registry but not unicast either (IANA "IPv4 Address Space" registry):
    ("224.0.0.0/4", "multicast"),
)
# IANA "IPv6 Special-Purpose Address Registry" (iana-ipv6-special-registry): every block whose
# "Globally Reachable" is False or N/A. Inside 2001::/23 the registry marks a few smaller blocks
# True (PCP, TURN and DNS-SD SRP anycast, AMT, AS112, ORCHIDv2, drone DETs): refused all the same.
NON_GLOBAL_V6 = (
    ("::1/128", "loopback"),
    ("::/128", "unspecified"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6) SIDs"),
    ("fc00::/7", "unique-local (private)"),
    ("fe80::/10", "link-local"),
    # From the IANA "Internet Protocol Version 6 Address Space" registry, named for the message;
    # everything outside 2000::/3 (its global unicast space) is refused anyway.
    ("fec0::/10", "deprecated site-local"),
    ("ff00::/8", "multicast"),
)
IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
NON_GLOBAL = tuple(
    (ipaddress.ip_network(block), name) for block, name in (*NON_GLOBAL_V4, *NON_GLOBAL_V6)
)


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
    if ip.is_loopback and allow_loopback:
        return None
    named = next((name for block, name in NON_GLOBAL if ip in block), None)
    if named is not None:
        return named
    if isinstance(ip, ipaddress.IPv6Address) and ip not in IPV6_GLOBAL_UNICAST:
        return "non-unicast IPv6 (outside 2000::/3)"
    return None if ip.is_global else "non-public"  # Python's own list, in case it knows more


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
    except ValueError as error:
        raise BadRequest(f"callback_url is not a valid URL ({error})") from None
    try:
        port = parts.port
    except ValueError:  # not digits, or above 65535
        port = 0
    if port is not None and not 1 <= port <= 65535:
        raise BadRequest(
            "callback_url port must be a number from 1 to 65535, or left out "
            "(443 for https, 80 for http)"
        )
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
    port = port or (443 if scheme == "https" else 80)  # None: not written
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
    reasons = (
        forbidden_reason(_parse_address(a), allow_loopback=allow_loopback) for a in addresses
    )
    reason = next((r for r in reasons if r is not None), None)
    if reason is not None and literal is not None:  # the caller's own words: name the kind
        raise BadRequest(f"callback_url host {host!r} is a {reason} address: {ADVICE}")
    if reason is not None:  # never which address, nor what kind: see the module docstring
        raise BadRequest(
            f"callback_url host {host!r} resolves to a non-public address: {NAME_ADVICE}"
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return CallbackTarget(str(url), scheme, host, netloc, port, path, tuple(addresses))
