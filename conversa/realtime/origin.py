"""The WebSocket's same-origin check: a socket is opened only by a page of this very site.

Channels' `AllowedHostsOriginValidator` compares the Origin's host name with ALLOWED_HOSTS and
ignores its scheme and port, so a page served by anything else on the same host (another
port: a dev server, a printer's admin page, a service a customer runs) could open a socket
with the member's cookie and read their organization's events. Here the Origin must name the
scheme, host and port the socket itself was opened on (or be listed, whole, in
CSRF_TRUSTED_ORIGINS, as a form post's Origin would have to be).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_tuple(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as `https://example.com:8443`, None if malformed."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return ""


def socket_scheme(scope: dict) -> str:
    """The page scheme matching the socket's: wss is https. Behind a TLS-terminating proxy
    the socket arrives as ws; SECURE_PROXY_SSL_HEADER (as for pages) says it was wss."""
    if scope.get("scheme") == "wss":
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
        if header(scope, wanted).split(",")[0].strip() == secure_value:
            return "https"
    return "http"


def own_origin(scope: dict) -> tuple[str, str, int] | None:
    """The origin this socket was opened on, from its Host header (itself in ALLOWED_HOSTS)."""
    host = header(scope, b"host")
    if settings.USE_X_FORWARDED_HOST and header(scope, b"x-forwarded-host"):
        host = header(scope, b"x-forwarded-host").split(",")[0].strip()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return origin_tuple(f"{socket_scheme(scope)}://{host}")


def allowed(scope: dict) -> bool:
    """Whether the socket's Origin is its own origin (scheme, host and port) or a trusted one."""
    origin = origin_tuple(header(scope, b"origin"))
    if origin is None:
        return False
    if origin == own_origin(scope):
        return True
    return origin in {origin_tuple(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS}


class SameOriginValidator:
    """ASGI middleware: a WebSocket whose Origin is not this site's is refused before it opens."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
