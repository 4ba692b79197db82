"""The sandbox's Graph API side: a WhatsApp Cloud API number as Meta plays it (docs/providers.md
§A). Sends of every kind checked like Meta checks them (graph_checks), `wamid.` ids, the
24-hour customer service window, approved templates, and status webhooks with pricing and
conversation. Files are in graph_media; what the customer does is in graph_inbound.
"""

import base64
import hashlib
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from conversa.sandbox import simulator
from conversa.sandbox.graph_checks import GraphError, check_send, invalid, recipient
from conversa.sandbox.models import SandboxInstance, SandboxMedia, SandboxMessage, SandboxTemplate

# Every number knows these (Meta gives each account `hello_world`); more per number with
# add_template. Name and language → category.
DEFAULT_TEMPLATES = {
    ("hello_world", "en_US"): "utility",
    ("pedido_enviado", "pt_BR"): "utility",
    ("boas_vindas", "pt_BR"): "marketing",
}
WINDOW = timedelta(hours=24)
COUNTRIES = {"55": "BR", "1": "US", "351": "PT", "54": "AR", "52": "MX", "44": "GB", "34": "ES"}


# Identities and ids


def new_wamid(wa_id: str, inbound: bool = False) -> str:
    """A message id as Meta builds them: `wamid.` and base64 of the chat and a random id."""
    # At most 15 digits and a 16-character key: an id fits the ledger's 64 characters.
    chat = "".join(ch for ch in wa_id if ch.isdigit())[-15:].encode()
    key = secrets.token_hex(8).upper().encode()
    raw = b"\x1c\x18" + bytes([len(chat)]) + chat + b"\x15\x02\x00"
    raw += (b"\x12" if inbound else b"\x11") + b"\x18" + bytes([len(key)]) + key + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


def wa_id(phone: str) -> str:
    """The WhatsApp id of a number. A Brazilian mobile with the ninth digit (55 AA 9XXXXXXXX)
    is registered without it, as most older Brazilian accounts are: Conversa must link both."""
    if len(phone) == 13 and phone.startswith("55") and phone[4] == "9":
        return phone[:4] + phone[5:]
    return phone


def equivalents(phone: str) -> set[str]:
    """The forms one Brazilian mobile is typed in (with and without the ninth digit)."""
    forms = {phone, wa_id(phone)}
    if len(phone) == 12 and phone.startswith("55") and phone[4] in "6789":
        forms.add(phone[:4] + "9" + phone[4:])
    return forms


def new_media_id() -> str:
    return str(10**15 + secrets.randbelow(9 * 10**15))


def user_id_for(instance: SandboxInstance, phone: str) -> str:
    """The business-scoped user id (BSUID) of a number on this number: stable, derived."""
    digest = hashlib.sha256(f"{instance.name}:{wa_id(phone)}".encode()).hexdigest()
    country = next((c for p, c in COUNTRIES.items() if phone.startswith(p)), "BR")
    return f"{country}.{int(digest, 16) % 10**16:016d}"


def chat_identity(instance: SandboxInstance, chat_phone: str) -> tuple[str, str]:
    """(wa_id, user_id) of a ledger chat: a phone's, or a username user's BSUID alone."""
    if "." in chat_phone:
        return "", chat_phone
    return wa_id(chat_phone), user_id_for(instance, chat_phone)


def find_chat(instance: SandboxInstance, phone: str, user_id: str) -> str:
    """The ledger chat a send to `phone` (any form) or `user_id` belongs to."""
    chats = SandboxMessage.objects.filter(instance=instance)
    if phone:
        latest = chats.filter(chat_phone__in=equivalents(phone)).order_by("-id").first()
        return latest.chat_phone if latest else phone
    for chat in chats.values_list("chat_phone", flat=True).distinct():
        if chat == user_id or chat_identity(instance, chat)[1] == user_id:
            return chat
    return user_id


def last_inbound(instance: SandboxInstance, chat: str):
    """When the customer last wrote in this chat (any form of the number), or None."""
    keys = equivalents(chat) if "." not in chat else {chat}
    return SandboxMessage.objects.filter(
        instance=instance, from_me=False, chat_phone__in=keys
    ).aggregate(at=Max("created_at"))["at"]


def contact_of(instance: SandboxInstance, chat: str, name: str = "", username: str = "") -> dict:
    """The `contacts[]` entry of a webhook about this chat, as Meta sends it since BSUIDs."""
    phone, user_id = chat_identity(instance, chat)
    contact: dict = {}
    if name or username:
        contact["profile"] = {"name": name or username}
        if username:
            contact["profile"]["username"] = username
    if phone and not username:
        contact["wa_id"] = phone
    contact["user_id"] = user_id
    return contact


# Numbers, tokens and templates


def get_number(phone_number_id: str) -> SandboxInstance | None:
    return SandboxInstance.objects.filter(name=phone_number_id, protocol="cloud").first()


def bearer(request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()


def token_matches(instance: SandboxInstance, token: str) -> bool:
    return bool(token) and secrets.compare_digest(token.encode(), instance.token.encode())


def bad_token() -> GraphError:
    return GraphError(
        401, 190, "Invalid OAuth access token - Cannot parse access token", subcode=467
    )


def not_found(object_id: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported request. Object with ID '{object_id[:40]}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
    )


def add_template(
    instance: SandboxInstance, name: str, language: str, category: str = "utility"
) -> SandboxTemplate:
    """Approve a template for this number, so sends of it are accepted."""
    template, _ = SandboxTemplate.objects.update_or_create(
        instance=instance, name=name, language=language, defaults={"category": category}
    )
    return template


def template_category(instance: SandboxInstance, name: str, language: str = "") -> str | None:
    """The category of an approved template, or None when this number has no such one."""
    if language and (name, language) in DEFAULT_TEMPLATES:
        return DEFAULT_TEMPLATES[(name, language)]
    if not language:
        known = [c for (n, _), c in DEFAULT_TEMPLATES.items() if n == name]
        if known:
            return known[0]
    templates = SandboxTemplate.objects.filter(instance=instance, name=name)
    if language:
        templates = templates.filter(language=language)
    return templates.values_list("category", flat=True).first()


# Sends


@transaction.atomic
def accept_send(instance: SandboxInstance, body: dict) -> dict:
    """POST /{phone id}/messages: check the send as Meta does, keep it in the ledger, answer
    Meta's way, then report it: sent and delivered, or failed (131047 outside the customer's
    24 hours, 131053 for a media id this number does not have), as Meta does after a 200."""
    kind, summary, media = check_send(body)
    phone, user_id = recipient(body)
    failure = None
    category = "service"
    if kind == "template":
        template = body["template"]
        language = template["language"]["code"]
        category = template_category(instance, template["name"], language)
        if category is None:
            raise GraphError(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                f"template name ({template['name'][:100]}) does not exist in {language}",
                subcode=2494073,
            )
    chat = find_chat(instance, phone, user_id)
    inbound_at = last_inbound(instance, chat)
    if kind != "template" and (inbound_at is None or timezone.now() - inbound_at > WINDOW):
        failure = 131047
    elif (
        media.get("id")
        and not SandboxMedia.objects.filter(instance=instance, media_id=media["id"]).exists()
    ):
        failure = 131053
    recipient_wa_id = chat_identity(instance, chat)[0] if not phone else wa_id(phone)
    message = SandboxMessage.objects.create(
        instance=instance,
        chat_phone=chat,
        from_me=True,
        kind=kind,
        message_id=new_wamid(recipient_wa_id or chat),
        text=summary,
        status="ERROR" if failure else "SERVER_ACK",
        reference=str(body.get("biz_opaque_callback_data") or "")[:128],
    )
    if media:
        SandboxMedia.objects.filter(instance=instance, media_id=media.get("id", "-")).update(
            message_id=message.message_id
        )
        if media.get("link"):
            SandboxMedia.objects.create(
                instance=instance,
                media_id=new_media_id(),
                content=b"",
                mime_type="",
                sha256="",
                size=0,
                message_id=message.message_id,
                link=media["link"],
            )
    tracker = body.get("biz_opaque_callback_data") or ""
    if failure:
        transaction.on_commit(lambda: fail(message, failure, tracker=tracker))
    else:
        transaction.on_commit(lambda: report(message, "sent", category, tracker))
        transaction.on_commit(
            lambda: report(
                message, "delivered", category, tracker, delay=settings.SANDBOX_DELIVERY_DELAY
            )
        )
    contact = {"input": str(body.get("to") or user_id)}
    if recipient_wa_id:
        contact["wa_id"] = recipient_wa_id
    if user_id:
        contact["user_id"] = user_id
    answer = {"messaging_product": "whatsapp", "contacts": [contact]}
    answer["messages"] = [{"id": message.message_id}]
    if kind == "template":
        answer["messages"][0]["message_status"] = "accepted"
    return answer


def mark_read(instance: SandboxInstance, body: dict) -> dict:
    """POST /{phone id}/messages {"status": "read", "message_id"} (with `typing_indicator`, the
    typing dots too): the customer's message, and every earlier one, shows blue ticks."""
    if body.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    if body.get("status") != "read":
        raise invalid("Param status must be 'read'.")
    message_id = body.get("message_id")
    indicator = body.get("typing_indicator")
    if indicator is not None and (
        not isinstance(indicator, dict) or indicator.get("type") != "text"
    ):
        raise invalid("Param typing_indicator['type'] must be 'text'.")
    message = SandboxMessage.objects.filter(
        instance=instance,
        from_me=False,
        message_id=message_id if isinstance(message_id, str) else "",
    ).first()
    if message is None:
        raise invalid("Param message_id is not a message this number received.")
    SandboxMessage.objects.filter(
        instance=instance, from_me=False, chat_phone=message.chat_phone, id__lte=message.id
    ).update(status="READ")
    return {"success": True}


# Statuses (§A4)


def pricing(category: str) -> dict:
    """Meta's per-message pricing: service replies in the window are free."""
    service = category == "service"
    return {
        "billable": not service,
        "pricing_model": "PMP",
        "category": category,
        "type": "free_customer_service" if service else "regular",
    }


def conversation(message: SandboxMessage, category: str, first: bool) -> dict:
    opened = int(message.created_at.timestamp())
    key = f"{message.instance_id}:{message.chat_phone}:{category}:{opened // 86400}"
    record = {
        "id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "origin": {"type": category},
    }
    if first:
        record["expiration_timestamp"] = str(opened + 86400)
    return record


def category_of(message: SandboxMessage) -> str:
    if message.kind != "template":
        return "service"
    name = message.text.removeprefix("[template] ")
    return template_category(message.instance, name) or "utility"


def report(
    message: SandboxMessage, status: str, category: str = "", tracker: str = "", delay=0.0
) -> None:
    """Move the ledger row to `status` (sent, delivered, read) and send Meta's status webhook."""
    ledger = {"sent": "SERVER_ACK", "delivered": "DELIVERY_ACK", "read": "READ"}[status]
    SandboxMessage.objects.filter(pk=message.pk).exclude(status__in=("READ", "ERROR")).update(
        status=ledger
    )
    emit_status(message, status, category=category, tracker=tracker, delay=delay)


def emit_status(
    message: SandboxMessage,
    status: str,
    *,
    category: str = "",
    tracker: str = "",
    errors: list | None = None,
    delay: float = 0.0,
) -> None:
    """One status webhook of a business message, in Meta's shape: `pricing` and
    `conversation` while it goes well, `errors` when it failed."""
    if status != "failed" and message.status == "ERROR":
        return  # a failed message is never read
    instance = message.instance
    phone, user_id = chat_identity(instance, message.chat_phone)
    record = {
        "id": message.message_id,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": phone or user_id,
        "recipient_user_id": user_id,
    }
    tracker = tracker or message.reference
    if tracker:
        record["biz_opaque_callback_data"] = tracker
    if errors:
        record["errors"] = errors
    else:
        category = category or category_of(message)
        record["conversation"] = conversation(message, category, first=status == "sent")
        record["pricing"] = pricing(category)
    value = {"contacts": [contact_of(instance, message.chat_phone)], "statuses": [record]}
    simulator.emit_graph(instance, value, delay=delay)


# Meta's asynchronous failures: the send was answered 200, the status says it failed.
FAILURES = {
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131053: ("Media upload error", "Unable to download the media: no media with that id."),
    131026: ("Message undeliverable", "Message Undeliverable."),
}


def fail(message: SandboxMessage, code: int, tracker: str = "") -> None:
    """Report a business message failed with Meta's error `code` (a key of FAILURES)."""
    title, details = FAILURES[code]
    SandboxMessage.objects.filter(pk=message.pk).update(status="ERROR")
    error = {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }
    emit_status(message, "failed", tracker=tracker, errors=[error])


# What the customer does (graph_inbound builds the webhooks; it needs this module's helpers).


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
    """A customer sends `kind` (see graph_inbound.customer_message); returns its wamid."""
    from conversa.sandbox import graph_inbound

    return graph_inbound.customer_message(
        instance, phone, kind, content, user_id=user_id, username=username, reply_to=reply_to
    )


def business_phone_message(instance: SandboxInstance, phone: str, text: str) -> str:
    """Someone types `text` to `phone` on the business's own phone (a coexistence number):
    an `smb_message_echoes` webhook. Returns its wamid."""
    from conversa.sandbox import graph_inbound

    return graph_inbound.business_phone_message(instance, phone, text)
