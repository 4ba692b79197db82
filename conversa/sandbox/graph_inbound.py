"""What a customer does on a Cloud API number, as the webhooks Meta sends for it (Graph API
v25 shapes, as in pywa's tests/data): every message kind, reactions, edits and deletes, a
number change, ad referrals, username senders (no phone: `from_user_id` and the contact's
`user_id` / `username`), and messages typed on the business's own phone (smb_message_echoes).
"""

import struct

from django.db import transaction
from django.utils import timezone

from conversa.sandbox import graph, graph_media, simulator
from conversa.sandbox.graph_checks import BSUID, TEXT_MAX, GraphError
from conversa.sandbox.models import SandboxInstance, SandboxMessage

# Media kinds a customer sends → (wire type, default mime type, default file name).
MEDIA = {
    "image": ("image", "image/jpeg", "photo.jpg"),
    "video": ("video", "video/mp4", "video.mp4"),
    "audio": ("audio", "audio/mpeg", "audio.mp3"),
    "voice": ("audio", "audio/ogg; codecs=opus", "voice.ogg"),
    "document": ("document", "application/pdf", "document.pdf"),
    "sticker": ("sticker", "image/webp", "sticker.webp"),
}
KINDS = (
    "text",
    *MEDIA,
    "location",
    "contacts",
    "choice",
    "order",
    "poll",
    "reaction",
    "edit",
    "revoke",
    "number_change",
    "unsupported",
)


def sample_file(kind: str) -> bytes:
    """A small file whose first bytes are its type's, for a customer who attached none: the
    type Conversa reads from the bytes matches the one the webhook says."""
    padding = bytes(range(256)) * 4
    if kind == "image":
        return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + padding
    if kind == "video":
        return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + padding
    if kind == "audio":
        return b"ID3\x04\x00\x00\x00\x00\x00\x00" + padding
    if kind == "voice":
        return b"OggS\x00\x02" + bytes(22) + b"OpusHead\x01\x01" + padding
    if kind == "sticker":
        body = b"WEBPVP8 " + padding
        return b"RIFF" + struct.pack("<I", len(body)) + body
    return b"%PDF-1.4\n%sandbox\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def text_of(content: dict, key: str, limit: int, required: bool = False) -> str:
    value = content.get(key, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        need = "a text" if required else "text"
        raise simulator.SandboxError(400, f"{key} must be {need} of at most {limit} characters")
    return value


@transaction.atomic
def customer_message(
    instance: SandboxInstance,
    phone: str,
    kind: str,
    content: dict,
    *,
    user_id: str = "",
    username: str = "",
    reply_to: str = "",
) -> str:
    """A customer sends `kind` (one of KINDS) to the Cloud number: kept in the ledger, and
    the webhook Meta sends for it delivered once committed. Returns its wamid.

    `content` keys are conversa.providers.base.KINDS': "body" (text; also a caption),
    "file" / "mime_type" / "file_name" / "caption" (media), "latitude", "longitude", "name",
    "address", "url" (location), "contacts" [{"name", "phones", "wa_ids"}], "id" / "title" /
    "description" / "via" ("button_reply", "list_reply" or "button": which reply it was)
    (choice), "catalog_id" / "items" / "text" (order), "referral" (text from an ad), "emoji" /
    "target" (reaction), "target" / "body" (edit, revoke), "new_phone" (number_change),
    "type" (unsupported); "profile_name" is the customer's WhatsApp name.

    A `username` hides the phone, as WhatsApp does for username users: `from` is "" and the
    customer is known by `user_id`, their BSUID: given alone (no phone), or the phone's own
    (graph.user_id_for) when there is a phone.
    """
    if instance.protocol != "cloud" or instance.state != "open":
        raise simulator.SandboxError(400, f'"{instance.name}" is not a connected Cloud number')
    if kind not in KINDS:
        raise simulator.SandboxError(400, f"kind must be one of {', '.join(KINDS)}")
    phone = "".join(ch for ch in phone if ch.isdigit())
    if phone and not 8 <= len(phone) <= 15:
        raise simulator.SandboxError(400, "phone must have 8 to 15 digits")
    if user_id and not BSUID.match(user_id):
        raise simulator.SandboxError(400, "user_id must look like BR.1234567890123456")
    if not phone and not user_id:
        raise simulator.SandboxError(400, "a phone or a user_id is required")
    if not isinstance(content, dict) or len(username) > 35 or len(reply_to) > 200:
        raise simulator.SandboxError(400, "content must be an object; username up to 35")
    if phone and user_id and user_id != graph.user_id_for(instance, phone):
        # One BSUID per number, so a send by either finds the same chat.
        raise simulator.SandboxError(400, "a phone's user_id is graph.user_id_for(phone)")
    user_id = user_id or graph.user_id_for(instance, phone)
    name = text_of(content, "profile_name", 120)
    sender = graph.wa_id(phone) if phone else ""
    message_id = graph.new_wamid(sender or user_id, inbound=True)
    wire, ledger_kind, summary = build(instance, kind, content, message_id)
    message = {
        "from": "" if username else sender,
        "from_user_id": user_id,
        "id": message_id,
        "timestamp": str(int(timezone.now().timestamp())),
        **wire,
    }
    if reply_to and kind not in ("reaction", "number_change"):
        message["context"] = {"from": instance.owner_phone, "id": reply_to}
    SandboxMessage.objects.create(
        instance=instance,
        chat_phone=phone or user_id,
        customer_name=name or username,
        from_me=False,
        kind=ledger_kind,
        message_id=message_id,
        text=summary,
        status="DELIVERY_ACK",
    )
    value: dict = {"messages": [message]}
    if kind != "number_change":
        # As Meta: system messages come without a contacts array.
        contact = {"profile": {"name": name or username}, "user_id": user_id}
        if username:
            contact["profile"]["username"] = username
        else:
            contact["wa_id"] = sender
        value = {"contacts": [contact], **value}
    transaction.on_commit(lambda: simulator.emit_graph(instance, value))
    return message_id


def build(instance: SandboxInstance, kind: str, content: dict, message_id: str):
    """(the message's own fields, ledger kind, ledger text) for one kind."""
    if kind == "text":
        body = text_of(content, "body", TEXT_MAX, required=True)
        wire = {"type": "text", "text": {"body": body}}
        referral = content.get("referral")
        if isinstance(referral, dict):
            wire["referral"] = {
                key: str(referral[key])[:1000]
                for key in (
                    "source_url",
                    "source_id",
                    "source_type",
                    "headline",
                    "body",
                    "media_type",
                    "image_url",
                    "ctwa_clid",
                )
                if key in referral
            }
        return wire, "text", body
    if kind in MEDIA:
        return build_media(instance, kind, content, message_id)
    return BUILDERS[kind](content)


def build_media(instance, kind: str, content: dict, message_id: str):
    wire_type, default_mime, default_name = MEDIA[kind]
    data = content.get("file") or sample_file(kind)
    if not isinstance(data, bytes):
        raise simulator.SandboxError(400, "file must be bytes")
    mime_type = text_of(content, "mime_type", 100) or default_mime
    file_name = text_of(content, "file_name", 240) or default_name
    try:
        media = graph_media.store_media(instance, data, mime_type, file_name, message_id)
    except GraphError as exc:
        raise simulator.SandboxError(400, exc.details) from exc
    caption = text_of(content, "caption", 1024) or text_of(content, "body", 1024)
    record = {"mime_type": mime_type, "sha256": media.sha256, "id": media.media_id}
    if caption and wire_type in ("image", "video", "document"):
        record["caption"] = caption
    if wire_type == "document":
        record["filename"] = file_name
    if wire_type == "audio":
        record["voice"] = kind == "voice"
    if wire_type == "sticker":
        record["animated"] = False
    return {"type": wire_type, wire_type: record}, kind, caption


def number(content: dict, key: str, bound: float) -> float:
    try:
        value = float(content.get(key))
    except (TypeError, ValueError):
        raise simulator.SandboxError(400, f"{key} must be a number") from None
    if not -bound <= value <= bound:
        raise simulator.SandboxError(400, f"{key} must be between -{bound} and {bound}")
    return value


def build_location(content: dict):
    location = {
        "latitude": number(content, "latitude", 90),
        "longitude": number(content, "longitude", 180),
    }
    for key in ("name", "address", "url"):
        if content.get(key):
            location[key] = text_of(content, key, 1000)
    summary = location.get("name") or f"{location['latitude']}, {location['longitude']}"
    return {"type": "location", "location": location}, "location", summary


def build_contacts(content: dict):
    cards = content.get("contacts")
    if not isinstance(cards, list) or not 1 <= len(cards) <= 20:
        raise simulator.SandboxError(400, "contacts must be a list of 1 to 20 cards")
    wire = []
    for card in cards:
        if not isinstance(card, dict):
            raise simulator.SandboxError(400, "each contact must be an object")
        name = text_of(card, "name", 200, required=True)
        phones, wa_ids = card.get("phones") or [], card.get("wa_ids") or []
        if not isinstance(phones, list) or not isinstance(wa_ids, list) or len(phones) > 20:
            raise simulator.SandboxError(400, "phones and wa_ids must be lists")
        entries = []
        for index, phone in enumerate(phones):
            entry = {"phone": str(phone)[:40], "type": "CELL"}
            if index < len(wa_ids):
                entry["wa_id"] = str(wa_ids[index])[:20]
            entries.append(entry)
        first = name.split(" ")[0]
        wire.append({"name": {"formatted_name": name, "first_name": first}, "phones": entries})
    summary = ", ".join(c["name"]["formatted_name"] for c in wire)
    return {"type": "contacts", "contacts": wire}, "contacts", summary


def build_choice(content: dict):
    choice_id = text_of(content, "id", 256, required=True)
    title = text_of(content, "title", 100, required=True)
    description = text_of(content, "description", 100)
    via = content.get("via") or ("list_reply" if description else "button_reply")
    if via == "button":
        # A quick-reply button of a template.
        return {"type": "button", "button": {"payload": choice_id, "text": title}}, "choice", title
    if via not in ("button_reply", "list_reply"):
        raise simulator.SandboxError(400, "via must be button_reply, list_reply or button")
    reply = {"id": choice_id, "title": title}
    if description and via == "list_reply":
        reply["description"] = description
    return {"type": "interactive", "interactive": {"type": via, via: reply}}, "choice", title


def build_order(content: dict):
    items = content.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise simulator.SandboxError(400, "items must be a list of 1 to 100 products")
    products = []
    for item in items:
        if not isinstance(item, dict):
            raise simulator.SandboxError(400, "each item must be an object")
        products.append(
            {
                "product_retailer_id": text_of(item, "product_id", 100, required=True),
                "quantity": int(number(item, "quantity", 10**6)),
                "item_price": number(item, "price", 10**9),
                "currency": text_of(item, "currency", 3) or "BRL",
            }
        )
    order = {
        "catalog_id": text_of(content, "catalog_id", 100) or "1000000000000000",
        "text": text_of(content, "text", 1000),
        "product_items": products,
    }
    return {"type": "order", "order": order}, "order", order["text"]


def build_reaction(content: dict):
    emoji = text_of(content, "emoji", 10)
    reaction = {"message_id": text_of(content, "target", 200, required=True), "emoji": emoji}
    return {"type": "reaction", "reaction": reaction}, "reaction", emoji


def build_edit(content: dict):
    body = text_of(content, "body", TEXT_MAX, required=True)
    edit = {
        "original_message_id": text_of(content, "target", 200, required=True),
        "message": {"type": "text", "text": {"body": body}},
    }
    return {"type": "edit", "edit": edit}, "edit", body


def build_revoke(content: dict):
    revoke = {"original_message_id": text_of(content, "target", 200, required=True)}
    return {"type": "revoke", "revoke": revoke}, "revoke", ""


def build_number_change(content: dict):
    new_phone = "".join(ch for ch in text_of(content, "new_phone", 20) if ch.isdigit())
    if not 8 <= len(new_phone) <= 15:
        raise simulator.SandboxError(400, "new_phone must have 8 to 15 digits")
    system = {
        "body": f"User changed from the old number to {new_phone}",
        "wa_id": new_phone,
        "type": "user_changed_number",
    }
    return {"type": "system", "system": system}, "number_change", system["body"]


def build_unsupported(content: dict, raw_type: str = ""):
    raw_type = raw_type or text_of(content, "type", 40) or "unknown"
    error = {
        "code": 131051,
        "title": "Message type unknown",
        "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."},
    }
    wire = {"type": "unsupported", "errors": [error], "unsupported": {"type": raw_type}}
    return wire, "unsupported", ""


BUILDERS = {
    "location": build_location,
    "contacts": build_contacts,
    "choice": build_choice,
    "order": build_order,
    # The Cloud API does not deliver polls: a poll arrives as an unsupported message.
    "poll": lambda content: build_unsupported(content, "poll"),
    "reaction": build_reaction,
    "edit": build_edit,
    "revoke": build_revoke,
    "number_change": build_number_change,
    "unsupported": build_unsupported,
}


@transaction.atomic
def business_phone_message(instance: SandboxInstance, phone: str, text: str) -> str:
    """The business types `text` to `phone` on its own phone (coexistence): the ledger keeps
    it as the business's, and Meta's `smb_message_echoes` webhook tells Conversa."""
    phone = "".join(ch for ch in phone if ch.isdigit())
    if instance.protocol != "cloud" or not 8 <= len(phone) <= 15:
        raise simulator.SandboxError(400, "a Cloud number and a phone of 8 to 15 digits")
    text = text_of({"text": text}, "text", TEXT_MAX, required=True)
    recipient = graph.wa_id(phone)
    message_id = graph.new_wamid(recipient)
    SandboxMessage.objects.create(
        instance=instance,
        chat_phone=phone,
        from_me=True,
        message_id=message_id,
        text=text,
        status="DELIVERY_ACK",
    )
    user_id = graph.user_id_for(instance, phone)
    echo = {
        "from": instance.owner_phone,
        "to": recipient,
        "to_user_id": user_id,
        "id": message_id,
        "timestamp": str(int(timezone.now().timestamp())),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "contacts": [{"profile": {"name": ""}, "wa_id": recipient, "user_id": user_id}],
        "message_echoes": [echo],
    }
    transaction.on_commit(lambda: simulator.emit_graph(instance, value, field="smb_message_echoes"))
    return message_id
