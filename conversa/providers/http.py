"""The provider adapters' one HTTP client, and how a failed exchange is classified."""

import httpx
from django.conf import settings

from conversa.providers.base import MB, ProviderError

# One pooled client per process: keep-alive connections, and the TLS context built once
# (building it per request cost ~45 ms a send).
client = httpx.Client(limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))


def request(method: str, url: str, **kwargs) -> httpx.Response:
    """Call a provider. A transport failure becomes a ProviderError: transient, and ambiguous
    when the request went out and no answer came back (it may have been accepted)."""
    try:
        return client.request(method, url, timeout=settings.PROVIDER_TIMEOUT_SECONDS, **kwargs)
    except (httpx.ConnectTimeout, httpx.ConnectError) as exc:
        raise ProviderError(f"could not connect: {exc}", transient=True) from exc
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise ProviderError(f"no answer: {exc!r}", transient=True, ambiguous=True) from exc
    except httpx.TransportError as exc:
        raise ProviderError(f"connection error: {exc}", transient=True) from exc


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
        raise ProviderError(f"could not connect: {exc}", transient=True) from exc
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise ProviderError(f"no answer: {exc!r}", transient=True) from exc
    except httpx.TransportError as exc:
        raise ProviderError(f"connection error: {exc}", transient=True) from exc


def too_large(max_bytes: int) -> str:
    limit = f"{max_bytes // MB} MB" if max_bytes >= MB else f"{max_bytes // 1024} KB"
    return f"the file is larger than the {limit} WhatsApp allows for its kind"
