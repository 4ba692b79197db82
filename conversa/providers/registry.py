from django.conf import settings

from conversa.providers.base import Provider
from conversa.providers.cloud import CloudProvider
from conversa.providers.evolution import EvolutionProvider
from conversa.sandbox.provider import InProcessSandbox


def get_provider(instance) -> Provider:
    """The adapter that speaks to `instance`'s provider."""
    if instance.provider == "sandbox" and settings.SANDBOX_IN_PROCESS:
        return InProcessSandbox()
    if instance.provider == "sandbox":
        return EvolutionProvider(
            settings.SANDBOX_URL, settings.SANDBOX_API_KEY, send_reference=True
        )
    if instance.provider == "evolution":
        return EvolutionProvider(
            instance.base_url or settings.EVOLUTION_URL,
            instance.api_key or settings.EVOLUTION_API_KEY,
        )
    if instance.provider == "cloud":
        return CloudProvider(settings.CLOUD_API_URL)
    raise LookupError(f"provider {instance.provider!r} is not available yet")
