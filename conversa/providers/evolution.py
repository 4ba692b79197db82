"""Evolution API v2 adapter (PROVIDERS.md §B). The sandbox speaks the same protocol."""

import hmac
import json
import math
import re
from dataclasses import replace
from datetime import UTC, datetime

from conversa.providers import http
from conversa.providers.base import (
    ConnectionUpdate,
    InboundMessage,
    ParsedEvent,
    ProviderError,
    QrUpdate,
    SendResult,
    StatusUpdate,
    WebhookMalformed,
    WebhookRejected,
)

# Evolution does not sign webhooks; each instance is configured to send its own secret here.
SECRET_HEADER = "X-Conversa-Secret"  # noqa: S105 (a header name)

# messages.update `status`, by name or by Baileys' number (PROVIDERS.md §B2).
STATUS_MAP = {
    "ERROR": "failed",
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
    0: "failed",
    2: "sent",
    3: "delivered",
    4: "read",
    5: "read",
}

CONNECTION_MAP = {
    "open": "connected",
    "connecting": "connecting",
    "close": "disconnected",
    "refused": "disconnected",
}

MEDIA_KINDS = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
    "locationMessage": "location",
    "contactMessage": "contact",
}

PERMANENT_STATUSES = {400, 401, 403, 404, 422}


def phone_from_jid(*jids: str | None) -> str:
    """The digits of the first phone-number JID (`<digits>@s.whatsapp.net`) among `jids`."""
    for jid in jids:
        if jid and jid.endswith("@s.whatsapp.net"):
            return jid.split("@", 1)[0].split(":", 1)[0]
    return ""


# What the tables take (ProviderEvent, Message, Contact): checked while parsing, because a value
# the database refuses would fail the POST after its earlier events were stored.
MAX_MESSAGE_ID = 128
MAX_DEDUPE_KEY = 200
MAX_REFERENCE = 64
MAX_DEPTH = 32
PHONE_DIGITS = re.compile(r"[0-9]{1,20}")
TEXT_FIELDS = ("provider_message_id", "phone", "name", "kind", "body", "status", "error")
TEXT_FIELDS += ("reference", "reason", "code")


def load_json(raw_body: bytes):
    """The body as JSON that can be stored as it is, or WebhookMalformed.

    Beyond valid JSON it refuses what would fail later, at insert time: NaN and infinities
    (written back as tokens that neither PostgreSQL nor SQLite's JSON accepts), NUL characters
    and unpaired surrogates in strings (PostgreSQL refuses both), and nesting deeper than any
    real payload (the encoder would hit the recursion limit while storing it).
    """
    try:
        body = json.loads(raw_body, parse_constant=not_finite, parse_float=finite_float)
    except (ValueError, RecursionError) as exc:
        raise WebhookMalformed(f"body is not JSON: {exc}") from exc
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise WebhookMalformed(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending += [(key, depth) for key in value]
            pending += [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            pending += [(item, depth + 1) for item in value]
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError as exc:
                raise WebhookMalformed("a string holds an unpaired surrogate") from exc
        if isinstance(value, str) and "\x00" in value:
            raise WebhookMalformed("a string holds a NUL character")
    return body


def not_finite(token: str):
    raise ValueError(f"{token} is not a JSON number")


def finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def storable(parsed: list, envelope: dict, what: str = "") -> list[ParsedEvent]:
    """(event, dedupe key) pairs as ParsedEvents, once every one of them fits the tables;
    else WebhookMalformed, before any of them is stored."""
    prefix = f"{what}: " if what else ""
    events = []
    for event, key in parsed:
        for name in TEXT_FIELDS:
            if not isinstance(getattr(event, name, ""), str):
                raise WebhookMalformed(f"{prefix}{name} is not a string")
        message_id = getattr(event, "provider_message_id", None)
        if message_id is not None and not 0 < len(message_id) <= MAX_MESSAGE_ID:
            raise WebhookMalformed(f"{prefix}message id is empty or over {MAX_MESSAGE_ID} chars")
        phone = getattr(event, "phone", "")
        if (phone or isinstance(event, InboundMessage)) and not PHONE_DIGITS.fullmatch(phone):
            raise WebhookMalformed(f"{prefix}phone {phone[:40]!r} is not 1 to 20 digits")
        if not isinstance(key, str) or len(key) > MAX_DEDUPE_KEY:
            raise WebhookMalformed(f"{prefix}event id is over {MAX_DEDUPE_KEY} chars")
        if len(getattr(event, "reference", "")) > MAX_REFERENCE:
            # Longer than any reference of ours: another app's callback data, not a 400.
            event = replace(event, reference="")
        events.append(ParsedEvent(event=event, dedupe_key=key, raw=envelope))
    return events


class EvolutionProvider:
    def __init__(self, base_url: str, api_key: str, *, send_reference: bool = False):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.send_reference = send_reference

    def _request(self, method: str, path: str, instance=None, **kwargs) -> dict:
        key = (instance.provider_token if instance else "") or self.api_key
        response = http.request(method, f"{self.base_url}{path}", headers={"apikey": key}, **kwargs)
        if response.status_code >= 400:
            raise ProviderError(
                f"HTTP {response.status_code}: {response.text[:300]}",
                transient=response.status_code not in PERMANENT_STATUSES,
                status=response.status_code,
                retry_after=http.retry_after(response),
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError("provider answered with non-JSON", transient=True) from exc

    # Lifecycle (§B1)
    def create_instance(self, instance, webhook_url: str) -> dict:
        return self._request(
            "POST",
            "/instance/create",
            json={
                "instanceName": instance.provider_name,
                "integration": "WHATSAPP-BAILEYS",
                "qrcode": True,
                "webhook": {
                    "url": webhook_url,
                    "byEvents": False,
                    "base64": False,
                    "headers": {SECRET_HEADER: instance.webhook_secret},
                    "events": ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE"],
                },
            },
        )

    def connect(self, instance) -> dict:
        return self._request("GET", f"/instance/connect/{instance.provider_name}", instance)

    def connection_state(self, instance) -> str:
        data = self._request("GET", f"/instance/connectionState/{instance.provider_name}", instance)
        return CONNECTION_MAP.get(data.get("instance", {}).get("state", ""), "disconnected")

    # Sending (§B1)
    def send_text(self, instance, phone: str, body: str, reference: str) -> SendResult:
        payload = {"number": phone, "text": body}
        if self.send_reference:
            # Only the sandbox takes our reference (and echoes it, so an uncertain send can be
            # reconciled); Evolution's request schema has no such field.
            payload["reference"] = reference
        data = self._request(
            "POST", f"/message/sendText/{instance.provider_name}", instance, json=payload
        )
        message_id = (data.get("key") or {}).get("id")
        if not message_id:
            raise ProviderError("send answered without key.id", transient=False)
        return SendResult(provider_message_id=message_id)

    @property
    def supports_lookup(self) -> bool:
        return self.send_reference

    def lookup_reference(self, instance, reference: str) -> str | None:
        """The provider's message id for a send with our reference, or None if it never
        accepted one (sandbox only: Evolution has no way to ask)."""
        try:
            data = self._request(
                "GET",
                f"/message/byReference/{instance.provider_name}",
                instance,
                params={"reference": reference},
            )
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return (data.get("key") or {}).get("id")

    # Webhooks (§B2)
    def verify_webhook(self, instance, headers, raw_body: bytes) -> None:
        given = headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), instance.webhook_secret.encode()):
            raise WebhookRejected("missing or wrong webhook secret")

    def parse_webhook(self, instance, raw_body: bytes) -> list[ParsedEvent]:
        envelope = load_json(raw_body)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
            raise WebhookMalformed("expected an object with 'event' and an object 'data'")
        event = str(envelope.get("event", "")).lower().replace("_", ".")
        data = envelope["data"]
        parser = {
            "messages.upsert": parse_upsert,
            "messages.update": parse_update,
            "connection.update": parse_connection,
            "qrcode.updated": parse_qrcode,
        }.get(event)
        if parser is None:
            return []
        try:
            parsed = parser(data, envelope)
        except (KeyError, TypeError, AttributeError, ValueError, OverflowError, OSError) as exc:
            raise WebhookMalformed(f"{event}: missing or wrong field {exc}") from exc
        return storable(parsed, envelope, event)


def message_text(message: dict) -> tuple[str, str]:
    """(kind, text) of an Evolution `message` object."""
    if "conversation" in message:
        return "text", message["conversation"] or ""
    if "extendedTextMessage" in message:
        return "text", message["extendedTextMessage"].get("text", "")
    for key, kind in MEDIA_KINDS.items():
        if key in message:
            return kind, message[key].get("caption", "") or ""
    return "unsupported", ""


def parse_upsert(data: dict, envelope: dict) -> list:
    key = data["key"]
    phone = phone_from_jid(key.get("remoteJid"), key.get("remoteJidAlt"))
    # Our own sends come back as fromMe; groups and broadcasts are not conversations here.
    if key.get("fromMe") or not phone:
        return []
    message = data.get("message") or {}
    if not isinstance(message, dict):
        raise ValueError("'message' is not an object")
    kind, body = message_text(message)
    timestamp = data.get("messageTimestamp")
    when = datetime.fromtimestamp(int(timestamp), tz=UTC) if timestamp else None
    event = InboundMessage(
        provider_message_id=key["id"],
        phone=phone,
        name=data.get("pushName") or "",
        kind=kind,
        body=body,
        timestamp=when,
    )
    return [(event, f"message:{key['id']}")]


def parse_update(data: dict, envelope: dict) -> list:
    status = STATUS_MAP.get(data["status"])
    # Only our outbound messages have a status to follow; PENDING says nothing new.
    if not data.get("fromMe") or status is None:
        return []
    message_id = data["keyId"]
    # Only the sandbox adds our reference; Evolution itself has no such field.
    reference = str(data.get("reference") or "")
    return [
        (
            StatusUpdate(provider_message_id=message_id, status=status, reference=reference),
            f"status:{message_id}:{status}",
        )
    ]


def parse_connection(data: dict, envelope: dict) -> list:
    status = CONNECTION_MAP.get(data["state"], "disconnected")
    # v1-style "open" events carry no wuid; the envelope's sender is the same number.
    phone = phone_from_jid(data.get("wuid"), envelope.get("sender"))
    stamp = envelope.get("date_time", "")
    return [(ConnectionUpdate(status=status, phone=phone), f"connection:{data['state']}:{stamp}")]


def parse_qrcode(data: dict, envelope: dict) -> list:
    code = data["qrcode"].get("code", "")
    return [(QrUpdate(code=code), f"qr:{code[:64]}")]
