"""Which addresses Conversa may call, and the network backend that holds every provider call
to it (issue 16, problem 3: "Add number" could make the server call its own loopback, the
private network or the cloud's metadata service, with the organization's API key).

The rule: a URL a member types (an Evolution server) or a provider hands back (a media link)
must resolve to public addresses only. Loopback, private, link-local (the metadata service at
169.254.169.254 included), CGNAT, multicast, unspecified and reserved addresses are refused,
IPv4 and IPv6 alike, IPv4 hidden in IPv6 (::ffff:127.0.0.1, 64:ff9b::/96, 6to4) too.

Two exceptions, both decided by whoever runs the server, never by a member:
- the host and port of the URLs configured in the environment (SANDBOX_URL while the simulator
  is on, CLOUD_API_URL, and EVOLUTION_URL when it is set explicitly): the operator chose them;
- ALLOW_PRIVATE_PROVIDER_URLS (on by default only with DEBUG), for development against an
  Evolution server on the local network. The test suite runs with DEBUG off and the guard on;
  tests that stand up their own provider on 127.0.0.1 turn this setting on for themselves.

The check happens where the connection is opened (`GuardedBackend.connect_tcp`): the name is
resolved once, every address it resolves to is checked, and the socket connects to the address
that was checked. A name that resolves to a public address for the check and to 127.0.0.1 a
moment later (DNS rebinding) cannot slip through, as nothing resolves it a second time; TLS
still verifies the certificate against the name (httpcore passes the URL's host as SNI), and
the Host header is the URL's.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore
from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Prefixes that carry an IPv4 address in IPv6 (the embedded address decides).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class UnsafeAddress(httpcore.ConnectError):
    """A provider URL that leads to an address Conversa does not call."""


def embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo:
        return ip.teredo[1]
    return None


def is_public(ip: Address) -> bool:
    """Whether `ip` is a public unicast address (and so is any IPv4 address hidden in it)."""
    inner = embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    if ip in NAT64_LOCAL:
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (an address literal is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"could not resolve {host}") from exc
    found: list[Address] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


def origin(url: str) -> tuple[str, int] | None:
    """(host, port) of a URL, as the connection to it is opened."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname.lower(), port


def trusted_origins() -> set[tuple[str, int]]:
    """The hosts and ports the operator configured (read per call: tests move them)."""
    urls = [settings.CLOUD_API_URL, *settings.PROVIDER_TRUSTED_URLS]
    if settings.SANDBOX_ENABLED:
        urls.append(settings.SANDBOX_URL)
    return {found for found in map(origin, urls) if found}


def pinned_address(host: str, port: int) -> str:
    """The address to connect to for `host`:`port`: resolved once, and every answer checked.
    Raises UnsafeAddress when the name leads (even partly) somewhere Conversa does not call."""
    host = host.strip("[]").lower()
    addresses = resolve(host, port)
    if not addresses:
        raise httpcore.ConnectError(f"could not resolve {host}")
    if settings.ALLOW_PRIVATE_PROVIDER_URLS or (host, port) in trusted_origins():
        return str(addresses[0])
    if not all(is_public(ip) for ip in addresses):
        raise UnsafeAddress(f"{host} is a private or reserved address; Conversa does not call it")
    return str(addresses[0])


def check_url(url: str) -> None:
    """Raise UnsafeAddress (or ConnectError when the name does not resolve) for a URL a
    connection would be refused to: what a form calls to explain itself before the call."""
    found = origin(url)
    if found is None:
        raise httpcore.ConnectError("not an http(s) URL")
    pinned_address(*found)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses `pinned_address` allows."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = pinned_address(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)
