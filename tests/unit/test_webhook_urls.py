"""Where webhooks may go (SSRF): https to public addresses on a deployed stack; loopback
over http too on the local stack; never into a network."""

from __future__ import annotations

import pytest

from core.domain.webhook_urls import InvalidWebhookUrlError, address_refused, check_endpoint_url

REFUSED_ADDRESSES = {
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.9": "private",
    "192.168.1.1": "private",
    "fd00::1": "private",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "::ffff:10.0.0.1": "private",
    "224.0.0.1": "multicast",
    "0.0.0.0": "unspecified",  # noqa: S104 (an address refused, not bound)
    "100.64.0.1": "not a public address",
    "240.0.0.1": "reserved",
    # IPv4 inside IPv6 (6to4) is judged as the IPv4 address it reaches
    "2002:7f00:1::": "loopback",
    "2002:a9fe:a9fe::1": "link-local",
    "2002:c0a8:101::": "private",
    "fec0::1": "site-local",
}


@pytest.mark.parametrize(("address", "kind"), REFUSED_ADDRESSES.items())
def test_every_internal_address_class_is_refused(address: str, kind: str) -> None:
    reason = address_refused(address, allow_loopback=False)
    assert reason is not None and kind in reason
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(InvalidWebhookUrlError, match=kind):
        check_endpoint_url(f"https://{host}/hooks", allow_loopback=False)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "2002:5db8:d70e::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refused(address, allow_loopback=False) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hooks", "https://"),
        ("ftp://example.com/hooks", "https://"),
        ("https://localhost/hooks", "loopback"),
        ("https://api.localhost/hooks", "loopback"),
        ("https://user:pw@example.com/hooks", "user name or password"),
        ("https:///hooks", "no host"),
        ("https://example.com:99999/hooks", "port"),
        ("https://exa mple.com/", "no spaces"),
        ("", "at most 2048"),
        ("https://example.com/" + "a" * 2100, "at most 2048"),
        ("https://[::1", "cannot be read"),
        ("https://[example.com]/hooks", "cannot be read"),
        ("https://[v1.x]/hooks", "not an IPv6 address"),
        # A zone names an interface of the sender's host; no certificate carries it
        ("https://[2606:4700::1%251]/hooks", "network interface"),
        ("https://" + "a" * 64 + ".example.com/hooks", "host name"),
        ("https://shop..example.com/hooks", "host name"),
        ("https://.example.com/hooks", "host name"),
        ("https://-shop.example.com/hooks", "host name"),
        ("https://shop_1.example.com/hooks", "host name"),
        ("https://" + "a." * 127 + "com/", "host name"),
        ("https://example.com:0/hooks", "port"),
        # Characters no request line can carry: such an endpoint could never be delivered to
        ("https://example.com/\x00", "printable ASCII"),
        ("https://example.com/a\tb", "printable ASCII"),
        ("https://example.com/\x7f", "printable ASCII"),
        ("https://shöp.example.com/", "xn-- form"),
        ("https://example.com/caf\u00e9", "percent-encode"),
        ("https://example.com/\ud800", "printable ASCII"),
    ],
)
def test_a_deployed_stack_refuses_urls_it_may_not_call(url: str, why: str) -> None:
    with pytest.raises(InvalidWebhookUrlError, match=why):
        check_endpoint_url(url, allow_loopback=False)


def test_https_to_a_public_name_is_allowed() -> None:
    parsed = check_endpoint_url("https://Shop.Example.com./hooks?x=1", allow_loopback=False)
    assert (parsed.scheme, parsed.host, parsed.port) == ("https", "shop.example.com", 443)


def test_the_local_stack_allows_loopback_over_http_and_nothing_else_new() -> None:
    for url in ("http://127.0.0.1:8421/hooks", "http://localhost:9000/", "https://[::1]/"):
        check_endpoint_url(url, allow_loopback=True)
    with pytest.raises(InvalidWebhookUrlError, match="private"):
        check_endpoint_url("http://10.0.0.5/hooks", allow_loopback=True)
    with pytest.raises(InvalidWebhookUrlError, match="only for loopback"):
        check_endpoint_url("http://example.com/hooks", allow_loopback=True)


_PRINTABLE = (
    "the URL may hold printable ASCII characters only, no spaces: percent-encode the others, "
    "and write an international host name in its xn-- form"
)


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("http://example.com/hooks", "the URL must start with https://"),
        ("https://localhost/hooks", "the URL's host is a loopback address"),
        ("https://[::1]/", "the URL's host is a loopback address"),
        ("https://exa mple.com/", _PRINTABLE),
        (
            "https://[::1",
            "the URL cannot be read: a [ or ] out of place, or a port that is not a number "
            "from 1 to 65535",
        ),
        ("https://[fec0::1]/", "the URL's host is a site-local address"),
        ("https://[ff02::1]/", "the URL's host is a multicast address"),
        ("https://0.0.0.0/", "the URL's host is an unspecified address"),
        (
            "https://169.254.169.254/",
            "the URL's host is a link-local address (the cloud metadata service among them)",
        ),
        ("https://240.0.0.1/", "the URL's host is a reserved address"),
        ("https://10.0.0.1/", "the URL's host is a private address"),
        ("https://100.64.0.1/", "the URL's host is not a public address"),
        ("https://user@example.com/", "the URL must not carry a user name or password"),
        ("https:///hooks", "the URL has no host"),
        ("https://example.com:0/", "the URL's port is not a number from 1 to 65535"),
        (
            "https://[2606:4700::1%251]/",
            "the URL's host may not name a network interface (%)",
        ),
        ("https://[v1.x]/", "the URL's host in [ ] is not an IPv6 address"),
        (
            "https://shop_1.example.com/",
            "the URL's host is neither an IP address nor a host name (labels of 1 to 63 "
            "letters, digits or hyphens, separated by dots)",
        ),
        ("", "a URL of at most 2048 characters"),
    ],
)
def test_a_refused_url_is_answered_in_the_words_a_merchant_reads(url: str, answer: str) -> None:
    # A known answer: the 422's message for each kind of refusal
    with pytest.raises(InvalidWebhookUrlError) as refused:
        check_endpoint_url(url, allow_loopback=False)
    assert str(refused.value) == answer


def test_the_local_stack_answers_plain_http_elsewhere_with_how_to_fix_it() -> None:
    with pytest.raises(InvalidWebhookUrlError) as refused:
        check_endpoint_url("http://example.com/hooks", allow_loopback=True)
    assert str(refused.value) == "http is only for loopback addresses; use https"
    with pytest.raises(InvalidWebhookUrlError) as refused:
        check_endpoint_url("ftp://example.com/hooks", allow_loopback=True)
    assert str(refused.value) == "the URL must start with https:// or http://"


def test_a_url_of_2048_characters_is_taken_and_one_longer_is_not() -> None:
    longest = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    check_endpoint_url(longest, allow_loopback=False)
    with pytest.raises(InvalidWebhookUrlError, match="at most 2048"):
        check_endpoint_url(longest + "a", allow_loopback=False)


def test_a_url_keeps_what_was_registered_and_its_schemes_default_port() -> None:
    local = check_endpoint_url("http://127.0.0.1/hooks?x=1", allow_loopback=True)
    public = check_endpoint_url("https://example.com/hooks", allow_loopback=False)

    assert (local.url, local.port) == ("http://127.0.0.1/hooks?x=1", 80)
    assert (public.url, public.port) == ("https://example.com/hooks", 443)


def test_a_host_name_of_253_characters_is_a_host_name_and_254_is_not() -> None:
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(longest) == 253
    check_endpoint_url(f"https://{longest}/", allow_loopback=False)
    with pytest.raises(InvalidWebhookUrlError, match="host name"):
        check_endpoint_url(f"https://{longest}e/", allow_loopback=False)


def test_the_local_stack_allows_loopback_reached_through_an_ipv6_6to4_address() -> None:
    assert address_refused("2002:7f00:1::", allow_loopback=True) is None
