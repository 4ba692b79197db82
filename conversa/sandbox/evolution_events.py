"""What an Evolution v2.3 server tells Conversa by webhook, for everything a customer or the
business's own phone does, and for the connection's ups and downs.

Shapes follow the server's code (whatsapp.baileys.service.ts: the messages.upsert handler,
prepareMessage, messages.update, connectionUpdate) and Baileys' cleanMessage:

- `@lid` addressing: key.remoteJid "<lid>@lid", addressingMode "lid", and the phone in
  key.remoteJidAlt when WhatsApp sent it (not always: then the phone is nowhere).
- A reaction is a messages.upsert reactionMessage whose key Baileys rewrote to the
  business's side (fromMe true when it reacts to the business's message).
- An edit or a revoke is not an upsert: the server sends the protocolMessage itself as
  messages.edited (type 14 edit with editedMessage, type 0 revoke), keyed as the sender's
  phone keyed it: a customer's own message is `fromMe: true` with the business's JID as
  remoteJid (Evolution issues #1367, #1647). A revoke is then messages.delete with the key.
- Media carries its bytes in message.base64 when the webhook's base64 option is on, except
  inside wrappers (view-once, ephemeral), which the server does not look into.
- A poll vote reaches no webhook: v2.3 skips the pollUpdateMessage upsert and the
  messages.update that carries pollUpdates (it has neither a status nor a null message).
- A connection that drops for a transient reason (408, 428, 440, 500, 503, 515) reconnects
  quietly: connecting, then open, never close. Only 401 (logged out on the phone), 403
  (banned), 402 and 406 end it: status.instance closed, logout.instance, then close.
"""

import base64
import json
import secrets
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversa.sandbox import evolution_api as api
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from conversa.sandbox.simulator import SandboxError

# Baileys' DisconnectReason values after which the server reconnects by itself.
TRANSIENT = (408, 428, 440, 500, 503, 515)
# The ones Evolution does not reconnect from (codesToNotReconnect), with Boom's words.
FINAL = {401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 406: "Not Acceptable"}
# How long a chat's messages disappear after, when the customer turned that on (7 days).
EPHEMERAL_SECONDS = 604_800


def phone_message_id() -> str:
    """A message id as an Android phone makes it (32 hex digits; 3EB0… is WhatsApp Web)."""
    return secrets.token_hex(16).upper()


def key_for(row: SandboxMessage, *, from_me: bool, with_alt: bool = True) -> dict:
    """A message key as v2.3 sends it: plain for a phone chat, with addressingMode and the
    phone beside it (remoteJidAlt) for a `@lid` chat when WhatsApp gave it."""
    if not row.lid:
        return {"remoteJid": simulator.jid(row.chat_phone), "fromMe": from_me, "id": row.message_id}
    key = {
        "remoteJid": f"{row.lid}@lid",
        "fromMe": from_me,
        "id": row.message_id,
        "participant": "",
        "addressingMode": "lid",
    }
    if with_alt and row.chat_phone and row.chat_phone != row.lid:
        key["remoteJidAlt"] = simulator.jid(row.chat_phone)
    return key


def business_jid(instance: SandboxInstance) -> str:
    return simulator.jid(instance.owner_phone or "0")


def new_row(instance: SandboxInstance, phone: str, lid: str, **fields) -> SandboxMessage:
    if instance.state != "open":
        raise SandboxError(400, f'The "{instance.name}" instance is not connected')
    return SandboxMessage.objects.create(
        instance=instance, chat_phone=(phone or lid)[:20], lid=lid[:40], **fields
    )


def upsert(
    row: SandboxMessage,
    message: dict,
    message_type: str,
    *,
    with_alt: bool = True,
    context: dict | None = None,
    media: tuple[bytes, str, str] | None = None,
) -> None:
    """Store the record on the row and send messages.upsert once the row is committed."""
    instance = row.instance
    from_me = row.from_me
    key = key_for(row, from_me=from_me, with_alt=with_alt)
    push_name = "Você" if from_me else (row.customer_name or None)
    row.content = {
        "key": key,
        "message": message,
        "messageType": message_type,
        "pushName": push_name,
        "source": "android",
    }
    if context is not None:
        row.content["contextInfo"] = context
    row.save(update_fields=["content"])
    wire = dict(message)
    if media:
        api.store_media(row, *media)
        # The server reads the file only for a media message at the top level.
        if instance.webhook_base64 and message_type in api.MEDIA_MESSAGES:
            wire["base64"] = base64.b64encode(media[0]).decode()
    data = api.record(row) | {"message": wire}
    transaction.on_commit(lambda: simulator.emit(instance, "messages.upsert", data))


def reply_context(instance: SandboxInstance, row: SandboxMessage, reply_to: str) -> dict | None:
    """contextInfo of a reply: the quoted message's id, author and content."""
    if not reply_to:
        return None
    quoted = SandboxMessage.objects.filter(instance=instance, message_id=reply_to).first()
    context = {"stanzaId": reply_to, "participant": business_jid(instance)}
    if quoted is not None:
        if not quoted.from_me:
            context["participant"] = api.remote_jid(quoted)
        context["quotedMessage"] = api.record(quoted)["message"]
    return context


@transaction.atomic
def customer_message(
    instance: SandboxInstance,
    phone: str,
    kind: str,
    content: dict,
    *,
    lid: str = "",
    with_alt: bool = True,
    name: str = "",
    reply_to: str = "",
) -> SandboxMessage:
    """A customer's message of any kind (base.KINDS' content keys; `file`, `mime_type`,
    `file_name` for media; `ephemeral` or `view_once` to wrap it as WhatsApp does)."""
    text = str(content.get("body") or content.get("caption") or "")
    row = new_row(
        instance,
        phone,
        lid,
        customer_name=name[:120],
        from_me=False,
        kind=kind,
        message_id=phone_message_id(),
        text=text,
        status="DELIVERY_ACK",
    )
    message_type, message, media = customer_wire(kind, content)
    context = reply_context(instance, row, reply_to)
    if context and message_type in api.MEDIA_MESSAGES + ("locationMessage", "contactMessage"):
        message[message_type]["contextInfo"] = context
    if content.get("view_once") and kind in ("image", "video"):
        message[message_type]["viewOnce"] = True
        message, message_type = {"viewOnceMessageV2": {"message": message}}, "viewOnceMessageV2"
    elif content.get("ephemeral"):
        inner = message
        if message_type == "conversation":
            inner = {"extendedTextMessage": {"text": text}}
            message_type = "extendedTextMessage"
        body = inner[message_type]
        body["contextInfo"] = (context or {}) | {
            "expiration": EPHEMERAL_SECONDS,
            "ephemeralSettingTimestamp": api.wire_long(int(time.time()) - 86_400, False),
            "disappearingMode": {"initiator": 0},
        }
        message, message_type = {"ephemeralMessage": {"message": inner}}, "ephemeralMessage"
    upsert(row, message, message_type, with_alt=with_alt, context=context, media=media)
    return row


def customer_wire(kind: str, content: dict) -> tuple[str, dict, tuple | None]:
    """(messageType, message, media) of a customer's message as the server passes it on."""
    if kind == "text":
        body = str(content.get("body") or "")
        if not body:
            raise SandboxError(400, "A text message needs a body")
        return "conversation", {"conversation": body}, None
    if kind in api.WIRE_TYPES:
        data = content.get("file") or b""
        if not isinstance(data, bytes) or not data or len(data) > api.MAX_MEDIA_BYTES:
            raise SandboxError(400, f"A {kind} needs a file of 1 to {api.MAX_MEDIA_BYTES} bytes")
        mime_type = str(content.get("mime_type") or "application/octet-stream")
        file_name = str(content.get("file_name") or "")
        caption = "" if kind in ("audio", "voice", "sticker") else str(content.get("caption") or "")
        extra: dict = {}
        if kind == "voice":
            mime_type, extra = "audio/ogg; codecs=opus", {"seconds": 7, "ptt": True}
        elif kind == "audio":
            extra = {"seconds": 7, "ptt": False}
        elif kind == "document":
            extra = {"fileName": file_name or "document", "title": file_name or "document"}
        elif kind == "video":
            extra = {"seconds": 7, "gifPlayback": False}
        elif kind == "sticker":
            mime_type, extra = "image/webp", {"isAnimated": False}
        message_type = api.WIRE_TYPES[kind]
        media = api.media_message(data, mime_type, caption=caption, **extra)
        return message_type, {message_type: media}, (data, mime_type, file_name)
    if kind == "location":
        try:
            latitude, longitude = float(content["latitude"]), float(content["longitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SandboxError(400, "A location needs latitude and longitude") from exc
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SandboxError(400, "Latitude and longitude must be degrees on Earth")
        location = {"degreesLatitude": latitude, "degreesLongitude": longitude}
        for field in ("name", "address", "url"):
            if content.get(field):
                location[field] = str(content[field])[:500]
        return "locationMessage", {"locationMessage": location}, None
    if kind == "contacts":
        cards = [card for card in content.get("contacts") or [] if isinstance(card, dict)][:20]
        if not cards or not all(card.get("name") for card in cards):
            raise SandboxError(400, "Contact cards need a name each")
        message_type, message = api.contacts_message(
            [(str(card["name"]), phone_vcard(card)) for card in cards]
        )
        return message_type, message, None
    if kind == "poll":
        options = [str(o) for o in content.get("options") or [] if str(o).strip()][:12]
        if not content.get("question") or len(options) < 2:
            raise SandboxError(400, "A poll needs a question and at least two options")
        poll = {
            "name": str(content["question"]),
            "options": [{"optionName": option} for option in options],
            "selectableOptionsCount": 1,
        }
        secret = api.wire_bytes(secrets.token_bytes(32))
        return (
            "pollCreationMessageV3",
            {"pollCreationMessageV3": poll, "messageContextInfo": {"messageSecret": secret}},
            None,
        )
    raise SandboxError(400, f"The sandbox's Evolution customer cannot send a {kind!r} message")


def phone_vcard(card: dict) -> str:
    """The vCard a phone shares: each number with its WhatsApp id (waid)."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:;{card['name']};;;", f"FN:{card['name']}"]
    for phone in card.get("phones") or []:
        digits = "".join(ch for ch in str(phone) if ch.isdigit())
        if digits:
            lines.append(f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}")
    lines.append("END:VCARD")
    return "\n".join(lines)


@transaction.atomic
def customer_change(
    instance: SandboxInstance,
    phone: str,
    change: str,
    content: dict,
    *,
    lid: str = "",
    with_alt: bool = True,
    name: str = "",
) -> SandboxMessage | None:
    """A reaction (`emoji`, "" takes it back), an edit (`body`) or a revoke by the customer,
    of the message `target`; only their own messages can be edited or revoked."""
    target_id = str(content.get("target") or "")
    target = SandboxMessage.objects.filter(instance=instance, message_id=target_id).first()
    if target is None:
        raise SandboxError(400, "No message with that id in this chat")
    if change == "reaction":
        emoji = str(content.get("emoji") or "")
        row = new_row(
            instance,
            phone,
            lid,
            customer_name=name[:120],
            from_me=False,
            kind="reaction",
            message_id=phone_message_id(),
            text=emoji,
            status="DELIVERY_ACK",
            target_id=target_id,
        )
        chat = key_for(row, from_me=False, with_alt=with_alt)
        reaction_key = {"remoteJid": chat["remoteJid"], "fromMe": target.from_me, "id": target_id}
        if "participant" in chat:
            reaction_key["participant"] = chat["participant"]
        reaction = {
            "key": reaction_key,
            "text": emoji,
            "senderTimestampMs": api.wire_long(int(time.time() * 1000), False),
        }
        upsert(row, {"reactionMessage": reaction}, "reactionMessage", with_alt=with_alt)
        return row
    if target.from_me or change not in ("edit", "revoke"):
        raise SandboxError(400, "A customer can edit or delete only their own messages")
    # The protocolMessage's key as the customer's phone wrote it (see the module's notes).
    protocol = {
        "key": {"remoteJid": business_jid(instance), "fromMe": True, "id": target_id},
        "type": 0,
    }
    if change == "edit":
        body = str(content.get("body") or "")
        if not body:
            raise SandboxError(400, "An edit needs the new text")
        protocol |= {
            "type": 14,
            "editedMessage": {"conversation": body},
            "timestampMs": str(int(time.time() * 1000)),
        }
        api.edited(target, body)
    else:
        SandboxMessage.objects.filter(pk=target.pk).update(revoked_at=timezone.now())
    transaction.on_commit(lambda: simulator.emit(instance, "messages.edited", protocol))
    if change == "revoke":
        deleted = key_for(target, from_me=False, with_alt=with_alt)
        transaction.on_commit(lambda: simulator.emit(instance, "messages.delete", deleted))
    return None


@transaction.atomic
def phone_sends(
    instance: SandboxInstance, phone: str, text: str, *, lid: str = ""
) -> SandboxMessage:
    """The business types a message on its own phone: Conversa hears it as a fromMe
    messages.upsert, and the customer sees it like any other of the business's messages."""
    if not text:
        raise SandboxError(400, "Type the message the business sends from its phone")
    row = new_row(
        instance,
        phone,
        lid,
        from_me=True,
        from_phone=True,
        kind="text",
        message_id=phone_message_id(),
        text=text,
        status="SERVER_ACK",
    )
    upsert(row, {"conversation": text}, "conversation")
    return row


def customer_reads(instance: SandboxInstance, phone: str) -> int:
    """The customer opened the chat: the business's unread messages become READ."""
    if instance.protocol != "evolution":
        return simulator.customer_reads(instance, phone)
    unread = list(
        SandboxMessage.objects.filter(instance=instance, chat_phone=phone, from_me=True)
        .exclude(status="READ")
        .exclude(kind="reaction")
        .order_by("id")
    )
    for message in unread:
        api.report_status(message, "READ")
    return len(unread)


# The connection.


def drop_connection(instance: SandboxInstance, code: int = 428) -> None:
    """A transient drop (`code` one of TRANSIENT): Baileys reconnects by itself and the
    server says only connecting, then open; the number stays usable."""
    if instance.protocol != "evolution" or instance.state != "open":
        raise SandboxError(400, f'The "{instance.name}" instance is not connected')
    if code not in TRANSIENT:
        raise SandboxError(400, f"{code} is not a transient close code")
    simulator.emit_connection(instance, "connecting", 200)
    opened = {
        "instance": instance.name,
        "wuid": business_jid(instance),
        "profileName": instance.name,
        "profilePictureUrl": None,
        "state": "open",
        "statusReason": 200,
    }
    simulator.emit(instance, "connection.update", opened, delay=settings.SANDBOX_DELIVERY_DELAY)


def close(instance: SandboxInstance, code: int) -> None:
    """The connection ends for good with `code` (401 logged out from the phone, 403 banned,
    402, 406): status.instance closed, logout.instance, then connection.update close."""
    if code not in FINAL:
        raise SandboxError(400, f"{code} is not a close code Evolution stays closed after")
    if instance.protocol != "evolution" or instance.state != "open":
        raise SandboxError(400, f'The "{instance.name}" instance is not connected')
    instance.state, instance.qr_code, instance.qr_count = "close", "", 0
    instance.save(update_fields=["state", "qr_code", "qr_count"])
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    boom = {
        "data": {"reason": str(code)},
        "isBoom": True,
        "isServer": False,
        "output": {
            "statusCode": code,
            "payload": {"statusCode": code, "error": FINAL[code], "message": "Connection Failure"},
            "headers": {},
        },
    }
    status = {
        "instance": instance.name,
        "status": "closed",
        "disconnectionAt": now,
        "disconnectionReasonCode": code,
        "disconnectionObject": json.dumps({"error": boom, "date": now}),
    }
    simulator.emit(instance, "status.instance", status)
    simulator.emit(instance, "logout.instance", None)
    closed = {"instance": instance.name, "state": "close", "statusReason": code}
    simulator.emit(instance, "connection.update", closed)
