"""The one provider interface and the provider-neutral events the rest of Conversa knows."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class InboundMessage:
    provider_message_id: str
    phone: str
    name: str
    kind: str
    body: str
    timestamp: datetime | None = None


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    # One of Message.Status values: sent, delivered, read, failed.
    status: str
    error: str = ""
    # Our job reference when the provider echoes it (sandbox; Cloud API biz_opaque_callback_data).
    reference: str = ""


@dataclass(frozen=True)
class ConnectionUpdate:
    # One of Number.Status values.
    status: str
    phone: str = ""
    # Why a connection ended when the provider says: "refused" (Evolution's QR limit, or
    # WhatsApp refusing the number), "logged_out" (the session was removed on the phone).
    reason: str = ""


@dataclass(frozen=True)
class QrUpdate:
    code: str


ProviderEvent = InboundMessage | StatusUpdate | ConnectionUpdate | QrUpdate


@dataclass(frozen=True)
class ParsedEvent:
    """A neutral event, the key that makes it unique for its number, and its raw source."""

    event: ProviderEvent
    dedupe_key: str
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pairing:
    """What a person scans to link a number: the QR's text and a data-URL image of it."""

    code: str
    image: str
    pairing_code: str = ""


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class ProviderError(Exception):
    """A failed call to a provider, classified so the engine knows whether to retry."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        ambiguous: bool = False,
        status: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after
        # The request may have reached the provider (no answer came back): it may have been sent.
        self.ambiguous = ambiguous


class WebhookRejected(Exception):
    """The webhook did not prove it came from the provider (401, nothing stored)."""


class WebhookMalformed(Exception):
    """The webhook body could not be read (400, nothing stored)."""


class Provider(Protocol):
    """What every transport implements. Only the engine calls `send_text`; the number's
    lifecycle calls come from `numbers.services`.

    Every call raises ProviderError, classified transient or permanent.
    """

    # Lifecycle. `create_instance` registers the number with the provider (Evolution: creates
    # the number with its webhook; Cloud: checks the phone number id and token) and returns
    # the provider's per-number token when it issues one.
    def create_instance(self, number, webhook_url: str) -> str: ...

    # A QR to scan, or None when the number needs none (already open; Cloud API numbers).
    def connect(self, number) -> Pairing | None: ...

    def connection_state(self, number) -> str: ...

    def logout(self, number) -> None: ...

    def restart(self, number) -> None: ...

    def delete_instance(self, number) -> None: ...

    def set_webhook(self, number, webhook_url: str) -> None: ...

    def send_text(self, number, phone: str, body: str, reference: str) -> SendResult: ...

    def send_template(
        self, number, phone: str, name: str, language: str, variables: list[str], reference: str
    ) -> SendResult: ...

    def verify_webhook(self, number, headers, raw_body: bytes) -> None: ...

    def parse_webhook(self, number, raw_body: bytes) -> list[ParsedEvent]: ...
