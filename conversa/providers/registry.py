import re

from django.conf import settings

from conversa.providers.base import Provider
from conversa.providers.cloud import CloudProvider
from conversa.providers.evolution import EvolutionProvider
from conversa.sandbox import tenants
from conversa.sandbox.provider import InProcessSandbox

# A CLOUD_API_URL set with its version (as it was before GRAPH_API_VERSION existed).
VERSIONED = re.compile(r"/v[0-9]+\.[0-9]+$")


def graph_url() -> str:
    """The Graph API base the Cloud API adapter calls: CLOUD_API_URL + GRAPH_API_VERSION."""
    base = settings.CLOUD_API_URL.rstrip("/")
    if VERSIONED.search(base):
        return base
    return f"{base}/{settings.GRAPH_API_VERSION}"


def sandbox_tenant(organization_id: int) -> str:
    """The opaque tenant the simulator keeps for an organization: its id."""
    return str(organization_id)


def get_provider(number) -> Provider:
    """The adapter that speaks to `number`'s provider."""
    if number.provider == "sandbox" and settings.SANDBOX_IN_PROCESS:
        return InProcessSandbox()
    if number.provider == "sandbox":
        # The organization's own key, never the global one: its numbers are its own in the
        # simulator, and it reads no other organization's (conversa/sandbox/tenants.py).
        return EvolutionProvider(
            settings.SANDBOX_URL,
            tenants.api_key_for(sandbox_tenant(number.organization_id)),
            send_reference=True,
        )
    if number.provider == "evolution":
        return EvolutionProvider(
            number.base_url or settings.EVOLUTION_URL,
            number.api_key or settings.EVOLUTION_API_KEY,
        )
    if number.provider == "cloud":
        return CloudProvider(graph_url())
    raise LookupError(f"provider {number.provider!r} is not available yet")
