"""The simulator as a provider inside the process, for benchmarks (SANDBOX_IN_PROCESS=1)."""

import base64

from conversa.providers.base import FetchedMedia, ProviderError, SendResult
from conversa.sandbox import evolution_chats, simulator


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
            self.twins[name] = simulator.get_instance(name)
        return self.twins[name]

    def send_text(self, instance, phone: str, body: str, reference: str) -> SendResult:
        try:
            message = simulator.record_send(self.twin(instance), phone, body, reference)
        except simulator.SandboxError as exc:
            raise ProviderError(str(exc), transient=exc.status >= 500, status=exc.status) from exc
        return SendResult(provider_message_id=message.message_id)

    def lookup_reference(self, instance, reference: str) -> str | None:
        return simulator.find_by_reference(self.twin(instance), reference)

    def fetch_media(self, instance, message_id: str, media: dict) -> FetchedMedia:
        """The customer's file as getBase64FromMediaMessage answers it, without the HTTP."""
        try:
            answer = evolution_chats.media_of(self.twin(instance), {"key": {"id": message_id}})
        except simulator.SandboxError as exc:
            raise ProviderError(str(exc), transient=exc.status >= 500, status=exc.status) from exc
        return FetchedMedia(
            content=base64.b64decode(answer["base64"]), mime_type=answer["mimetype"] or ""
        )
