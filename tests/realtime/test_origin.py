"""The WebSocket origin check compares scheme, host and port (issue 16, item 13)."""

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from conversa.realtime.origin import SameOriginValidator, allowed


def scope(origin: str | None, host: str = "127.0.0.1:8000", scheme: str = "ws", **extra) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    return {"type": "websocket", "path": "/ws/events/", "headers": headers, "scheme": scheme}


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another port on the same host
        "https://127.0.0.1:8000",  # another scheme
        "http://127.0.0.1",  # the default port is another port
        "http://evil.example:8000",  # another host
        "null",
        "",
        None,
        "http://127.0.0.1:99999",  # not a port
    ],
)
def test_other_origins_are_refused(origin):
    assert not allowed(scope(origin))


def test_the_sites_own_origin_is_accepted():
    assert allowed(scope("http://127.0.0.1:8000"))
    assert allowed(scope("HTTP://LOCALHOST:8000", host="localhost:8000"))
    assert allowed(scope("https://localhost", host="localhost", scheme="wss"))
    assert allowed(scope("https://localhost:443", host="localhost", scheme="wss"))


def test_a_host_outside_allowed_hosts_is_refused_even_from_itself():
    assert not allowed(scope("http://evil.example:8000", host="evil.example:8000"))


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = {"x-forwarded-proto": "https"}
    assert allowed(scope("https://localhost", host="localhost", **forwarded))
    assert not allowed(scope("http://localhost", host="localhost", **forwarded))
    assert allowed(scope("http://localhost", host="localhost"))


def test_csrf_trusted_origins_are_accepted_whole(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
    assert allowed(scope("https://app.example.com"))
    assert not allowed(scope("https://app.example.com:8443"))
    assert not allowed(scope("http://app.example.com"))


def handshake(origin: str) -> str:
    """What the server answers a socket opened with `origin` to a server on 127.0.0.1:8000."""

    async def inner(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})

    async def scenario():
        socket = ApplicationCommunicator(SameOriginValidator(inner), scope(origin))
        await socket.send_input({"type": "websocket.connect"})
        return (await socket.receive_output(3))["type"]

    return async_to_sync(scenario)()


def test_a_socket_from_another_port_is_closed_and_the_right_one_accepted():
    assert handshake("http://127.0.0.1:9999") == "websocket.close"
    assert handshake("http://127.0.0.1:8000") == "websocket.accept"


def test_the_application_uses_the_same_origin_check(transactional_db):
    from conversa import asgi

    assert isinstance(asgi.router.application_mapping["websocket"], SameOriginValidator)
