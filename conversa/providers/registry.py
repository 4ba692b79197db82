from django.conf import settings

from conversa.providers.base import Provider
from conversa.providers.evolution import EvolutionProvider


def get_provider(instance) -> Provider:
    """The adapter that speaks to `instance`'s provider."""
    if instance.provider == "sandbox":
        return EvolutionProvider(
            settings.SANDBOX_URL, settings.SANDBOX_API_KEY, send_reference=True
        )
    if instance.provider == "evolution":
        return EvolutionProvider(settings.EVOLUTION_URL, settings.EVOLUTION_API_KEY)
    raise LookupError(f"provider {instance.provider!r} is not available yet")
