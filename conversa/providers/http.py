"""The provider adapters' one HTTP client, and how a failed exchange is classified."""

import httpx
from django.conf import settings

from conversa.providers.base import ProviderError

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
