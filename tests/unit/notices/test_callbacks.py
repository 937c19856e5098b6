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
    "192.0.2.10": "documentation",
    "198.18.0.1": "benchmarking",
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
        ("https://internal.example.com/", "resolves to a non-public address"),
        ("https://mixed.example.com/", "resolves to a non-public address"),
        ("https://metadata.example.com/", "resolves to a non-public address"),
        ("https://localhost/", "resolves to a non-public address"),
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
        ("https://hooks.example.com:99999/", "port must be a number from 1 to 65535"),
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
    assert "non-public" in refused("http://internal.example.com/", local=True)
    assert "four decimal numbers" in refused("http://2130706433/", local=True)


def test_the_system_resolver_catches_names_of_private_addresses():
    """No injected resolver: the real one, on names every resolver knows."""
    assert "non-public" in refused_by_system("https://localhost/")
    assert "does not resolve" in refused_by_system("https://no-such-host.invalid/")


def refused_by_system(url: str) -> str:
    with pytest.raises(BadRequest) as caught:
        check_callback_url(url)
    return caught.value.message


# --- what the IANA registries do not mark globally reachable; names and ports ---------------------

# Blocks that ipaddress.is_global passes on Python 3.11 but the IANA registries do not mark
# globally reachable (or that lie outside IPv6 global unicast).
NOT_GLOBALLY_REACHABLE = {
    "fec0::1": "site-local",  # deprecated site-local, outside 2000::/3
    "feff::1": "site-local",
    "3fff::1": "documentation",  # RFC 9637
    "3fff:fff:ffff::1": "documentation",
    "192.88.99.1": "6to4 relay",
    "192.0.0.9": "IETF protocol assignments",  # True in the registry, refused with its /24
    "4000::1": "outside 2000::/3",
}


@pytest.mark.parametrize("address,reason", sorted(NOT_GLOBALLY_REACHABLE.items()))
def test_what_the_registries_do_not_mark_global_is_refused(address, reason):
    assert reason in forbidden_reason(ipaddress.ip_address(address))
    brackets = f"[{address}]" if ":" in address else address
    message = refused(f"https://{brackets}/hook")
    assert reason in message and "is a " in message


def test_every_row_of_the_tables_is_refused_from_end_to_end():
    from chalicelib.notices.callbacks import NON_GLOBAL

    checked = 0
    for block, name in NON_GLOBAL:
        for ip in (block[0], block[-1]):
            assert forbidden_reason(ip) is not None, (block, name)
            checked += 1
    assert checked == 2 * len(NON_GLOBAL) >= 60


@pytest.mark.parametrize(
    "resolved",
    [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], ["fec0::1"], ["3fff::1"],
     ["93.184.215.14", "192.168.7.7"]],
)  # fmt: skip
def test_a_refused_name_never_quotes_what_it_resolved_to(resolved):
    """On AWS, echoing the address would let any tenant map private DNS names."""
    resolve = resolver({"vm": resolved})
    for local in (False, True):
        if local and resolved == ["127.0.0.1"]:
            continue  # the local stage allows loopback
        with pytest.raises(BadRequest) as caught:
            check_callback_url("https://vm/hook", allow_loopback=local, resolve=resolve)
        message = caught.value.message
        assert "host 'vm' resolves to a non-public address" in message
        assert not any(address in message for address in resolved), message
        assert not any(word in message for word in ("loopback", "private", "link-local")), message


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:0/", "https://hooks.example.com:0/", "https://hooks.example.com:65536/",
     "https://hooks.example.com:-1/", "https://hooks.example.com:+443/", "https://[::1]:0/"],
)  # fmt: skip
def test_ports_outside_1_to_65535_are_refused(url):
    assert "port must be a number from 1 to 65535" in refused(url, local=True)


def test_written_ports_are_kept_and_a_missing_one_is_the_default():
    local = check_callback_url("http://127.0.0.1:65535/", allow_loopback=True, resolve=NAMES)
    assert local.port == 65535
    assert check_callback_url("https://hooks.example.com:/", resolve=NAMES).port == 443
    assert check_callback_url("http://localhost/", allow_loopback=True, resolve=NAMES).port == 80
