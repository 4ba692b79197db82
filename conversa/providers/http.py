"""The provider adapters' one HTTP client, and how a failed exchange is classified."""

import logging

import httpx
from django.conf import settings

from conversa.providers.base import MB, ProviderError
from conversa.providers.outbound import GuardedBackend, UnsafeAddress

log = logging.getLogger(__name__)

LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20)


def guarded_transport() -> httpx.HTTPTransport:
    """httpx's transport, its connections opened by GuardedBackend (outbound.py): only to
    addresses Conversa may call, to the very address that was checked. The environment still
    names the CA certificates (SSL_CERT_FILE, SSL_CERT_DIR)."""
    transport = httpx.HTTPTransport(limits=LIMITS, trust_env=True)
    # httpx has no parameter for httpcore's network backend; its pool takes one.
    transport._pool._network_backend = GuardedBackend()
    return transport


# One pooled client per process: keep-alive connections, and the TLS context built once
# (building it per request cost ~45 ms a send). Redirects are never followed (httpx's
# default, said aloud): a provider's 3xx is its answer, and a hop would be a new, unchecked
# URL. No proxy from the environment (trust_env off): the guard would then judge the proxy's
# address instead of the provider's.
client = httpx.Client(transport=guarded_transport(), trust_env=False, follow_redirects=False)


def refused_address(exc: httpx.TransportError) -> ProviderError | None:
    """The permanent error for a call the guard stopped (a private or reserved address)."""
    if isinstance(exc.__cause__, UnsafeAddress):
        return ProviderError(str(exc.__cause__), transient=False)
    return None


def body_to_log(response: httpx.Response, what: str, body: bytes | None = None) -> None:
    """A provider's error answer goes to the log (cut short, on one line), never to a page:
    the URL may have been typed by anyone who adds a number, and the body is whatever that
    server says. Request headers (API keys) and query strings are not logged."""
    if body is None:
        try:
            body = response.content
        except httpx.ResponseNotRead:
            body = b""
    try:
        url = str(response.request.url.copy_with(query=None))
    except RuntimeError:  # a response made in-process (SANDBOX_IN_PROCESS) has no request
        url = "?"
    log.warning(
        "%s answered HTTP %s from %s: %r",
        what,
        response.status_code,
        url,
        body[:300].decode("utf-8", "replace"),
    )


# What an error status means, in words for the page (the body itself goes to the log).
STATUS_WORDS = {
    401: "the key was refused",
    403: "the key was refused",
    404: "nothing found at that address",
    429: "too many requests",
}


def refusal(status: int) -> str:
    """'HTTP 401 (the key was refused)': what a page may say of a provider's error answer."""
    words = STATUS_WORDS.get(status) or ("server error" if status >= 500 else "request refused")
    return f"HTTP {status} ({words})"


def request(method: str, url: str, **kwargs) -> httpx.Response:
    """Call a provider. A transport failure becomes a ProviderError: transient, and ambiguous
    when the request went out and no answer came back (it may have been accepted)."""
    try:
        return client.request(method, url, timeout=settings.PROVIDER_TIMEOUT_SECONDS, **kwargs)
    except (httpx.ConnectTimeout, httpx.ConnectError) as exc:
        raise refused_address(exc) or ProviderError(
            f"could not connect: {exc}", transient=True
        ) from exc
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise ProviderError(f"no answer: {exc!r}", transient=True, ambiguous=True) from exc
    except httpx.TransportError as exc:
        raise refused_address(exc) or ProviderError(
            f"connection error: {exc}", transient=True
        ) from exc


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    return float(value) if value and value.isdigit() else None


def download(method: str, url: str, max_bytes: int, **kwargs) -> tuple[httpx.Response, bytes]:
    """As `request`, with the body read as it streams: refused (permanently) past
    `max_bytes`, so a huge or endless answer cannot fill the memory. (The response, its body.)
    """
    try:
        with client.stream(
            method, url, timeout=settings.PROVIDER_TIMEOUT_SECONDS, **kwargs
        ) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ProviderError(too_large(max_bytes), transient=False)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ProviderError(too_large(max_bytes), transient=False)
                chunks.append(chunk)
            return response, b"".join(chunks)
    except (httpx.ConnectTimeout, httpx.ConnectError) as exc:
        raise refused_address(exc) or ProviderError(
            f"could not connect: {exc}", transient=True
        ) from exc
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise ProviderError(f"no answer: {exc!r}", transient=True) from exc
    except httpx.TransportError as exc:
        raise refused_address(exc) or ProviderError(
            f"connection error: {exc}", transient=True
        ) from exc


def too_large(max_bytes: int) -> str:
    limit = f"{max_bytes // MB} MB" if max_bytes >= MB else f"{max_bytes // 1024} KB"
    return f"the file is larger than the {limit} WhatsApp allows for its kind"
