"""Outbound requests are safe (issue 16, item 11 and problem 3): provider URLs that lead to
private, loopback, link-local, CGNAT, multicast, unspecified or metadata addresses are refused,
the address checked is the one connected to, redirects are not followed, and what a provider
answers goes to the log, not to the page."""

import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversa.numbers.models import Number
from conversa.providers import http, outbound
from conversa.providers.base import ProviderError
from conversa.providers.evolution import EvolutionProvider

REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",  # noqa: S104 (an address to refuse, not to bind)
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",  # AWS, GCP, Azure metadata
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",  # reserved
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:db8::1",  # documentation
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "157.240.22.35", "2606:4700:4700::1111", "2a03:2880:f10c::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_each_private_or_reserved_class_is_refused(address):
    assert not outbound.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert outbound.is_public(ipaddress.ip_address(address))


NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "0.0.0.0/8",
    "::1/128",
    "fe80::/10",
    "fc00::/7",
    "ff00::/8",
]


@given(st.sampled_from(NETWORKS), st.integers(min_value=0, max_value=2**128 - 1))
def test_any_address_of_a_private_range_is_refused_also_inside_ipv6(network, offset):
    net = ipaddress.ip_network(network)
    ip = net[offset % net.num_addresses]
    assert not outbound.is_public(ip)
    if ip.version == 4:
        assert not outbound.is_public(ipaddress.IPv6Address(f"::ffff:{ip}"))
        assert not outbound.is_public(ipaddress.IPv6Address(int(ip) | (0x64FF9B << 96)))


def resolving(monkeypatch, *answers: list[str]) -> list[str]:
    """Make every name resolve to the next of `answers` (the last one repeats); returns the
    names that were resolved, in order."""
    asked: list[str] = []
    queue = list(answers)

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)
    return asked


def connections(monkeypatch) -> list[tuple[str, int]]:
    """Record where sockets are opened, and open none (a ConnectError)."""
    opened: list[tuple[str, int]] = []

    def connect_tcp(self, host, port, *args, **kwargs):
        opened.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    return opened


def test_a_name_resolving_to_loopback_is_refused_before_connecting(monkeypatch):
    resolving(monkeypatch, ["127.0.0.1"])
    opened = connections(monkeypatch)
    with pytest.raises(ProviderError) as refused:
        http.request("GET", "https://evolution.example.com/instance/fetchInstances")
    assert refused.value.transient is False
    assert "private or reserved" in str(refused.value)
    assert opened == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    resolving(monkeypatch, ["8.8.8.8", "10.0.0.7"])
    opened = connections(monkeypatch)
    with pytest.raises(ProviderError):
        http.request("GET", "https://evolution.example.com/")
    assert opened == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:8000/",
        "http://2130706433/",  # 127.0.0.1 as one number
    ],
)
def test_address_literals_are_refused_at_the_call(monkeypatch, url):
    opened = connections(monkeypatch)
    with pytest.raises(ProviderError) as refused:
        EvolutionProvider(url, "the-organizations-key").create_instance(
            Number(provider_name="x", webhook_secret="s"), "https://conversa.example/hook"
        )
    assert refused.value.transient is False
    assert opened == []


def test_dns_rebinding_connects_to_the_address_that_was_checked(monkeypatch):
    """The name answers a public address, then 127.0.0.1: it is resolved once per connection,
    and the socket goes to the public address that was checked, never to the second answer."""
    asked = resolving(monkeypatch, ["93.184.216.34"], ["127.0.0.1"])
    opened = connections(monkeypatch)
    with pytest.raises(ProviderError):
        http.request("GET", "https://rebind.example.com:8443/x")
    assert asked == ["rebind.example.com"]
    assert opened == [("93.184.216.34", 8443)]


def test_a_public_name_is_connected_to_by_its_checked_address(monkeypatch):
    resolving(monkeypatch, ["2a03:2880:f10c::1"])
    opened = connections(monkeypatch)
    with pytest.raises(ProviderError) as failed:
        http.request("GET", "https://graph.example.com/v25.0/me")
    assert failed.value.transient is True  # an ordinary connection failure, retried
    assert opened == [("2a03:2880:f10c::1", 443)]


class Server:
    """A local HTTP server answering every request with `answer` (status, headers, body)."""

    def __init__(self, status=200, headers=None, body=b"{}"):
        self.hits: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.answer()

            def answer(self):
                server.hits.append((self.path, dict(self.headers)))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    made: list[Server] = []
    yield lambda **kw: made.append(Server(**kw)) or made[-1]
    for server in made:
        server.close()


def test_a_loopback_server_is_never_reached(servers):
    inner = servers()
    with pytest.raises(ProviderError):
        http.request("GET", f"{inner.url}/secret")
    assert inner.hits == []


def test_configured_urls_are_trusted_by_host_and_port_only(servers, settings):
    trusted, other = servers(), servers()
    settings.PROVIDER_TRUSTED_URLS = [trusted.url]
    assert http.request("GET", f"{trusted.url}/ok").status_code == 200
    with pytest.raises(ProviderError):
        http.request("GET", f"{other.url}/ok")
    assert other.hits == []


def test_allow_private_provider_urls_lets_development_reach_the_local_network(servers, settings):
    local = servers()
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    assert http.request("GET", f"{local.url}/ok").status_code == 200


def test_a_redirect_is_not_followed(servers, settings):
    inner = servers()
    redirecting = servers(status=302, headers={"Location": f"{inner.url}/latest/meta-data/"})
    settings.PROVIDER_TRUSTED_URLS = [redirecting.url, inner.url]
    assert http.request("GET", f"{redirecting.url}/media").status_code == 302
    assert inner.hits == []


def add_evolution(org, base_url: str, api_key: str = "the-organizations-key"):
    return org.client().post(
        "/numbers/add",
        {"name": "Evolution", "provider": "evolution", "base_url": base_url, "api_key": api_key},
    )


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "169.254.169.254", "10.1.2.3", "[::ffff:127.0.0.1]"]
)
def test_add_number_refuses_a_private_server_with_a_form_error(org, servers, host):
    inner = servers()
    port = inner.url.rsplit(":", 1)[1]
    answer = add_evolution(org, f"http://{host}:{port}")
    assert answer.status_code == 422
    assert b"private or reserved network" in answer.content
    assert b"Required for this provider." not in answer.content
    assert inner.hits == [], "the organization's API key went nowhere"
    assert not Number.objects.filter(name="Evolution").exists()


def test_add_number_refuses_a_name_that_resolves_to_a_private_address(org, monkeypatch):
    resolving(monkeypatch, ["10.0.0.9"])
    opened = connections(monkeypatch)
    answer = add_evolution(org, "https://evolution.internal.example")
    assert answer.status_code == 422
    assert b"private or reserved network" in answer.content
    assert opened == []


def test_add_number_shows_no_answer_text_and_logs_it_without_the_key(
    org, servers, settings, caplog
):
    body = b'{"message": "INTERNAL-DETAIL from the server", "stack": "at Object.<anonymous>"}'
    server = servers(status=401, body=body)
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True  # as in development: the call goes out
    with caplog.at_level(logging.WARNING, logger="conversa.providers.http"):
        answer = add_evolution(org, server.url, api_key="k3y-never-logged")
    assert answer.status_code == 422
    assert b"HTTP 401 (the key was refused)" in answer.content
    assert b"INTERNAL-DETAIL" not in answer.content
    assert b"anonymous" not in answer.content
    assert "INTERNAL-DETAIL" in caplog.text
    assert "k3y-never-logged" not in caplog.text
    assert server.hits, "the call went out"


def test_evolution_error_messages_go_to_the_log(servers, settings, caplog):
    server = servers(body=b'{"error": true, "message": "whatever the server says"}')
    settings.PROVIDER_TRUSTED_URLS = [server.url]
    with pytest.raises(ProviderError) as refused:
        EvolutionProvider(server.url, "k").restart(Number(provider_name="x"))
    assert "whatever the server says" not in str(refused.value)
    assert "whatever the server says" in caplog.text


def test_check_url_explains_unknown_names(monkeypatch):
    def fails(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fails)
    with pytest.raises(httpcore.ConnectError) as failed:
        outbound.check_url("https://nowhere.invalid")
    assert not isinstance(failed.value, outbound.UnsafeAddress)


def test_private_provider_urls_are_allowed_by_default_only_with_debug():
    from tests.security.test_headers import run_settings

    assert run_settings("ALLOW_PRIVATE_PROVIDER_URLS") is False
    assert run_settings("ALLOW_PRIVATE_PROVIDER_URLS", DEBUG="1") is True
    assert run_settings("PROVIDER_TRUSTED_URLS", EVOLUTION_URL="http://10.0.0.2:8080") == [
        "http://10.0.0.2:8080"
    ]


def test_no_proxy_from_the_environment_and_every_connection_guarded():
    assert http.client.trust_env is False
    assert http.client.follow_redirects is False
    assert isinstance(http.client._transport._pool._network_backend, outbound.GuardedBackend)
    assert http.client._mounts == {}
