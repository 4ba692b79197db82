from django.conf import settings

from conversa.providers import sandbox
from conversa.providers.base import Provider, ProviderError, SendResult
from conversa.providers.cloud import CloudProvider
from conversa.providers.evolution import EvolutionProvider


class InProcessSandbox:
    """The sandbox in null mode, called in-process (SANDBOX_IN_PROCESS=1): it writes the ledger
    and answers at once, with no HTTP and no status webhooks, so a benchmark measures the engine.
    """

    supports_lookup = True
    inline = True
    # The benchmark's numbers stay open for the whole run: read each once per process.
    twins: dict[str, object] = {}

    def twin(self, instance):
        name = instance.provider_name
        if name not in self.twins:
            self.twins[name] = sandbox.get_instance(name)
        return self.twins[name]

    def send_text(self, instance, phone: str, body: str, reference: str) -> SendResult:
        try:
            message = sandbox.record_send(self.twin(instance), phone, body, reference)
        except sandbox.SandboxError as exc:
            raise ProviderError(str(exc), transient=exc.status >= 500, status=exc.status) from exc
        return SendResult(provider_message_id=message.message_id)

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
        return EvolutionProvider(
            instance.base_url or settings.EVOLUTION_URL,
            instance.api_key or settings.EVOLUTION_API_KEY,
        )
    if instance.provider == "cloud":
        return CloudProvider(settings.CLOUD_API_URL)
    raise LookupError(f"provider {instance.provider!r} is not available yet")
