"""The SSRF guard on callback URLs: a table of addresses, literal forms and resolved names."""

from __future__ import annotations

import ipaddress

import pytest

from chalicelib.errors import BadRequest
from chalicelib.notices.callbacks import MAX_URL_CHARS, check_callback_url, forbidden_reason

PUBLIC_V4, PUBLIC_V6 = "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

FORBIDDEN = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "::1": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # the cloud metadata service
    "169.254.0.1": "link-local",
    "fe80::1": "link-local",
    "100.64.0.1": "shared",
    "100.127.255.254": "shared",
    "fc00::1": "private",
    "fd00:ec2::254": "private",  # the metadata service over IPv6
    "::ffff:127.0.0.1": "IPv4-mapped",
    "::ffff:169.254.169.254": "IPv4-mapped",
    "::ffff:8.8.8.8": "IPv4-mapped",  # refused whatever it maps to
    "2002:7f00:1::": "IPv4-embedding",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe": "IPv4-embedding",  # NAT64 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "IPv4-embedding",  # Teredo
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "ff0e::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "private",  # documentation range
    "198.18.0.1": "private",  # benchmarking range
}


@pytest.mark.parametrize("address,reason", sorted(FORBIDDEN.items()))
def test_forbidden_addresses_are_named(address, reason):
    assert reason in forbidden_reason(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC_V4, "8.8.8.8", "1.1.1.1", PUBLIC_V6])
def test_public_addresses_pass(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_loopback_only_on_the_local_stage():
    for address in ("127.0.0.1", "::1"):
        assert forbidden_reason(ipaddress.ip_address(address), allow_loopback=True) is None
    for address in ("10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1"):
        assert forbidden_reason(ipaddress.ip_address(address), allow_loopback=True)


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"{host}: name not known")
        return table[host]

    return resolve


NAMES = resolver(
    {
        "hooks.example.com": [PUBLIC_V4, PUBLIC_V6],
        "internal.example.com": ["10.1.2.3"],
        "mixed.example.com": [PUBLIC_V4, "169.254.169.254"],  # one bad address is enough
        "metadata.example.com": ["::ffff:169.254.169.254"],
        "localhost": ["127.0.0.1", "::1"],
    }
)


def refused(url: str, *, local: bool = False) -> str:
    with pytest.raises(BadRequest) as caught:
        check_callback_url(url, allow_loopback=local, resolve=NAMES)
    return caught.value.message


@pytest.mark.parametrize(
    "url,words",
    [
        ("http://hooks.example.com/x", "https://"),
        ("ftp://hooks.example.com/x", "https://"),
        ("https://internal.example.com/", "10.1.2.3, a private address"),
        ("https://mixed.example.com/", "169.254.169.254, a link-local"),
        ("https://metadata.example.com/", "IPv4-mapped"),
        ("https://localhost/", "loopback"),
        ("https://127.0.0.1/", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:7f00:1]/", "IPv4-mapped"),
        ("https://[fd00:ec2::254]/", "private"),
        ("https://100.64.0.1/", "shared"),
        ("https://2130706433/", "four decimal numbers"),  # 127.0.0.1 as one decimal number
        ("https://0177.0.0.1/", "four decimal numbers"),  # octal
        ("https://0x7f.0.0.1/", "four decimal numbers"),  # hex
        ("https://0x7f000001/", "four decimal numbers"),
        ("https://127.1/", "four decimal numbers"),
        ("https://017700000001/", "four decimal numbers"),
        ("https://134744072/", "four decimal numbers"),  # 8.8.8.8, still ambiguous
        ("https://nowhere.example.com/", "does not resolve"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("https:///path-only", "no host"),
        ("https://[::1/", "not a valid URL"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://hooks.example.com/a b", "ASCII without spaces"),
        ("https://hööks.example.com/", "xn--"),
        ("hooks.example.com/x", "https://"),
        ("", "1 to"),
        ("https://hooks.example.com/" + "a" * MAX_URL_CHARS, "1 to"),
    ],
)
def test_bad_callback_urls_are_refused_with_the_reason(url, words):
    assert words in refused(url)


def test_a_public_url_gives_the_addresses_it_checked():
    target = check_callback_url("https://hooks.example.com:8443/in?x=1", resolve=NAMES)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert target.netloc == "hooks.example.com:8443" and target.path == "/in?x=1"
    assert target.addresses == (PUBLIC_V4, PUBLIC_V6)


def test_public_ip_literals_are_not_resolved():
    target = check_callback_url(f"https://[{PUBLIC_V6}]/", resolve=resolver({}))
    assert target.addresses == (PUBLIC_V6,) and target.netloc == f"[{PUBLIC_V6}]"
    assert check_callback_url(f"https://{PUBLIC_V4}/", resolve=resolver({})).port == 443


def test_the_local_stage_allows_http_to_loopback_only():
    target = check_callback_url("http://127.0.0.1:8124/hook", allow_loopback=True, resolve=NAMES)
    assert target.addresses == ("127.0.0.1",) and target.port == 8124
    local = check_callback_url("http://localhost/", allow_loopback=True, resolve=NAMES)
    assert local.addresses == ("127.0.0.1", "::1")
    assert "private" in refused("http://internal.example.com/", local=True)
    assert "four decimal numbers" in refused("http://2130706433/", local=True)


def test_the_system_resolver_catches_names_of_private_addresses():
    """No injected resolver: the real one, on names every resolver knows."""
    assert "loopback" in refused_by_system("https://localhost/")
    assert "does not resolve" in refused_by_system("https://no-such-host.invalid/")


def refused_by_system(url: str) -> str:
    with pytest.raises(BadRequest) as caught:
        check_callback_url(url)
    return caught.value.message
