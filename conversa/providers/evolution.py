"""Evolution API v2 adapter (docs/providers.md §B). The sandbox speaks the same protocol."""

import base64
import binascii
import hmac
import json

from conversa.providers import http
from conversa.providers.base import (
    ConnectionUpdate,
    FetchedMedia,
    OutboundContent,
    Pairing,
    ParsedEvent,
    ProviderError,
    QrUpdate,
    SendResult,
    WebhookMalformed,
    WebhookRejected,
    media_limit,
)
from conversa.providers.evolution_webhooks import parse_event, phone_from_jid

# load_json and storable lived here first: still importable from here.
from conversa.providers.webhook_json import load_json, parsed_parts, storable  # noqa: F401

# Evolution does not sign webhooks; each instance is configured to send its own secret here.
SECRET_HEADER = "X-Conversa-Secret"  # noqa: S105 (a header name)

CONNECTION_MAP = {
    "open": "connected",
    "connecting": "connecting",
    "close": "disconnected",
    "refused": "disconnected",
}

# Why a `close` ended, by its statusReason: the codes WhatsApp answers a login with (Baileys'
# DisconnectReason and its connection-failure reasons). Evolution reconnects by itself on every
# other code, and gives up on exactly these four (`codesToNotReconnect` in its
# whatsapp.baileys.service.ts connectionUpdate), announcing status.instance "closed" with the code.
CLOSE_REASONS = {
    401: "logged_out",  # DisconnectReason.loggedOut: the session was removed on the phone
    402: "suspended",  # WhatsApp suspended the number for a while (a temporary ban)
    403: "banned",  # DisconnectReason.forbidden: WhatsApp blocked or locked the number
    406: "banned",  # WhatsApp Web's BANNED: the account was banned
}

# What we subscribe to: messages and their statuses, the QR and the connection, and the two
# events that say the session was logged out for good (§B2, §B3).
WEBHOOK_EVENTS = [
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    # Edits and revokes (v2.3 sends them here, not in MESSAGES_UPSERT).
    "MESSAGES_EDITED",
    "MESSAGES_DELETE",
    "LOGOUT_INSTANCE",
    "STATUS_INSTANCE",
]

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


def decode_media(carried: str, limit: int) -> bytes:
    """The bytes of a base64 file (a `data:` URL's too), refused past `limit` before decoding."""
    carried = carried.split(",", 1)[1] if carried.startswith("data:") else carried
    if len(carried) > limit * 4 // 3 + 4:
        raise ProviderError(http.too_large(limit), transient=False)
    try:
        return base64.b64decode(carried, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError("the media is not valid base64", transient=False) from exc


class EvolutionProvider:
    def __init__(self, base_url: str, api_key: str, *, send_reference: bool = False):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.send_reference = send_reference

    def _request(self, method: str, path: str, number=None, **kwargs) -> dict:
        key = (number.provider_token if number else "") or self.api_key
        response = http.request(method, f"{self.base_url}{path}", headers={"apikey": key}, **kwargs)
        if response.status_code >= 400:
            http.body_to_log(response, "Evolution")
            raise ProviderError(
                http.refusal(response.status_code),
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
            http.body_to_log(response, "Evolution")
            raise ProviderError("Evolution reported an error (see the server log)", transient=False)
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

    def registered_webhook(self, number) -> str:
        """The URL the instance's webhook posts to now, "" when none is set or it is off
        (GET /webhook/find answers null for an instance without one)."""
        data = self._request("GET", f"/webhook/find/{number.provider_name}", number)
        if not isinstance(data, dict) or data.get("enabled") is False:
            return ""
        return str(data.get("url") or "")

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

    # Media (§B): an inbound message's file
    def fetch_media(self, number, message_id: str, media: dict) -> FetchedMedia:
        """The file of an inbound media message: the bytes the webhook carried (`base64`, when
        the number's webhook sends them), else Evolution's `POST
        /chat/getBase64FromMediaMessage/{instance}`, which answers {"base64", "mimetype", …}
        for a message it keeps (400 when it has none). Past the kind's limit it is refused."""
        limit = media_limit(media)
        carried, mime_type = media.get("base64") or "", media.get("mime_type") or ""
        if not carried:
            response, body = http.download(
                "POST",
                f"{self.base_url}/chat/getBase64FromMediaMessage/{number.provider_name}",
                # base64 takes 4 bytes for 3, and the answer has a few other fields.
                limit * 4 // 3 + 64 * 1024,
                headers={"apikey": (number.provider_token if number else "") or self.api_key},
                json={"message": {"key": {"id": message_id}}, "convertToMp4": False},
            )
            if response.status_code >= 400:
                http.body_to_log(response, "Evolution getBase64FromMediaMessage", body)
                raise ProviderError(
                    f"getBase64FromMediaMessage: {http.refusal(response.status_code)}",
                    transient=response.status_code not in PERMANENT_STATUSES,
                    status=response.status_code,
                    retry_after=http.retry_after(response),
                )
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise ProviderError("provider answered with non-JSON", transient=True) from exc
            if not isinstance(data, dict) or not isinstance(data.get("base64"), str):
                raise ProviderError("getBase64FromMediaMessage answered no base64", transient=True)
            carried = data["base64"]
            mime_type = str(data.get("mimetype") or mime_type)
        return FetchedMedia(content=decode_media(carried, limit), mime_type=mime_type)

    # Webhooks (§B2)
    def verify_webhook(self, number, headers, raw_body: bytes) -> None:
        given = headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), number.webhook_secret.encode()):
            raise WebhookRejected("missing or wrong webhook secret")

    def parse_webhook(self, number, raw_body: bytes) -> list[ParsedEvent]:
        """The neutral events of one webhook (evolution_webhooks). What cannot be read in it
        is an Unparsed event; only a body that is not a JSON object is WebhookMalformed."""
        envelope = load_json(raw_body)
        if not isinstance(envelope, dict):
            raise WebhookMalformed("expected an object with 'event' and 'data'")
        event = str(envelope.get("event", "")).lower().replace("_", ".")
        data = envelope.get("data")
        parts = [envelope]
        if event == "messages.upsert" and isinstance(data, list) and len(data) > 1:
            # A batch: each message keeps the envelope's small fields and itself only.
            parts = [{**envelope, "data": [one]} for one in data]
        return parsed_parts(
            parts, lambda part: parse_event(event, part.get("data"), part, LIFECYCLE), event
        )


def close_reason(code, otherwise: str = "reconnecting") -> str:
    """What a close's code means for the number: one of CLOSE_REASONS' words, or `otherwise`
    for every other code: for a close, "reconnecting" (408 timed out, 428 connection closed,
    440 replaced, 500 bad session, 503 unavailable, 515 restart required...), which
    Evolution retries by itself. The code may come as a number or as its digits."""
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool):
        return CLOSE_REASONS.get(code, otherwise)
    return otherwise


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


def parse_connection(data: dict, envelope: dict) -> list:
    state = data["state"]
    status = CONNECTION_MAP.get(state, "disconnected")
    reason = ""
    if state == "refused":
        reason = "refused"
    elif state == "close":
        reason = close_reason(data.get("statusReason"))
        if reason == "reconnecting":
            # A transient drop: Evolution is already opening a new socket.
            status = "connecting"
    # v1-style "open" events carry no wuid; the envelope's sender is the same number.
    phone = phone_from_jid(data.get("wuid"), envelope.get("sender"))
    stamp = envelope.get("date_time", "")
    event = ConnectionUpdate(status=status, phone=phone, reason=reason)
    return [(event, f"connection:{state}:{stamp}")]


def parse_instance_status(data: dict, envelope: dict) -> list:
    # "closed" is sent only when Evolution will not reconnect, with the close's code: logged
    # out, suspended or banned. "created" says nothing the create call did not.
    if data["status"] != "closed":
        return []
    reason = close_reason(data.get("disconnectionReasonCode"), otherwise="logged_out")
    stamp = envelope.get("date_time", "")
    event = ConnectionUpdate(status="disconnected", reason=reason)
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


# The number's own events: how its connection is doing (the messages are evolution_webhooks').
LIFECYCLE = {
    "connection.update": parse_connection,
    "qrcode.updated": parse_qrcode,
    "status.instance": parse_instance_status,
    "logout.instance": parse_logout,
}
