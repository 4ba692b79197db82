"""WhatsApp Cloud API webhooks (docs/providers.md §A3) read into neutral events.

A POST holds `entry[].changes[]`, each with a `field` and its `value`. Field "messages" carries
the customers' `messages` (with `contacts` naming them) and the `statuses` of our sends; field
"smb_message_echoes" the messages the business typed in the WhatsApp Business app on a
coexistence number. Every message, status and change is read on its own: one that cannot be read
is one Unparsed event, and the others of the same POST still count.

Since Graph v24/v25 a sender who uses a WhatsApp username may come without a phone number: `from`
empty or absent, `from_user_id` (a business-scoped user id, "US.1349…") instead.
"""

from datetime import UTC, datetime

from conversa.providers.base import (
    IdentityUpdate,
    InboundMessage,
    MessageChange,
    PreferenceUpdate,
    StatusUpdate,
)
from conversa.providers.webhook_json import IDENTIFIER, digits, guarded, text, unparsed
from conversa.providers.webhook_json import location as shared_location

# §A4; `played` is a voice message listened to: as far as we follow it, read.
STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}

MEDIA = ("image", "video", "audio", "document", "sticker")
# System messages that say the customer moved to another number (old and new Graph names).
NUMBER_CHANGED = ("customer_changed_number", "user_changed_number")


def parse_envelope(envelope: dict) -> list:
    """(event, dedupe key) pairs of one webhook body."""
    entries = envelope.get("entry")
    if not isinstance(entries, list):
        return unparsed(envelope, "expected a list 'entry'")
    parsed = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            parsed += unparsed(entry, "entry without a list 'changes'")
            continue
        for change in changes:
            parsed += parse_change(change)
    return parsed


# The lists of a change's value that hold one item per message or status.
ITEM_LISTS = ("messages", "statuses", "message_echoes", "user_preferences")


def split_envelope(envelope: dict) -> list[dict]:
    """The webhook as one envelope per message, status or echo, each shaped like the whole
    (`object`, `entry[].id`, `changes[].field`, the value's `metadata`) with only its own item
    and the contact that names it. Parsing the parts finds what parsing the whole would; a
    part is what each stored event keeps. What is not in that shape stays one part."""
    entries = envelope.get("entry")
    if not isinstance(entries, list):
        return [envelope]
    outer = {k: v for k, v in envelope.items() if k != "entry"}
    parts = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            parts.append({**outer, "entry": [entry]})
            continue
        entry_fields = {k: v for k, v in entry.items() if k != "changes"}
        for change in changes:
            for one in split_change(change):
                parts.append({**outer, "entry": [{**entry_fields, "changes": [one]}]})
    return parts


def split_change(change) -> list:
    value = change.get("value") if isinstance(change, dict) else None
    if not isinstance(value, dict):
        return [change]
    lists = {name: value[name] for name in ITEM_LISTS if isinstance(value.get(name), list)}
    contacts = value.get("contacts")
    if sum(len(items) for items in lists.values()) <= 1 or not isinstance(contacts, list | None):
        return [change]
    shared = {k: v for k, v in value.items() if k not in lists and k != "contacts"}
    parts = []
    for name, items in lists.items():
        for item in items:
            one = {**shared, name: [item]}
            if contacts:
                one["contacts"] = naming(contacts, item)
            parts.append({**change, "value": one})
    return parts


def naming(contacts: list, item) -> list:
    """The contacts that name `item`'s customer (as `customer` matches them)."""
    if not isinstance(item, dict):
        return []
    ids = {item.get(k) for k in ("from", "to", "from_user_id", "to_user_id")}
    ids = {str(v) for v in ids if isinstance(v, str | int) and not isinstance(v, bool) and v}
    phones = {"".join(ch for ch in v if ch.isdigit()) for v in ids} - {""}
    return [
        contact
        for contact in contacts
        if isinstance(contact, dict)
        and (
            (
                isinstance(contact.get("wa_id"), str)
                and "".join(ch for ch in contact["wa_id"] if ch.isdigit()) in phones
            )
            or (isinstance(contact.get("user_id"), str) and contact["user_id"] in ids)
        )
    ]


def parse_change(change) -> list:
    field = change.get("field") if isinstance(change, dict) else None
    value = change.get("value") if isinstance(change, dict) else None
    if field not in ("messages", "smb_message_echoes", "user_preferences"):
        return unparsed(change, f"field {str(field)[:60]} is not handled")
    if not isinstance(value, dict):
        return unparsed(change, f"field {field}: 'value' is not an object")
    if field == "user_preferences":
        return parse_items(field, value, "user_preferences", [], from_me=False)
    contacts = value.get("contacts") or []
    if not isinstance(contacts, list):
        return unparsed(change, f"field {field}: 'contacts' is not a list")
    if field == "smb_message_echoes":
        return parse_items(field, value, "message_echoes", contacts, from_me=True)
    parsed = parse_items(field, value, "messages", contacts, from_me=False)
    parsed += parse_items(field, value, "statuses", contacts, from_me=False)
    if not parsed and value.get("errors"):
        # An error Meta reports instead of a message or a status.
        parsed = unparsed(change, f"webhook error {describe(value['errors'])}")
    return parsed


def parse_items(field: str, value: dict, name: str, contacts: list, *, from_me: bool) -> list:
    items = value.get(name) or []
    if not isinstance(items, list):
        return unparsed({"field": field, name: items}, f"'{name}' is not a list")
    parsed = []
    for item in items:
        if name == "statuses":
            read = lambda item=item: parse_status(item)  # noqa: E731
        elif name == "user_preferences":
            read = lambda item=item: parse_preference(item)  # noqa: E731
        else:
            read = lambda item=item: parse_message(item, value, contacts, from_me=from_me)  # noqa: E731
        parsed += guarded(item, read, f"{field} {name}")
    return parsed


def timestamp(value) -> datetime | None:
    # Meta sends unix seconds as a string; a placeholder or garbage means "unknown", not a failure.
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def describe(errors) -> str:
    """'code title' of the first of Meta's `errors`."""
    first = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, dict):
        return ""
    return f"{first.get('code', '')} {first.get('title') or first.get('message', '')}".strip()


# Messages


def customer(message: dict, contacts: list, *, from_me: bool) -> dict:
    """{"phone", "user_id", "name"} of the customer: the sender, or, for an echo of the business's
    own message, its recipient."""
    prefix = "to" if from_me else "from"
    phone = digits(message.get(prefix))
    user_id = text(message.get(f"{prefix}_user_id"))
    name = ""
    for contact in contacts:
        # `contacts` only names the sender: a block of the wrong shape costs the name, not the
        # message.
        if not isinstance(contact, dict):
            continue
        wa_id, contact_user = contact.get("wa_id"), contact.get("user_id")
        if (phone and isinstance(wa_id, str) and digits(wa_id) == phone) or (
            user_id and contact_user == user_id
        ):
            if isinstance(contact_user, str) and IDENTIFIER.fullmatch(contact_user):
                user_id = user_id or contact_user
            profile = contact.get("profile")
            given = profile.get("name") if isinstance(profile, dict) else None
            name = given if isinstance(given, str) else ""
            break
    return {"phone": phone, "user_id": user_id, "name": name}


def parse_message(message: dict, value: dict, contacts: list, *, from_me: bool) -> list:
    own_id = text(message["id"])
    kind = text(message["type"])
    who = customer(message, contacts, from_me=from_me)
    name = who.pop("name")
    if not (who["phone"] or who["user_id"]):
        return unparsed(message, "a message with no phone number or user id")
    when = timestamp(message.get("timestamp"))
    if kind == "reaction":
        reaction = message["reaction"]
        change = MessageChange(
            provider_message_id=text(reaction["message_id"]),
            change="reaction",
            emoji=text(reaction.get("emoji")),
            from_me=from_me,
            timestamp=when,
            **who,
        )
        return [(change, f"change:{own_id}")]
    if kind in ("edit", "revoke"):
        changed = message[kind]
        body = ""
        if kind == "edit":
            edited = changed.get("message") or {}
            _, body, _ = read_content(text(edited.get("type")), edited, value)
        change = MessageChange(
            provider_message_id=text(changed["original_message_id"]),
            change=kind,
            body=body,
            from_me=from_me,
            timestamp=when,
            **who,
        )
        return [(change, f"change:{own_id}")]
    if kind == "system":
        return system_event(message, who)
    kind, body, content = read_content(kind, message, value)
    referral = message.get("referral")
    if isinstance(referral, dict):
        content["referral"] = {
            "headline": text(referral.get("headline")),
            "body": text(referral.get("body")),
            "source_url": text(referral.get("source_url")),
            "source_type": text(referral.get("source_type")),
        }
    context = message.get("context") or {}
    product = context.get("referred_product")
    if isinstance(product, dict):
        content["referred_product"] = {
            "catalog_id": text(product.get("catalog_id")),
            "product_retailer_id": text(product.get("product_retailer_id")),
        }
    event = InboundMessage(
        provider_message_id=own_id,
        name=name,
        kind=kind,
        body=body,
        timestamp=when,
        from_me=from_me,
        content=content,
        reply_to=text(context.get("id")),
        **who,
    )
    return [(event, f"message:{own_id}")]


def read_content(kind: str, message: dict, value: dict) -> tuple[str, str, dict]:
    """(kind, body, content) of a message of Graph type `kind` (base.KINDS)."""
    if kind == "text":
        return "text", text(message["text"]["body"]), {}
    if kind in MEDIA:
        media = message[kind]
        ours = "voice" if kind == "audio" and media.get("voice") is True else kind
        content = {
            "media": {
                "id": text(media.get("id")),
                "url": text(media.get("url")),
                "mime_type": text(media.get("mime_type")),
                "file_name": text(media.get("filename")),
                "size": media.get("file_size") if isinstance(media.get("file_size"), int) else None,
                "sha256": text(media.get("sha256")),
            }
        }
        return ours, text(media.get("caption")), content
    if kind == "location":
        return location(message["location"])
    if kind == "contacts":
        contacts = [card(contact) for contact in message["contacts"]]
        names = [c["name"] or (c["phones"] or [""])[0] for c in contacts]
        return "contacts", "👤 " + ", ".join(names), {"contacts": contacts}
    if kind == "interactive" and isinstance(message.get("interactive"), dict):
        return interactive(message["interactive"], message, value)
    if kind == "button":
        button = message["button"]
        choice = {"id": text(button.get("payload")), "title": text(button.get("text"))}
        choice["description"] = ""
        return "choice", choice["title"] or choice["id"], choice
    if kind == "order":
        return order(message["order"])
    return unsupported(kind, message, value)


def unsupported(kind: str, message: dict, value: dict) -> tuple[str, str, dict]:
    """A kind Conversa does not read, with Meta's own name for it and Meta's errors."""
    inner = message.get("unsupported")
    named = inner.get("type") if isinstance(inner, dict) else None
    content = {"type": text(named) if isinstance(named, str) and named else kind or "unknown"}
    errors = message.get("errors") or value.get("errors")
    if errors:
        content["errors"] = errors
    return "unsupported", "", content


def location(place: dict) -> tuple[str, str, dict]:
    return shared_location(
        place["latitude"],
        place["longitude"],
        name=place.get("name"),
        address=place.get("address"),
        url=place.get("url"),
    )


def card(contact: dict) -> dict:
    """{"name", "phones", "wa_ids"} of one shared contact card."""
    name = contact.get("name") or {}
    full = text(name.get("formatted_name"))
    if not full:
        full = " ".join(text(name.get(part)) for part in ("first_name", "last_name")).strip()
    phones = [p for p in contact.get("phones") or [] if isinstance(p, dict)]
    return {
        "name": full,
        "phones": [text(p.get("phone")) for p in phones if p.get("phone")],
        "wa_ids": [text(p.get("wa_id")) for p in phones if p.get("wa_id")],
    }


def interactive(reply: dict, message: dict, value: dict) -> tuple[str, str, dict]:
    """A button, list row or flow the customer answered: kind "choice"."""
    kind = text(reply.get("type"))
    chosen = reply.get(kind) if kind else None
    if not isinstance(chosen, dict):
        return unsupported("interactive", message, value)
    if kind == "nfm_reply":
        # A WhatsApp Flow's answer: its fields as JSON text, kept as they came.
        choice = {
            "id": text(chosen.get("name")),
            "title": text(chosen.get("body")),
            "description": "",
            "response_json": text(chosen.get("response_json")),
        }
    else:
        choice = {
            "id": text(chosen.get("id")),
            "title": text(chosen.get("title")),
            "description": text(chosen.get("description")),
        }
    return "choice", choice["title"] or choice["id"], choice


def order(placed: dict) -> tuple[str, str, dict]:
    items = [
        {
            "product_id": text(item.get("product_retailer_id")),
            "quantity": item.get("quantity"),
            "price": item.get("item_price"),
            "currency": text(item.get("currency")),
        }
        for item in placed.get("product_items") or []
    ]
    note = text(placed.get("text"))
    content = {"catalog_id": text(placed.get("catalog_id")), "items": items, "text": note}
    return "order", note or f"🛒 Order: {len(items)} item(s)", content


def system_event(message: dict, who: dict) -> list:
    """A number change links the old number to the new one; other system notices are kept."""
    system = message["system"]
    kind = text(system.get("type"))
    if kind in NUMBER_CHANGED:
        new_phone = digits(system.get("wa_id") or system.get("new_wa_id"))
        if not new_phone:
            raise ValueError("a number change without the new number")
        update = IdentityUpdate(
            phone=who["phone"], user_id=who["user_id"], new_phone=new_phone, reason="number_changed"
        )
        return [(update, f"identity:{text(message['id'])}")]
    return unparsed(message, f"system message {kind or 'without a type'} is not handled")


# Statuses


def parse_status(status: dict) -> list:
    ours = STATUS_MAP.get(text(status["status"]))
    if ours is None:
        return []
    message_id = text(status["id"])
    error = describe(status.get("errors") or [])
    event = StatusUpdate(
        provider_message_id=message_id,
        status=ours,
        error=error,
        reference=str(status.get("biz_opaque_callback_data") or ""),
    )
    return [(event, f"status:{message_id}:{status['status']}")]


# Marketing preferences (field "user_preferences"): the customer stopped or resumed the
# business's marketing messages from WhatsApp's own menu.


def parse_preference(item: dict) -> list:
    """One preference change; another category, or a value we do not know, stays unparsed
    (kept to be read again), never dropped."""
    category, value = text(item.get("category")), text(item.get("value"))
    if category != "marketing_messages" or value not in (
        PreferenceUpdate.STOP,
        PreferenceUpdate.RESUME,
    ):
        return unparsed(item, f"user preference {category or '?'}={value or '?'} is not handled")
    phone = digits(item.get("wa_id"))
    user_id = text(item.get("user_id"))
    if not phone and not user_id:
        raise ValueError("a preference without the customer")
    when = timestamp(item.get("timestamp"))
    event = PreferenceUpdate(
        preference=value,
        phone=phone,
        user_id=user_id,
        detail=text(item.get("detail")),
        timestamp=when,
    )
    moment = int(when.timestamp()) if when else text(item.get("timestamp"))
    return [(event, f"preference:{phone or user_id}:{value}:{moment}")]
