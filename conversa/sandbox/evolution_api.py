"""The core of the sandbox's Evolution API v2 beyond the lifecycle: how a message is recorded
and answered (`accept`, `record`), its statuses, its files (kept bounded), JIDs as Evolution
makes them (`create_jid`), and the wire forms of media and contact cards. The send routes
are in evolution_sends, the chat routes in evolution_chats, the webhooks for what customers
and the business's phone do in evolution_events.

Answers and webhooks follow Evolution v2.3's own code (src/api/integrations/channel/whatsapp/
whatsapp.baileys.service.ts, src/api/services/channel.service.ts): a message is its
`prepareMessage()` record, and as there its byte fields (fileSha256, mediaKey…) travel as
`{"0": …, "1": …}` index objects and its 64-bit fields (fileLength) as Long objects
`{low, high, unsigned}`, which is how a v2.3 server serializes them.
"""

import base64
import binascii
import hashlib
import ipaddress
import re
import secrets
import socket
import time
from urllib.parse import urlparse

import filetype
import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage, SandboxMessageMedia
from conversa.sandbox.simulator import SandboxError

# What the sandbox keeps of a file (WhatsApp's own limit for audio and video) and how many
# files per number before the oldest are forgotten.
MAX_MEDIA_BYTES = 16 * 1024 * 1024
MEDIA_KEPT_PER_NUMBER = 200
MEDIA_TYPES = ("image", "document", "video", "audio")
PRESENCES = ("unavailable", "available", "composing", "recording", "paused")
# Evolution's message types that carry a file (wa.types.ts TypeMediaMessage), and the
# wrappers getBase64FromMediaMessage opens first (MessageSubtype).
MEDIA_MESSAGES = (
    "imageMessage",
    "documentMessage",
    "audioMessage",
    "videoMessage",
    "stickerMessage",
    "ptvMessage",
)
WRAPPERS = (
    "ephemeralMessage",
    "documentWithCaptionMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
)
# What each kind of the ledger is called on the wire.
WIRE_TYPES = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}
# The one emoji (or nothing) Evolution's sendReaction accepts: a rough stand-in for the
# emoji-regex package its controller uses.
EMOJI = re.compile(
    r"^(?:[\U0001F000-\U0001FAFF\u2600-\u27BF\u2300-\u23FF\u2B00-\u2BFF\u3030\u303D\u3297\u3299]"
    r"[\uFE0F\u200D\U0001F3FB-\U0001F3FF\U0001F000-\U0001FAFF\u2600-\u27BF\u20E3]*)?$"
)


class Refused(SandboxError):
    """An Evolution refusal whose `response.message` list holds more than a sentence (the
    server puts objects there, e.g. the number check of a send to a stranger)."""

    def __init__(self, status: int, messages: list):
        super().__init__(status, str(messages[0]) if messages else "")
        self.messages = messages


def wire_bytes(data: bytes) -> dict:
    """Bytes as a v2.3 webhook carries them: a Uint8Array serialized by JSON.stringify."""
    return {str(index): byte for index, byte in enumerate(data)}


def wire_long(value: int, unsigned: bool = True) -> dict:
    """A 64-bit protobuf field as a v2.3 webhook carries it: a Long object."""
    return {"low": value & 0xFFFFFFFF, "high": value >> 32, "unsigned": unsigned}


def create_jid(number: str) -> str:
    """Evolution's createJid(): JIDs pass through; digits become a phone JID, with Mexico's
    and Argentina's mobile prefix dropped and Brazil's ninth digit dropped where WhatsApp
    registered the number without it (area codes 31 and up, numbers starting 7–9)."""
    number = re.sub(r":\d+", "", number.strip())
    if any(suffix in number for suffix in ("@g.us", "@s.whatsapp.net", "@lid", "@broadcast")):
        return number
    digits = re.sub(r"\D", "", number.split("@")[0])
    if len(digits) >= 18:
        return f"{digits}@g.us"
    if digits[:2] in ("52", "54") and len(digits) == 13:
        digits = digits[:2] + digits[3:]
    brazil = re.fullmatch(r"(55)(\d{2})\d(\d{8})", digits)
    if brazil and not (int(brazil[3][0]) < 7 or int(brazil[2]) < 31):
        digits = brazil[1] + brazil[2] + brazil[3]
    return f"{digits}@s.whatsapp.net"


def chat_of(instance: SandboxInstance, remote_jid: str) -> tuple[str, str]:
    """(the chat's phone, its lid) for a JID the business addressed. A `@lid` chat is the
    phone the sandbox saw with that lid, or the lid itself for a stranger."""
    user = remote_jid.split("@", 1)[0]
    if not remote_jid.endswith("@lid"):
        return user, ""
    known = (
        SandboxMessage.objects.filter(instance=instance, lid=user)
        .values_list("chat_phone", flat=True)
        .first()
    )
    return known or user, user


def remote_jid(message: SandboxMessage) -> str:
    return f"{message.lid}@lid" if message.lid else simulator.jid(message.chat_phone)


def record(message: SandboxMessage, *, stored: bool = False) -> dict:
    """The message as the server answers a send with it (prepareMessage's record); `stored`
    adds the database id the find routes show. Rows from before the sandbox kept content
    get the plain shape of their kind."""
    content = message.content or {}
    if content.get("message") is not None:
        kept = content
    else:
        kind = message.kind
        if kind == "text":
            body, message_type = {"conversation": message.text}, "conversation"
        else:
            message_type = WIRE_TYPES.get(kind, f"{kind}Message")
            body = {message_type: {"caption": message.text} if message.text else {}}
        kept = {
            "key": {
                "remoteJid": remote_jid(message),
                "fromMe": message.from_me,
                "id": message.message_id,
            },
            "message": body,
            "messageType": message_type,
            "pushName": "Você" if message.from_me else message.customer_name,
            "source": "web" if message.from_me else "android",
        }
    answer = {
        "key": kept["key"],
        "pushName": kept.get("pushName", ""),
        "status": message.status,
        "message": kept["message"],
        "messageType": kept["messageType"],
        "messageTimestamp": int(message.created_at.timestamp()),
        "instanceId": str(message.instance_id),
        "source": kept.get("source", "unknown"),
    }
    if kept.get("contextInfo") is not None:
        answer["contextInfo"] = kept["contextInfo"]
    return ({"id": record_id(message)} | answer) if stored else answer


def store_media(message: SandboxMessage, data: bytes, mime_type: str, file_name: str) -> None:
    """Keep a file for the customer page and getBase64FromMediaMessage, forgetting the
    number's oldest files beyond MEDIA_KEPT_PER_NUMBER. The type kept is the bytes' own
    when they say it (the sandbox does not transcode what the wire calls JPEG or Opus)."""
    mime_type = filetype.guess_mime(data) or mime_type
    SandboxMessageMedia.objects.create(
        message=message,
        data=data,
        mime_type=mime_type[:120],
        file_name=file_name[:255],
        size=len(data),
    )
    stale = SandboxMessageMedia.objects.filter(message__instance_id=message.instance_id).order_by(
        "-id"
    )[MEDIA_KEPT_PER_NUMBER:]
    SandboxMessageMedia.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()


def media_message(
    data: bytes, mime_type: str, *, caption: str = "", file_name: str = "", **extra
) -> dict:
    """A WhatsApp media message for `data` (what Baileys' prepareWAMessageMedia builds):
    the CDN URL of the encrypted file, its hashes and key, as a v2.3 record carries them."""
    path = f"/v/t62.7118-24/{secrets.token_hex(16)}.enc?ccb=11-4&oh=01_{secrets.token_urlsafe(24)}&oe={int(time.time()) + 1_209_600:X}&_nc_sid=5e03e0"
    media = {
        "url": f"https://mmg.whatsapp.net{path}&mms3=true",
        "mimetype": mime_type,
        "fileSha256": wire_bytes(hashlib.sha256(data).digest()),
        "fileLength": wire_long(len(data)),
        "mediaKey": wire_bytes(secrets.token_bytes(32)),
        "fileEncSha256": wire_bytes(secrets.token_bytes(32)),
        "directPath": path,
        "mediaKeyTimestamp": wire_long(int(time.time()), unsigned=False),
    }
    if caption:
        media["caption"] = caption
    if file_name:
        media["fileName"] = file_name
    return media | extra


def vcard(
    name: str, phone: str, wuid: str = "", organization: str = "", email: str = "", url: str = ""
) -> str:
    """The vCard Evolution's sendContact writes (contactMessage in the baileys service)."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:{name}", f"FN:{name}"]
    if organization:
        lines.append(f"ORG:{organization};")
    if email:
        lines.append(f"EMAIL:{email}")
    if url:
        lines.append(f"URL:{url}")
    wuid = wuid or create_jid(phone)
    lines += [f"item1.TEL;waid={wuid}:{phone}", "item1.X-ABLabel:Celular", "END:VCARD"]
    return "\n".join(lines)


def contacts_message(cards: list[tuple[str, str]]) -> tuple[str, dict]:
    """(messageType, message) for contact cards [(display name, vCard)]: one card is a
    contactMessage, more a contactsArrayMessage."""
    if len(cards) == 1:
        name, card = cards[0]
        return "contactMessage", {"contactMessage": {"displayName": name, "vcard": card}}
    contacts = [{"displayName": name, "vcard": card} for name, card in cards]
    return "contactsArrayMessage", {
        "contactsArrayMessage": {"displayName": f"{len(cards)} contacts", "contacts": contacts}
    }


# The business sends (message/send*).


@transaction.atomic
def accept(
    instance: SandboxInstance,
    number: str,
    message_type: str,
    message: dict,
    *,
    kind: str,
    text: str = "",
    media: tuple[bytes, str, str] | None = None,
    target_id: str = "",
    reference: str = "",
) -> dict:
    """Record what the business sent, answer with its record (status PENDING), and tell
    Conversa as Evolution does: send.message, then messages.update SERVER_ACK at once and
    DELIVERY_ACK after SANDBOX_DELIVERY_DELAY."""
    if instance.state != "open":
        raise SandboxError(400, "Connection Closed")
    jid = create_jid(number)
    user = jid.split("@", 1)[0]
    if jid.endswith("@s.whatsapp.net") and not (user.isdigit() and 8 <= len(user) <= 15):
        # sendMessageWithTyping: BadRequestException(isWA), the number check itself.
        raise Refused(400, [{"jid": jid, "exists": False, "number": number}])
    phone, lid = chat_of(instance, jid)
    row = SandboxMessage.objects.create(
        instance=instance,
        chat_phone=phone[:20],
        lid=lid,
        from_me=True,
        kind=kind,
        message_id=simulator.new_message_id(),
        text=text,
        status="SERVER_ACK",
        target_id=target_id,
        reference=reference,
    )
    now = int(time.time())
    row.content = {
        "key": {"remoteJid": jid, "fromMe": True, "id": row.message_id},
        "message": message,
        "messageType": message_type,
        "pushName": "Você",
        "source": "web",
        # What sendMessageWithTyping puts beside a message to a person.
        "contextInfo": {
            "mentionedJid": [],
            "groupMentions": [],
            "ephemeralSettingTimestamp": wire_long(now - 172_800, unsigned=False),
            "disappearingMode": {"initiator": 0},
        },
    }
    row.save(update_fields=["content"])
    if media:
        store_media(row, *media)
    answer = record(row) | {"status": "PENDING"}
    transaction.on_commit(lambda: simulator.emit(instance, "send.message", answer))
    transaction.on_commit(lambda: report_status(row, "SERVER_ACK"))
    transaction.on_commit(
        lambda: report_status(row, "DELIVERY_ACK", delay=settings.SANDBOX_DELIVERY_DELAY)
    )
    return answer


def edited(message: SandboxMessage, text: str) -> None:
    """A text or caption edited in place, as the server rewrites its stored message."""
    stored = record(message)
    body, message_type = dict(stored["message"]), stored["messageType"]
    if message_type in ("conversation", "extendedTextMessage"):
        body = {"conversation": text}
    elif isinstance(body.get(message_type), dict):
        body[message_type] = body[message_type] | {"caption": text}
    content = (message.content or {}) | {
        "key": stored["key"],
        "message": body,
        "messageType": message_type,
        "pushName": stored["pushName"],
        "source": stored["source"],
    }
    SandboxMessage.objects.filter(pk=message.pk).update(
        text=text, content=content, edited_at=timezone.now()
    )


def accept_text(instance: SandboxInstance, number: str, text: str, reference: str = "") -> dict:
    """message/sendText to a `@lid` chat (simulator.accept_send plays the phone ones)."""
    return accept(
        instance,
        number,
        "conversation",
        {"conversation": text},
        kind="text",
        text=text,
        reference=reference,
    )


def report_status(message: SandboxMessage, status: str, delay: float = 0.0) -> None:
    """messages.update for a business message, addressed as its chat is (phone or @lid)."""
    SandboxMessage.objects.filter(pk=message.pk).exclude(status="READ").update(status=status)
    data = {
        "keyId": message.message_id,
        "remoteJid": remote_jid(message),
        "fromMe": True,
        "participant": None,
        "status": status,
        "instanceId": str(message.instance_id),
        "messageId": record_id(message),
    }
    if message.reference:
        data["reference"] = message.reference
    simulator.emit(message.instance, "messages.update", data, delay=delay)


def record_id(message: SandboxMessage) -> str:
    """The server's own id of a stored message (a cuid in Evolution's database)."""
    return f"cm{message.pk:023x}"


def read_media(value, upload=None) -> bytes:
    """The file of a send: an uploaded `file`, base64 or an http(s) URL the server fetches,
    at most MAX_MEDIA_BYTES."""
    if upload is not None:
        data = upload.read(MAX_MEDIA_BYTES + 1)
    elif isinstance(value, str) and re.match(r"^https?://", value):
        data = fetch_url(value)
    elif isinstance(value, str) and value:
        if len(value) > MAX_MEDIA_BYTES * 4 // 3 + 4:
            raise SandboxError(413, f"The file is larger than {MAX_MEDIA_BYTES} bytes")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SandboxError(400, "Owned media must be a url or base64") from exc
    else:
        raise SandboxError(400, "Owned media must be a url or base64")
    if len(data) > MAX_MEDIA_BYTES:
        raise SandboxError(413, f"The file is larger than {MAX_MEDIA_BYTES} bytes")
    if not data:
        raise SandboxError(400, "Invalid media buffer")
    return data


def fetchable(url: str) -> bool:
    """Whether the sandbox may download `url`: Conversa's own address, or a host whose every
    address is public, so a send cannot make the sandbox read the private network."""
    host = urlparse(url).hostname or ""
    if host and host == urlparse(settings.PUBLIC_URL).hostname:
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(a).is_global for a in addresses)


def fetch_url(url: str) -> bytes:
    """Download a send's media URL as Evolution does (axios), bounded in time and size;
    redirects are not followed (each hop would need the same check)."""
    if not fetchable(url):
        raise SandboxError(400, f"Error: the sandbox does not download from {url}")
    chunks, size = [], 0
    try:
        with httpx.stream("GET", url, timeout=10, follow_redirects=False) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_MEDIA_BYTES:
                    raise SandboxError(413, f"The file is larger than {MAX_MEDIA_BYTES} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise SandboxError(400, f"Error: could not download {url}: {exc}") from exc
    return b"".join(chunks)
