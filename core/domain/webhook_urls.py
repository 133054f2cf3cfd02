"""Which URLs a webhook may be delivered to. A deployed stack delivers only over https and
never to an address inside a network (loopback, private, link-local, the cloud metadata
service, multicast, reserved): a merchant must not be able to make paygate call into its
own infrastructure (SSRF). The addresses are checked at registration and again, after
DNS resolution, at each delivery. The local stack also allows loopback over http."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.domain.errors import PaygateError

MAX_URL_LENGTH = 2048


class InvalidWebhookUrlError(PaygateError):
    """paygate may not deliver to this URL."""

    field = "url"


@dataclass(frozen=True)
class EndpointUrl:
    url: str
    scheme: str
    host: str
    port: int


def address_refused(address: str, *, allow_loopback: bool) -> str | None:
    """Why an IP address may not be called, or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches the IPv4 network: judged as that.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return address_refused(str(embedded), allow_loopback=allow_loopback)
        if ip.is_site_local:
            return "a site-local address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address (the cloud metadata service among them)"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


def check_endpoint_url(url: str, *, allow_loopback: bool) -> EndpointUrl:
    """The URL's parts, if paygate may deliver to it (its host's addresses are checked
    separately, once resolved)."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrlError(f"a URL of at most {MAX_URL_LENGTH} characters")
    if not (url.isascii() and url.isprintable()) or " " in url:
        raise InvalidWebhookUrlError(
            "the URL may hold printable ASCII characters only, no spaces: percent-encode "
            "the others, and write an international host name in its xn-- form"
        )
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidWebhookUrlError(
            "the URL cannot be read: a [ or ] out of place, or a port that is not a number "
            "from 1 to 65535"
        ) from None
    schemes = ("https", "http") if allow_loopback else ("https",)
    if parts.scheme not in schemes:
        starts = " or ".join(f"{scheme}://" for scheme in schemes)
        raise InvalidWebhookUrlError(f"the URL must start with {starts}")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrlError("the URL must not carry a user name or password")
    host = (hostname or "").removesuffix(".").lower()
    if not host:
        raise InvalidWebhookUrlError("the URL has no host")
    if port == 0:
        raise InvalidWebhookUrlError("the URL's port is not a number from 1 to 65535")
    if "%" in host:
        raise InvalidWebhookUrlError("the URL's host may not name a network interface (%)")
    if "[" in parts.netloc and not _is_ip(host):
        raise InvalidWebhookUrlError("the URL's host in [ ] is not an IPv6 address")
    if not (_is_ip(host) or _is_host_name(host)):
        raise InvalidWebhookUrlError(
            "the URL's host is neither an IP address nor a host name (labels of 1 to 63 "
            "letters, digits or hyphens, separated by dots)"
        )
    loopback_name = host == "localhost" or host.endswith(".localhost")
    if loopback_name and not allow_loopback:
        raise InvalidWebhookUrlError("the URL's host is a loopback address")
    if _is_ip(host):
        reason = address_refused(host, allow_loopback=allow_loopback)
        if reason:
            raise InvalidWebhookUrlError(f"the URL's host is {reason}")
    if parts.scheme == "http" and not (loopback_name or _is_loopback_ip(host)):
        raise InvalidWebhookUrlError("http is only for loopback addresses; use https")
    default_port = 443 if parts.scheme == "https" else 80
    return EndpointUrl(url=url, scheme=parts.scheme, host=host, port=port or default_port)


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_HOST_NAME_LENGTH = 253


def _is_host_name(host: str) -> bool:
    return len(host) <= MAX_HOST_NAME_LENGTH and all(
        _LABEL.match(label) for label in host.split(".")
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback_ip(host: str) -> bool:
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback
