"""The one provider interface and the provider-neutral events the rest of Conversa knows."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class InboundMessage:
    """A message in a conversation with a customer, as the provider delivered it.

    Who the customer is comes in up to three identifiers (docs/providers.md): `phone` (digits,
    no "+"), `lid` (WhatsApp's linked id, Evolution's `@lid` addressing) and `user_id` (the
    Cloud API's business-scoped user id of a username sender). At least one is set; a contact
    keeps every one it has been seen with.

    `from_me` is a message the business typed on its own phone (Evolution `fromMe`, Cloud
    `smb_message_echoes`): outbound, in the same conversation, never sent by Conversa.

    `kind` is one of KINDS, or "unsupported" with the provider's own type in
    `content["type"]`. `body` is the text a person reads (the text, a caption, the chosen
    button's title, a readable summary of a location or a card); `content` keeps the
    kind's structure (see KINDS).
    """

    provider_message_id: str
    phone: str
    name: str
    kind: str
    body: str
    timestamp: datetime | None = None
    lid: str = ""
    user_id: str = ""
    from_me: bool = False
    content: dict = field(default_factory=dict)
    # The provider id of the message this one quotes or answers, when it says.
    reply_to: str = ""


# The message kinds Conversa stores with their content, both providers alike. `content` keys:
# - image, video, audio, voice, document, sticker: {"media": {"id", "url", "mime_type",
#   "file_name", "size", "sha256", "base64"?}} (base64 only when the webhook carried the
#   bytes; it is moved to storage and never kept in the row)
# - location: {"latitude", "longitude", "name", "address", "url"}
# - contacts: {"contacts": [{"name", "phones": [..], "wa_ids": [..]}]}
# - choice (a button, list or interactive reply the customer picked): {"id", "title", "description"}
# - order: {"catalog_id", "items": [{"product_id", "quantity", "price", "currency"}], "text"}
# - poll: {"question", "options": [..], "votes": {option: count}}
# - text may carry {"referral": {"headline", "body", "source_url", "source_type"}} (an ad)
KINDS = (
    "text",
    "image",
    "video",
    "audio",
    "voice",
    "document",
    "sticker",
    "location",
    "contacts",
    "choice",
    "order",
    "poll",
    "unsupported",
)
MEDIA_KINDS = ("image", "video", "audio", "voice", "document", "sticker")

# WhatsApp's own size limits per media kind, in bytes: a file past its kind's limit is refused
# (an adapter stops reading a download there). A sticker is 100 KB static, 500 KB animated.
MB = 1024 * 1024
MEDIA_MAX_BYTES = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "voice": 16 * MB,
    "document": 100 * MB,
    "sticker": 500 * 1024,
}


def media_limit(media: dict) -> int:
    """The most bytes a fetch of `media` may read: its kind's limit (the job adds the kind to
    the webhook's media reference as `media["kind"]`), else the largest."""
    return MEDIA_MAX_BYTES.get(media.get("kind", ""), max(MEDIA_MAX_BYTES.values()))


@dataclass(frozen=True)
class MessageChange:
    """Something done to a message already in a thread: a reaction (`emoji`; empty removes
    it), an edit (`body`, the new text) or a revoke ("deleted for everyone").

    `provider_message_id` is the message it concerns; a change that arrives before its message
    is kept and applied when the message is stored. `from_me`: done from the business's
    phone; otherwise by the customer named by phone / lid / user_id.
    """

    provider_message_id: str
    change: str  # "reaction" | "edit" | "revoke"
    phone: str = ""
    lid: str = ""
    user_id: str = ""
    from_me: bool = False
    emoji: str = ""
    body: str = ""
    timestamp: datetime | None = None


@dataclass(frozen=True)
class IdentityUpdate:
    """The provider linked identifiers of one person: a number change (the customer moved to
    `new_phone`), a send answer's `wa_id` for the number typed, or a `@lid` seen with its phone.
    Contacts found under any of them become one."""

    phone: str = ""
    lid: str = ""
    user_id: str = ""
    new_phone: str = ""
    # "number_changed" shows in the conversation; "linked" is silent.
    reason: str = "linked"


@dataclass(frozen=True)
class PreferenceUpdate:
    """The customer stopped or resumed the business's marketing messages from WhatsApp itself
    (Cloud API `user_preferences`): honoured as an opt-out keyword would be."""

    STOP = "stop"
    RESUME = "resume"

    preference: str  # STOP | RESUME
    phone: str = ""
    user_id: str = ""
    # WhatsApp's own sentence ("User requested to stop marketing messages"): the evidence.
    detail: str = ""
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Unparsed:
    """What a verified webhook held that the parser could not read: kept, with the reason, to
    be parsed again after an upgrade (`conversa reprocess-events`)."""

    reason: str


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
    # WhatsApp refusing the number), "logged_out" (the session was removed on the phone),
    # "banned" (WhatsApp blocked the number), "reconnecting" (a transient drop).
    reason: str = ""


@dataclass(frozen=True)
class QrUpdate:
    code: str


ProviderEvent = (
    InboundMessage
    | StatusUpdate
    | ConnectionUpdate
    | QrUpdate
    | MessageChange
    | IdentityUpdate
    | PreferenceUpdate
    | Unparsed
)


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
    # The recipient's WhatsApp id as the provider answered it (Cloud `contacts[0].wa_id`,
    # Evolution's `remoteJid`), when it differs from the number typed (Brazil's ninth digit).
    wa_id: str = ""


@dataclass(frozen=True)
class OutboundContent:
    """What a non-text send carries (the engine's intent `content`): `kind` is a MEDIA_KIND,
    "location", "contacts" or "reaction".

    - media: `media` is the file's bytes, `mime_type`, `file_name`, `caption`
    - location: `location` {"latitude", "longitude", "name", "address"}
    - contacts: `contacts` [{"name", "phones": [..]}]
    - reaction: `target` (provider message id) and `emoji` ("" removes)
    """

    kind: str
    media: bytes = b""
    mime_type: str = ""
    file_name: str = ""
    caption: str = ""
    location: dict = field(default_factory=dict)
    contacts: list = field(default_factory=list)
    target: str = ""
    target_from_me: bool = False
    emoji: str = ""


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes
    mime_type: str = ""


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


class WebhookTooLarge(Exception):
    """The webhook holds more messages and statuses than one POST may: more than a provider
    ever batches (Meta: at most 1,000 updates per webhook). Verified, it is kept whole as one
    Unparsed event rather than split into that many."""


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

    # Media, location, contact cards and reactions (OutboundContent says which).
    def send_content(
        self, number, phone: str, content: OutboundContent, reference: str
    ) -> SendResult: ...

    # Tell the customer their message was read (blue ticks). Best effort.
    def mark_read(self, number, phone: str, provider_message_id: str) -> None: ...

    # An inbound message's file: from the webhook's media reference (content["media"]).
    def fetch_media(self, number, message_id: str, media: dict) -> FetchedMedia: ...

    def verify_webhook(self, number, headers, raw_body: bytes) -> None: ...

    def parse_webhook(self, number, raw_body: bytes) -> list[ParsedEvent]: ...
