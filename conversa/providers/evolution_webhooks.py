"""Evolution API v2 webhooks (docs/providers.md §B2) read into neutral events.

Messages arrive in `messages.upsert` as Baileys' `WebMessageInfo`: `key` {remoteJid, fromMe, id,
remoteJidAlt / senderPn / participantAlt, addressingMode} and `message`, a protobuf `Message`
turned into JSON whose one content key says its kind. Evolution v2.3 rewrites two of them before
sending (`prepareMessage()`): `extendedTextMessage` becomes `conversation` with its contextInfo
moved to `data.contextInfo`, and `documentWithCaptionMessage` becomes `documentMessage`. Edits
and revokes (protocolMessage) go out as `messages.edited` with the protocolMessage as `data`;
a message deleted for everyone as `messages.delete` with its key. Older servers send all of these
inside `messages.upsert`, so both are read.
"""

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

from conversa.providers.base import InboundMessage, MessageChange, StatusUpdate
from conversa.providers.webhook_json import guarded, text, unparsed
from conversa.providers.webhook_json import location as shared_location

# messages.update `status`, by name or by Baileys' number (docs/providers.md §B2). "DELETED" is
# what Evolution writes when an update has no status: not news about delivery.
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

# Wrappers around the real content: {"<wrapper>": {"message": {...}}}.
WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
)
# Keys beside the content that are not a kind: metadata, and what Evolution adds.
NOT_CONTENT = {"messageContextInfo", "base64", "speechToText", "senderKeyDistributionMessage"}
MEDIA = {
    "imageMessage": "image",
    "videoMessage": "video",
    # A round video note.
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
CHOICES = (
    "buttonsResponseMessage",
    "listResponseMessage",
    "templateButtonReplyMessage",
    "interactiveResponseMessage",
)
POLLS = ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3")
# protocolMessage.type: protobufjs omits the zero value (REVOKE) or writes enums as names.
REVOKE = (0, "REVOKE", None)
MESSAGE_EDIT = (14, "MESSAGE_EDIT")

# Chats that are not a conversation with one customer.
NOT_CONVERSATIONS = (
    ("@g.us", "group chats are not supported"),
    ("@broadcast", "status updates and broadcast lists are not supported"),
    ("@newsletter", "channels (newsletters) are not supported"),
)


def parse_event(event: str, data, envelope: dict, lifecycle: dict[str, Callable]) -> list:
    """(event, dedupe key) pairs of one Evolution webhook; `lifecycle` parses the number's own
    events (connection, QR, logout), which the adapter keeps. An event we do not follow is []."""
    parser = {
        "messages.upsert": parse_upsert,
        "messages.update": parse_update,
        "messages.edited": parse_edited,
        "messages.delete": parse_delete,
        **lifecycle,
    }.get(event)
    if parser is None:
        return []
    item = {"event": event, "data": data}
    # logout.instance is the one event whose news is the event itself: its data is null.
    if not isinstance(data, dict) and event != "logout.instance":
        if event == "messages.upsert" and isinstance(data, list):
            # Some versions batch messages: each one is read, or kept unparsed, on its own.
            return [
                pair
                for one in data
                for pair in guarded(
                    {"event": event, "data": one},
                    lambda one=one: parse_upsert(one, envelope),
                    event,
                )
            ]
        return unparsed(item, f"{event}: 'data' is not an object")
    return guarded(item, lambda: parser(data, envelope), event)


# Addressing


def jid_user(jid: str) -> str:
    """The user part of a JID, without its device suffix ("5511…:12@s.whatsapp.net")."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def phone_from_jid(*jids: str | None) -> str:
    """The digits of the first phone-number JID (`<digits>@s.whatsapp.net`) among `jids`."""
    for jid in jids:
        if isinstance(jid, str) and jid.endswith(("@s.whatsapp.net", "@c.us")):
            return jid_user(jid)
    return ""


def lid_from_jid(*jids: str | None) -> str:
    for jid in jids:
        if isinstance(jid, str) and jid.endswith("@lid"):
            return jid_user(jid)
    return ""


def customer(key: dict) -> dict:
    """The customer of a chat, from a message key: {"phone", "lid"} (either may be empty).

    `remoteJid` is the chat, whoever wrote; WhatsApp addresses it by phone or by @lid, and gives
    the other form beside it when it knows (remoteJidAlt; senderPn / senderLid in Baileys 6.7;
    participantAlt)."""
    if not isinstance(key, dict):
        raise TypeError("'key' is not an object")
    jids = [key.get(name) for name in ("remoteJid", "remoteJidAlt", "senderPn", "senderLid")]
    jids.append(key.get("participantAlt"))
    return {"phone": phone_from_jid(*jids), "lid": lid_from_jid(*jids)}


def not_a_conversation(key: dict) -> str:
    remote = key.get("remoteJid")
    remote = remote if isinstance(remote, str) else ""
    for suffix, reason in NOT_CONVERSATIONS:
        if remote.endswith(suffix):
            return reason
    return ""


# Values in Baileys' JSON


def number(value) -> int | None:
    """An integer as protobuf JSON writes it: a number, a string, or a Long {low, high}."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        low, high = int(value.get("low", 0)), int(value.get("high", 0))
        return (high << 32) + (low & 0xFFFFFFFF)
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return int(value)


def size(value) -> int | None:
    """A count or a byte size; one that cannot be read is unknown, not a lost message."""
    try:
        return number(value)
    except (TypeError, ValueError, OverflowError):
        return None


def when(value) -> datetime | None:
    # A time that cannot be read is "unknown" (the arrival time is used), not a lost message.
    try:
        seconds = number(value)
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def byte_string(value) -> str:
    """Bytes as base64: Evolution sends them as base64 text, or as an {"0": n, "1": n…} object."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return base64.b64encode(bytes(int(value[str(i)]) for i in range(len(value)))).decode()
    raise TypeError("bytes are neither text nor an index object")


# Messages


def unwrapped(message: dict) -> dict:
    """The message inside ephemeral, view-once, document-with-caption and edited wrappers."""
    for _ in range(len(WRAPPERS)):
        inner = next((message[w] for w in WRAPPERS if isinstance(message.get(w), dict)), None)
        if inner is None or not isinstance(inner.get("message"), dict):
            return message
        message = inner["message"]
    return message


def content_key(message: dict) -> str:
    """The one key of `message` that says its kind."""
    keys = [key for key in message if key not in NOT_CONTENT and message[key] is not None]
    return keys[0] if keys else ""


def parse_upsert(data: dict, envelope: dict) -> list:
    key = data["key"]
    reason = not_a_conversation(key)
    if reason:
        return unparsed({"event": "messages.upsert", "data": data}, reason)
    own_id = text(key["id"])
    who = customer(key)
    if not (who["phone"] or who["lid"]):
        return unparsed({"event": "messages.upsert", "data": data}, "no phone or lid in the key")
    from_me = key.get("fromMe") is True
    outer = data.get("message") or {}
    if not isinstance(outer, dict):
        raise TypeError("'message' is not an object")
    message = unwrapped(outer)
    kind_key = content_key(message)
    if kind_key == "protocolMessage":
        return protocol_change(message["protocolMessage"], who, from_me, f"change:{own_id}")
    if kind_key == "reactionMessage":
        reaction = message["reactionMessage"]
        change = MessageChange(
            provider_message_id=text(reaction["key"]["id"]),
            change="reaction",
            emoji=text(reaction.get("text")),
            from_me=from_me,
            timestamp=when(data.get("messageTimestamp")),
            **who,
        )
        return [(change, f"change:{own_id}")]
    kind, body, content = read_content(kind_key, message)
    if not kind_key:
        # Nothing but metadata (a message WhatsApp could not decrypt, or a placeholder).
        content = {"type": text(data.get("messageType")) or "empty"}
    if kind in ("image", "video", "audio", "voice", "document", "sticker"):
        carried = outer.get("base64") or data.get("base64")
        if carried:
            content["media"]["base64"] = text(carried)
    context = context_info(message.get(kind_key), data)
    referral = context.get("externalAdReply")
    if isinstance(referral, dict):
        content["referral"] = {
            "headline": text(referral.get("title")),
            "body": text(referral.get("body")),
            "source_url": text(referral.get("sourceUrl")),
            "source_type": text(referral.get("sourceType")),
        }
    event = InboundMessage(
        provider_message_id=own_id,
        # pushName of a message typed on the business phone is the business's (or "Você").
        name="" if from_me else text(data.get("pushName")),
        kind=kind,
        body=body,
        timestamp=when(data.get("messageTimestamp")),
        from_me=from_me,
        content=content,
        reply_to=text(context.get("stanzaId")),
        **who,
    )
    return [(event, f"message:{own_id}")]


def context_info(inner, data: dict) -> dict:
    """contextInfo of the content, or of `data` where Evolution v2.3 moved it."""
    for holder in (inner, data):
        if isinstance(holder, dict) and isinstance(holder.get("contextInfo"), dict):
            return holder["contextInfo"]
    return {}


def read_content(kind_key: str, message: dict) -> tuple[str, str, dict]:
    """(kind, body, content) of an unwrapped message (base.KINDS)."""
    value = message.get(kind_key)
    if kind_key == "conversation":
        return "text", text(value), {}
    if not isinstance(value, dict):
        return "unsupported", "", {"type": kind_key or "empty"}
    if kind_key == "extendedTextMessage":
        return "text", text(value.get("text")), {}
    if kind_key in MEDIA:
        kind = MEDIA[kind_key]
        if kind == "audio" and value.get("ptt") is True:
            kind = "voice"
        media = {
            "id": "",
            "url": text(value.get("url")),
            "mime_type": text(value.get("mimetype")),
            "file_name": text(value.get("fileName")),
            "size": size(value.get("fileLength")),
            "sha256": byte_string(value.get("fileSha256")),
        }
        return kind, text(value.get("caption")), {"media": media}
    if kind_key in ("locationMessage", "liveLocationMessage"):
        return location(value)
    if kind_key in ("contactMessage", "contactsArrayMessage"):
        cards = value.get("contacts") if kind_key == "contactsArrayMessage" else [value]
        contacts = [vcard_contact(card) for card in cards or []]
        names = [c["name"] or (c["phones"] or [""])[0] for c in contacts]
        return "contacts", "👤 " + ", ".join(names), {"contacts": contacts}
    if kind_key in CHOICES:
        choice = chosen(kind_key, value)
        return "choice", choice["title"] or choice["id"], choice
    if kind_key == "orderMessage":
        return order(value)
    if kind_key in POLLS:
        options = [text(option.get("optionName")) for option in value.get("options") or []]
        question = text(value.get("name"))
        return "poll", f"📊 {question}", {"question": question, "options": options, "votes": {}}
    return "unsupported", "", {"type": kind_key}


def location(value: dict) -> tuple[str, str, dict]:
    return shared_location(
        value.get("degreesLatitude"),
        value.get("degreesLongitude"),
        name=value.get("name"),
        address=value.get("address"),
        url=value.get("url"),
    )


def vcard_contact(card: dict) -> dict:
    """{"name", "phones", "wa_ids"} of a contactMessage: its vCard's FN and TEL lines."""
    name, phones, wa_ids = text(card.get("displayName")), [], []
    for line in text(card.get("vcard")).replace("\r\n", "\n").split("\n"):
        field, _, value = line.partition(":")
        params = field.split(";")
        label = params[0].split(".")[-1].upper()  # "item1.TEL" is a TEL
        if label == "FN" and value.strip():
            name = value.strip()
        elif label == "TEL":
            phones.append(value.strip())
            for param in params[1:]:
                pname, _, pvalue = param.partition("=")
                if pname.lower() == "waid" and pvalue:
                    wa_ids.append(pvalue)
    return {"name": name, "phones": phones, "wa_ids": wa_ids}


def chosen(kind_key: str, value: dict) -> dict:
    """{"id", "title", "description"} of the button or list row the customer picked."""
    if kind_key == "buttonsResponseMessage":
        ident, title = value.get("selectedButtonId"), value.get("selectedDisplayText")
        description = None
    elif kind_key == "listResponseMessage":
        reply = value.get("singleSelectReply") or {}
        ident, title = reply.get("selectedRowId"), value.get("title")
        description = value.get("description")
    elif kind_key == "templateButtonReplyMessage":
        ident, title = value.get("selectedId"), value.get("selectedDisplayText")
        description = None
    else:  # interactiveResponseMessage: a native flow button, its parameters as JSON text
        flow = value.get("nativeFlowResponseMessage") or {}
        title = (value.get("body") or {}).get("text")
        ident = flow.get("name")
        try:
            params = json.loads(text(flow.get("paramsJson")) or "{}")
        except ValueError:
            params = {}
        if isinstance(params, dict) and isinstance(params.get("id"), str):
            ident = params["id"]
        description = None
    return {"id": text(ident), "title": text(title), "description": text(description)}


def order(value: dict) -> tuple[str, str, dict]:
    # WhatsApp Web sends the order's summary; its items are fetched with the order's token.
    count = size(value.get("itemCount"))
    note = text(value.get("message"))
    content = {
        "catalog_id": "",
        "items": [],
        "text": note,
        "order_id": text(value.get("orderId")),
        "item_count": count,
        "title": text(value.get("orderTitle")),
    }
    return "order", note or f"🛒 Order: {count or 0} item(s)", content


# Changes to messages already in the thread


def protocol_change(protocol: dict, who: dict, from_me: bool, dedupe_key: str) -> list:
    """A revoke or an edit (protocolMessage) of the message its `key` names."""
    target = text(protocol["key"]["id"])
    kind = protocol.get("type")
    stamp = size(protocol.get("timestampMs"))
    try:
        moment = datetime.fromtimestamp(stamp / 1000, tz=UTC) if stamp else None
    except (ValueError, OverflowError, OSError):
        moment = None
    common = {"provider_message_id": target, "from_me": from_me, "timestamp": moment, **who}
    if kind in REVOKE:
        return [(MessageChange(change="revoke", **common), dedupe_key)]
    if kind in MESSAGE_EDIT:
        edited = unwrapped(protocol.get("editedMessage") or {})
        _, body, _ = read_content(content_key(edited), edited)
        return [(MessageChange(change="edit", body=body, **common), dedupe_key)]
    raise ValueError(f"protocol message type {kind!r} is not a change to a message")


def parse_edited(data: dict, envelope: dict) -> list:
    """messages.edited: the protocolMessage itself (v2.3), or a whole message (older)."""
    if "message" in data:
        return parse_upsert(data, envelope)
    key = data["key"]
    reason = not_a_conversation(key)
    if reason:
        return unparsed({"event": "messages.edited", "data": data}, reason)
    target = text(key["id"])
    # No id of its own: the same change, sent again, is the same target, type and new content.
    what = [data.get("type"), data.get("editedMessage")]
    fingerprint = json.dumps(what, sort_keys=True, default=str)
    dedupe = f"change:{target}:{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"
    return protocol_change(data, customer(key), key.get("fromMe") is True, dedupe)


def parse_delete(data: dict, envelope: dict) -> list:
    """messages.delete: the key of a message deleted for everyone (or, after a delete through
    the API, the stored message with that key)."""
    key = data["key"] if isinstance(data.get("key"), dict) else data
    reason = not_a_conversation(key)
    if reason:
        return unparsed({"event": "messages.delete", "data": data}, reason)
    target = text(key["id"])
    change = MessageChange(
        provider_message_id=target,
        change="revoke",
        from_me=key.get("fromMe") is True,
        **customer(key),
    )
    return [(change, f"change:revoke:{target}")]


def parse_update(data: dict, envelope: dict) -> list:
    status = STATUS_MAP.get(data["status"])
    # Only our outbound messages have a status to follow; PENDING says nothing new.
    if not data.get("fromMe") or status is None:
        return []
    message_id = text(data["keyId"])
    # Only the sandbox adds our reference; Evolution itself has no such field.
    reference = str(data.get("reference") or "")
    return [
        (
            StatusUpdate(provider_message_id=message_id, status=status, reference=reference),
            f"status:{message_id}:{status}",
        )
    ]
