from django.conf import settings

from conversa.providers import sandbox
from conversa.providers.base import Provider, ProviderError, SendResult
from conversa.providers.evolution import EvolutionProvider


class InProcessSandbox:
    """The sandbox called in-process, with no HTTP in between (SANDBOX_IN_PROCESS=1): it
    accepts instantly, so a benchmark measures the engine, not the wire."""

    supports_lookup = True

    def twin(self, instance):
        return sandbox.get_instance(instance.provider_name)

    def send_text(self, instance, phone: str, body: str, reference: str) -> SendResult:
        try:
            answer = sandbox.accept_send(self.twin(instance), phone, body, reference)
        except sandbox.SandboxError as exc:
            raise ProviderError(str(exc), transient=exc.status >= 500, status=exc.status) from exc
        return SendResult(provider_message_id=answer["key"]["id"])

    def lookup_reference(self, instance, reference: str) -> str | None:
        return sandbox.find_by_reference(self.twin(instance), reference)


def get_provider(instance) -> Provider:
    """The adapter that speaks to `instance`'s provider."""
    if instance.provider == "sandbox" and settings.SANDBOX_IN_PROCESS:
        return InProcessSandbox()
    if instance.provider == "sandbox":
        return EvolutionProvider(
            settings.SANDBOX_URL, settings.SANDBOX_API_KEY, send_reference=True
        )
    if instance.provider == "evolution":
        return EvolutionProvider(settings.EVOLUTION_URL, settings.EVOLUTION_API_KEY)
    raise LookupError(f"provider {instance.provider!r} is not available yet")
