"""Evolution API v2 adapter (docs/providers.md §B). The sandbox speaks the same protocol."""

import base64
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
    OutboundContent,
    Pairing,
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

# messages.update `status`, by name or by Baileys' number (docs/providers.md §B2).
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

# What we subscribe to: messages and their statuses, the QR and the connection, and the two
# events that say the session was logged out for good (§B2, §B3).
WEBHOOK_EVENTS = [
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "LOGOUT_INSTANCE",
    "STATUS_INSTANCE",
]

# Baileys' DisconnectReason.loggedOut: a close with it will not reconnect.
LOGGED_OUT = 401

MEDIA_KINDS = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    # WhatsApp wraps a document sent with a caption.
    "documentWithCaptionMessage": "document",
    "stickerMessage": "sticker",
    "locationMessage": "location",
    "contactMessage": "contact",
}

PERMANENT_STATUSES = {400, 401, 403, 404, 422}


def webhook_config(number, webhook_url: str) -> dict:
    """The number's webhook as Evolution takes it: one URL, our secret in a header."""
    return {
        "url": webhook_url,
        "byEvents": False,
        "base64": False,
        "headers": {SECRET_HEADER: number.webhook_secret},
        "events": WEBHOOK_EVENTS,
    }


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

    def _request(self, method: str, path: str, number=None, **kwargs) -> dict:
        key = (number.provider_token if number else "") or self.api_key
        response = http.request(method, f"{self.base_url}{path}", headers={"apikey": key}, **kwargs)
        if response.status_code >= 400:
            raise ProviderError(
                f"HTTP {response.status_code}: {response.text[:300]}",
                transient=response.status_code not in PERMANENT_STATUSES,
                status=response.status_code,
                retry_after=http.retry_after(response),
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderError("provider answered with non-JSON", transient=True) from exc
        # connect and restart catch their own failures and answer 200 {error: true, message}.
        if isinstance(data, dict) and data.get("error") is True:
            raise ProviderError(f"Evolution: {data.get('message', '')}"[:300], transient=False)
        return data

    # Lifecycle (§B1)
    def create_instance(self, number, webhook_url: str) -> str:
        """Create the Evolution instance with its webhook (secret header included) and return its own
        token (`hash`), which every later call for this number uses instead of the global key.
        No QR yet: `connect` starts the pairing."""
        data = self._request(
            "POST",
            "/instance/create",
            json={
                "instanceName": number.provider_name,
                "integration": "WHATSAPP-BAILEYS",
                "qrcode": False,
                "webhook": webhook_config(number, webhook_url),
            },
        )
        return str(data.get("hash") or "")

    def connect(self, number) -> Pairing | None:
        """A fresh QR to scan, or None when the number is already open."""
        data = self._request("GET", f"/instance/connect/{number.provider_name}", number)
        if (data.get("instance") or {}).get("state") == "open":
            return None
        if not data.get("code"):
            # Issue #2385: Evolution sometimes answers only {count: 0} while Baileys is still
            # starting; asking again shortly after gets the QR.
            raise ProviderError("Evolution answered without a QR code yet", transient=True)
        return Pairing(
            code=data["code"],
            image=data.get("base64") or "",
            pairing_code=data.get("pairingCode") or "",
        )

    def connection_state(self, number) -> str:
        data = self._request("GET", f"/instance/connectionState/{number.provider_name}", number)
        return CONNECTION_MAP.get(data.get("instance", {}).get("state", ""), "disconnected")

    def logout(self, number) -> None:
        """End the WhatsApp session; the number needs a new QR afterwards. Evolution refuses
        (400) a number that is already closed, which is what we wanted anyway."""
        try:
            self._request("DELETE", f"/instance/logout/{number.provider_name}", number)
        except ProviderError as exc:
            if exc.status != 400:
                raise

    def restart(self, number) -> None:
        """Reopen the socket with the stored session (no new QR). A closed number cannot be
        restarted: that is a permanent error, and `connect` is the way back."""
        self._request("POST", f"/instance/restart/{number.provider_name}", number)

    def delete_instance(self, number) -> None:
        """Remove the Evolution instance (Evolution logs it out first). Already gone counts as done."""
        try:
            self._request("DELETE", f"/instance/delete/{number.provider_name}", number)
        except ProviderError as exc:
            if exc.status != 404:
                raise

    def set_webhook(self, number, webhook_url: str) -> None:
        """Point the instance's webhook at `webhook_url`, with the events we follow."""
        self._request(
            "POST",
            f"/webhook/set/{number.provider_name}",
            number,
            json={"webhook": {"enabled": True, **webhook_config(number, webhook_url)}},
        )

    # Sending (§B1)
    def send_text(self, number, phone: str, body: str, reference: str) -> SendResult:
        return self._send(number, "sendText", {"number": phone, "text": body}, reference)

    def send_content(
        self, number, phone: str, content: OutboundContent, reference: str
    ) -> SendResult:
        """Media (base64 in the JSON body), a voice note, a sticker, a location, contact cards
        or a reaction, each on its own endpoint (Evolution's src/api/dto/sendMessage.dto.ts)."""
        endpoint, payload = content_request(phone, content)
        return self._send(number, endpoint, payload, reference)

    def _send(self, number, endpoint: str, payload: dict, reference: str) -> SendResult:
        if self.send_reference:
            # Only the sandbox takes our reference (and echoes it, so an uncertain send can be
            # reconciled); Evolution's request schema has no such field.
            payload = {**payload, "reference": reference}
        data = self._request(
            "POST", f"/message/{endpoint}/{number.provider_name}", number, json=payload
        )
        key = data.get("key") or {}
        if not key.get("id"):
            raise ProviderError("send answered without key.id", transient=False)
        # The JID WhatsApp delivered to: its digits may differ from the number typed.
        return SendResult(provider_message_id=key["id"], wa_id=phone_from_jid(key.get("remoteJid")))

    def mark_read(self, number, phone: str, provider_message_id: str) -> None:
        """Blue ticks on the customer's message (`chat/markMessageAsRead`)."""
        read = {"remoteJid": f"{phone}@s.whatsapp.net", "fromMe": False, "id": provider_message_id}
        self._request(
            "POST",
            f"/chat/markMessageAsRead/{number.provider_name}",
            number,
            json={"readMessages": [read]},
        )

    def send_template(
        self, number, phone: str, name: str, language: str, variables: list[str], reference: str
    ) -> SendResult:
        """Baileys speaks WhatsApp Web, which has no approved templates."""
        raise ProviderError("templates need the WhatsApp Cloud API", transient=False)

    @property
    def supports_lookup(self) -> bool:
        return self.send_reference

    def lookup_reference(self, number, reference: str) -> str | None:
        """The provider's message id for a send with our reference, or None if it never
        accepted one (sandbox only: Evolution has no way to ask)."""
        try:
            data = self._request(
                "GET",
                f"/message/byReference/{number.provider_name}",
                number,
                params={"reference": reference},
            )
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return (data.get("key") or {}).get("id")

    # Webhooks (§B2)
    def verify_webhook(self, number, headers, raw_body: bytes) -> None:
        given = headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), number.webhook_secret.encode()):
            raise WebhookRejected("missing or wrong webhook secret")

    def parse_webhook(self, number, raw_body: bytes) -> list[ParsedEvent]:
        envelope = load_json(raw_body)
        if not isinstance(envelope, dict):
            raise WebhookMalformed("expected an object with 'event' and 'data'")
        event = str(envelope.get("event", "")).lower().replace("_", ".")
        data = envelope.get("data")
        parser = {
            "messages.upsert": parse_upsert,
            "messages.update": parse_update,
            "connection.update": parse_connection,
            "qrcode.updated": parse_qrcode,
            "status.instance": parse_instance_status,
            "logout.instance": parse_logout,
        }.get(event)
        if parser is None:
            return []
        # logout.instance is the one event whose news is the event itself: its data is null.
        if not isinstance(data, dict) and parser is not parse_logout:
            raise WebhookMalformed(f"{event}: expected an object 'data'")
        try:
            parsed = parser(data, envelope)
        except (KeyError, TypeError, AttributeError, ValueError, OverflowError, OSError) as exc:
            raise WebhookMalformed(f"{event}: missing or wrong field {exc}") from exc
        return storable(parsed, envelope, event)


# sendMedia's `mediatype` for each media kind; voice notes and stickers have endpoints of their own.
MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "document"}


def content_request(phone: str, content: OutboundContent) -> tuple[str, dict]:
    """(endpoint, JSON body) of a send that is not text."""
    kind = content.kind
    if kind in MEDIA_TYPES:
        media = {
            "number": phone,
            "mediatype": MEDIA_TYPES[kind],
            "mimetype": content.mime_type,
            "media": encoded(content),
            "fileName": content.file_name,
        }
        if content.caption:
            media["caption"] = content.caption
        return "sendMedia", media
    if kind == "voice":
        return "sendWhatsAppAudio", {"number": phone, "audio": encoded(content)}
    if kind == "sticker":
        return "sendSticker", {"number": phone, "sticker": encoded(content)}
    if kind == "location":
        place = content.location
        return "sendLocation", {
            "number": phone,
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            # Both required by Evolution's schema, empty or not.
            "name": place.get("name") or "",
            "address": place.get("address") or "",
        }
    if kind == "contacts":
        # One card per number: Evolution's vCard holds a single phone.
        cards = [
            {"fullName": card["name"], "wuid": digits, "phoneNumber": f"+{digits}"}
            for card in content.contacts
            for digits in ("".join(ch for ch in p if ch.isdigit()) for p in card["phones"])
        ]
        return "sendContact", {"number": phone, "contact": cards}
    if kind == "reaction":
        key = {
            "remoteJid": f"{phone}@s.whatsapp.net",
            "fromMe": content.target_from_me,
            "id": content.target,
        }
        return "sendReaction", {"key": key, "reaction": content.emoji}
    raise ProviderError(f"Evolution cannot send {kind!r}", transient=False)


def encoded(content: OutboundContent) -> str:
    return base64.b64encode(content.media).decode()


def message_text(message: dict) -> tuple[str, str]:
    """(kind, text) of an Evolution `message` object."""
    if "conversation" in message:
        return "text", message["conversation"] or ""
    if "extendedTextMessage" in message:
        return "text", message["extendedTextMessage"].get("text", "")
    for key, kind in MEDIA_KINDS.items():
        if key in message:
            media = message[key]
            if key == "documentWithCaptionMessage":
                media = media["message"]["documentMessage"]
            return kind, media.get("caption", "") or ""
    return "unsupported", ""


def parse_upsert(data: dict, envelope: dict) -> list:
    key = data["key"]
    # A contact addressed by its @lid id carries its phone JID beside it: remoteJidAlt, or
    # senderPn in Baileys 6.7-era payloads. Either way the contact is its phone number.
    phone = phone_from_jid(key.get("remoteJid"), key.get("remoteJidAlt"), key.get("senderPn"))
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
    state = data["state"]
    status = CONNECTION_MAP.get(state, "disconnected")
    reason = ""
    if state == "refused":
        reason = "refused"
    elif state == "close" and data.get("statusReason") == LOGGED_OUT:
        reason = "logged_out"
    # v1-style "open" events carry no wuid; the envelope's sender is the same number.
    phone = phone_from_jid(data.get("wuid"), envelope.get("sender"))
    stamp = envelope.get("date_time", "")
    event = ConnectionUpdate(status=status, phone=phone, reason=reason)
    return [(event, f"connection:{state}:{stamp}")]


def parse_instance_status(data: dict, envelope: dict) -> list:
    # "closed" is sent only when Evolution will not reconnect: the session was logged out.
    # "created" says nothing the create call did not.
    if data["status"] != "closed":
        return []
    stamp = envelope.get("date_time", "")
    event = ConnectionUpdate(status="disconnected", reason="logged_out")
    return [(event, f"instance:closed:{stamp}")]


def parse_logout(data, envelope: dict) -> list:
    stamp = envelope.get("date_time", "")
    event = ConnectionUpdate(status="disconnected", reason="logged_out")
    return [(event, f"logout:{stamp}")]


def parse_qrcode(data: dict, envelope: dict) -> list:
    # At the QR limit Evolution sends {message, statusCode} here instead of a QR, then
    # connection.update "refused", which is the event that says what happened.
    if "qrcode" not in data:
        return []
    code = data["qrcode"].get("code", "")
    return [(QrUpdate(code=code), f"qr:{code[:64]}")]
