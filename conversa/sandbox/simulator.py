"""The sandbox: Conversa's own WhatsApp simulator, speaking the Evolution API v2 protocol.

It plays the other side of the wire: it keeps its own numbers and chats, answers the REST calls
an Evolution server answers, and delivers webhooks with Evolution's shapes over real HTTP, with
retries like Evolution's. A person plays the customer on its page.
"""

import base64
import json
import logging
import random
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import segno
from django.conf import settings
from django.db import transaction

from conversa.sandbox import tenants
from conversa.sandbox.courier import courier
from conversa.sandbox.models import SandboxInstance, SandboxMessage

log = logging.getLogger(__name__)

# Evolution's messages.update statuses as the Graph API names them (§A4).
GRAPH_STATUS = {
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "ERROR": "failed",
}

FAULTS = ("latency_ms", "failure_rate", "timeout_rate", "hang_rate")
# Settings of the deliberate webhook disorder, changed through the same faults route.
DISORDER = ("duplicate_rate", "reorder_ms")

# Event names a webhook can subscribe to (docs/providers.md §B2); an empty list means all.
EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "MESSAGES_EDITED",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "PRESENCE_UPDATE",
    "CALL",
    "LOGOUT_INSTANCE",
    "REMOVE_INSTANCE",
    "STATUS_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
)

# Baileys' DisconnectReason: the session was logged out (no reconnect), and a plain close.
LOGGED_OUT = 401
CONNECTION_CLOSED = 428

# What a customer's media looks like on the wire, per kind: mimetype and a file name.
MEDIA = {
    "image": ("image/jpeg", "photo.jpg"),
    "document": ("application/pdf", "document.pdf"),
    "audio": ("audio/ogg; codecs=opus", "voice.ogg"),
}


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def new_message_id() -> str:
    # WhatsApp web ids look like 3EB0 followed by upper-case hex.
    return "3EB0" + secrets.token_hex(9).upper()


def jid(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


@dataclass(frozen=True)
class Caller:
    """Who called the Evolution API: the global key, a tenant's key, or an instance's token."""

    is_global: bool = False
    tenant: str = ""

    def sees_secrets_of(self, instance: SandboxInstance) -> bool:
        """The global key reaches every instance but never reads a tenant's token or webhook
        headers: those belong to the tenant (its key, or the instance's own token)."""
        return not (self.is_global and instance.tenant)


def authorize(api_key: str, instance: SandboxInstance | None = None) -> Caller:
    """Evolution's guard: the global key everywhere, an instance's token on its own routes; and
    the sandbox's tenants (tenants.py): a tenant's key on its own instances and to create one."""
    # Compare bytes: compare_digest refuses non-ASCII str, and a stranger's header may be that.
    given = api_key.encode()
    if api_key and secrets.compare_digest(given, settings.SANDBOX_API_KEY.encode()):
        return Caller(is_global=True)
    tenant = tenants.tenant_of_key(api_key)
    if tenant is not None and (instance is None or instance.tenant == tenant):
        return Caller(tenant=tenant)
    if instance and api_key and secrets.compare_digest(given, instance.token.encode()):
        return Caller(tenant=instance.tenant)
    raise SandboxError(401, "Unauthorized")


def get_instance(name: str) -> SandboxInstance:
    try:
        return SandboxInstance.objects.get(name=name)
    except SandboxInstance.DoesNotExist as exc:
        raise SandboxError(404, f'The "{name}" instance does not exist') from exc


def create_instance(name: str, webhook: dict | None = None, *, tenant: str = "") -> SandboxInstance:
    """A new Evolution instance of `tenant`, closed, with the webhook given at creation if any."""
    webhook = webhook or {}
    if SandboxInstance.objects.filter(name=name).exists():
        raise SandboxError(403, f'This name "{name}" is already in use.')
    return SandboxInstance.objects.create(
        name=name,
        tenant=tenant,
        token=secrets.token_hex(16).upper(),
        webhook_enabled=bool(webhook.get("url")),
        webhook_url=webhook.get("url", ""),
        webhook_headers=webhook.get("headers") or {},
        webhook_events=[str(e).upper() for e in webhook.get("events") or []],
        webhook_by_events=bool(webhook.get("byEvents")),
        webhook_base64=bool(webhook.get("base64")),
    )


def set_webhook(instance: SandboxInstance, webhook: dict) -> SandboxInstance:
    """POST /webhook/set: replace the instance's webhook. A disabled webhook keeps no events."""
    instance.webhook_enabled = bool(webhook.get("enabled"))
    instance.webhook_url = webhook.get("url") or ""
    instance.webhook_headers = webhook.get("headers") or {}
    events = [str(e).upper() for e in webhook.get("events") or []]
    instance.webhook_events = events if instance.webhook_enabled else []
    instance.webhook_by_events = bool(webhook.get("byEvents"))
    instance.webhook_base64 = bool(webhook.get("base64"))
    instance.save()
    return instance


def webhook_record(instance: SandboxInstance, *, reveal: bool = True) -> dict:
    """The webhook as /webhook/set and /webhook/find answer it; without `reveal`, the headers'
    values (a webhook secret is one) are masked."""
    headers = instance.webhook_headers
    if not reveal and isinstance(headers, dict):
        headers = dict.fromkeys(headers, "••••")
    return {
        "id": f"webhook-{instance.pk}",
        "url": instance.webhook_url,
        "headers": headers,
        "enabled": instance.webhook_enabled,
        "events": instance.webhook_events,
        "webhookByEvents": instance.webhook_by_events,
        "webhookBase64": instance.webhook_base64,
        "instanceId": str(instance.pk),
    }


def instance_record(instance: SandboxInstance, *, reveal: bool = True) -> dict:
    """One instance as /instance/fetchInstances lists it; without `reveal`, no token."""
    return {
        "id": str(instance.pk),
        "name": instance.name,
        "connectionStatus": instance.state,
        "ownerJid": jid(instance.owner_phone) if instance.owner_phone else None,
        "profileName": None,
        "integration": "WHATSAPP-BAILEYS",
        "number": None,
        "token": instance.token if reveal else None,
        "clientName": "conversa_sandbox",
        "createdAt": instance.created_at.isoformat(),
        "_count": {"Message": instance.messages.count()},
    }


def qr_code(instance: SandboxInstance) -> dict:
    """Start pairing: the instance is `connecting` and shows a real QR until it is scanned.
    Each call shows a fresh code and announces it with `qrcode.updated`."""
    code = f"sandbox:{instance.name}:{secrets.token_urlsafe(16)}"
    if instance.state != "connecting":
        set_state(instance, "connecting")
    instance.qr_code = code
    instance.qr_count += 1
    instance.save(update_fields=["qr_code", "qr_count"])
    image = qr_image(code)
    emit(
        instance,
        "qrcode.updated",
        {
            "qrcode": {
                "instance": instance.name,
                "code": code,
                "pairingCode": None,
                "base64": image,
            }
        },
    )
    return {"pairingCode": None, "code": code, "base64": image, "count": instance.qr_count}


def qr_image(code: str) -> str:
    """A scannable PNG of `code`, as a data URL."""
    return segno.make(code, error="m").png_data_uri(scale=6)


def set_state(
    instance: SandboxInstance, state: str, owner_phone: str = "", status_reason: int = 0
) -> None:
    """Change the connection (a scan, a drop) and tell Conversa with `connection.update`."""
    instance.state = state
    if owner_phone:
        instance.owner_phone = owner_phone
    if state != "connecting":
        # The QR on show is spent once the number opens or closes.
        instance.qr_code, instance.qr_count = "", 0
    instance.save(update_fields=["state", "owner_phone", "qr_code", "qr_count"])
    emit_connection(
        instance, state, status_reason or (200 if state == "open" else CONNECTION_CLOSED)
    )


def emit_connection(instance: SandboxInstance, state: str, status_reason: int) -> None:
    data = {"instance": instance.name, "state": state, "statusReason": status_reason}
    if instance.owner_phone:
        data["wuid"] = jid(instance.owner_phone)
    emit(instance, "connection.update", data)


def scan(instance: SandboxInstance, owner_phone: str = "") -> None:
    """The person scans the QR on show with the phone `owner_phone`: the number opens."""
    if instance.protocol != "evolution" or instance.state != "connecting":
        raise SandboxError(400, f'The "{instance.name}" instance shows no QR code to scan')
    set_state(instance, "open", owner_phone=owner_phone or instance.owner_phone or "5511900000000")


def refuse(instance: SandboxInstance) -> None:
    """Nobody scanned in time: the QR limit is reached, Evolution says `refused` and closes."""
    if instance.state != "connecting":
        raise SandboxError(400, f'The "{instance.name}" instance shows no QR code')
    message = {"message": "QR code limit reached, please login again", "statusCode": 500}
    emit(instance, "qrcode.updated", message)
    emit_connection(instance, "refused", CONNECTION_CLOSED)
    instance.state, instance.qr_code, instance.qr_count = "close", "", 0
    instance.save(update_fields=["state", "qr_code", "qr_count"])


def logout(instance: SandboxInstance) -> None:
    """DELETE /instance/logout: end the session as Evolution reports it, a close that will
    not reconnect, `status.instance` closed, then `logout.instance`."""
    if instance.state == "close":
        raise SandboxError(400, f'The "{instance.name}" instance is not connected')
    set_state(instance, "close", status_reason=LOGGED_OUT)
    now = datetime.now(UTC).isoformat()
    emit(
        instance,
        "status.instance",
        {
            "instance": instance.name,
            "status": "closed",
            "disconnectionAt": now,
            "disconnectionReasonCode": LOGGED_OUT,
            "disconnectionObject": json.dumps({"error": "Intentional Logout"}),
        },
    )
    emit(instance, "logout.instance", None)


def restart(instance: SandboxInstance) -> dict:
    """POST /instance/restart: reopen the socket. An open number comes back with its stored
    session (connecting, open); a connecting one shows a fresh QR. Evolution catches
    its own refusal of a closed number and answers it as 200 {error: true}."""
    if instance.state == "close":
        message = f'BadRequestException: The "{instance.name}" instance is not connected'
        return {"error": True, "message": message}
    if instance.state == "connecting":
        return qr_code(instance)
    # Evolution ends the socket with a plain Error, a close Baileys reconnects from quietly.
    emit_connection(instance, "connecting", 200)
    emit_connection(instance, "open", 200)
    return {"instance": {"instanceName": instance.name, "state": instance.state}}


def delete_instance(instance: SandboxInstance) -> None:
    """DELETE /instance/delete: log out first if the number is in use, then forget it."""
    if instance.state != "close":
        logout(instance)
    emit(
        instance, "instance.delete", {"instanceName": instance.name, "instanceId": str(instance.pk)}
    )
    emit(instance, "remove.instance", None)
    instance.delete()


@transaction.atomic
def accept_send(instance: SandboxInstance, number: str, text: str, reference: str = "") -> dict:
    """The business sends a text (POST /message/sendText): record it, answer like Evolution,
    then report it sent at once and delivered after SANDBOX_DELIVERY_DELAY."""
    message = record_send(instance, number, text, reference)
    transaction.on_commit(lambda: report_status(message, "SERVER_ACK"))
    transaction.on_commit(
        lambda: report_status(message, "DELIVERY_ACK", delay=settings.SANDBOX_DELIVERY_DELAY)
    )
    return {
        "key": {"remoteJid": jid(message.chat_phone), "fromMe": True, "id": message.message_id},
        "pushName": "",
        "status": "PENDING",
        "message": {"conversation": text},
        "messageType": "conversation",
        "messageTimestamp": int(message.created_at.timestamp()),
        "instanceId": str(instance.pk),
        "source": "unknown",
    }


def record_send(
    instance: SandboxInstance, number: str, text: str, reference: str
) -> SandboxMessage:
    """Check a send like WhatsApp would and write it to the ledger."""
    if instance.state != "open":
        raise SandboxError(400, "Connection Closed")
    phone = "".join(ch for ch in number if ch.isdigit())
    if not 8 <= len(phone) <= 15:
        raise SandboxError(400, f"{number} is not a valid WhatsApp number")
    return SandboxMessage.objects.create(
        instance=instance,
        chat_phone=phone,
        from_me=True,
        message_id=new_message_id(),
        text=text,
        status="SERVER_ACK",
        reference=reference,
    )


def find_by_reference(instance: SandboxInstance, reference: str) -> str | None:
    """The message id the sandbox gave to a send with this reference, if it accepted one."""
    return (
        SandboxMessage.objects.filter(instance=instance, from_me=True, reference=reference)
        .values_list("message_id", flat=True)
        .first()
    )


def draw_fault(instance: SandboxInstance) -> str:
    """Which injected fault, if any, this send suffers: failure, timeout, hang or ""."""
    roll = random.random()
    for name, rate in (
        ("failure", instance.failure_rate),
        ("timeout", instance.timeout_rate),
        ("hang", instance.hang_rate),
    ):
        if roll < rate:
            return name
        roll -= rate
    return ""


def set_faults(instance: SandboxInstance, **faults) -> SandboxInstance:
    """Configure the fault injector (latency_ms, failure_rate, timeout_rate, hang_rate) and
    the webhook disorder (duplicate_rate, reorder_ms)."""
    names = [name for name in FAULTS + DISORDER if name in faults]
    for name in names:
        setattr(instance, name, faults[name])
    instance.save(update_fields=names)
    return instance


def report_status(message: SandboxMessage, status: str, delay: float = 0.0) -> None:
    SandboxMessage.objects.filter(pk=message.pk).exclude(status="READ").update(status=status)
    data = {
        "keyId": message.message_id,
        "remoteJid": jid(message.chat_phone),
        "fromMe": True,
        "participant": None,
        "status": status,
        "instanceId": str(message.instance_id),
        "messageId": uuid.uuid4().hex[:25],
    }
    if message.reference:
        # The sandbox's extension: echo the sender's reference, as Cloud API does with
        # biz_opaque_callback_data, so an uncertain send can be reconciled.
        data["reference"] = message.reference
    if message.instance.protocol == "cloud":
        from conversa.sandbox import graph  # graph builds on this module

        graph.emit_status(message, GRAPH_STATUS[status], delay=delay)
        return
    emit(message.instance, "messages.update", data, delay=delay)


@transaction.atomic
def customer_says(
    instance: SandboxInstance, phone: str, text: str, name: str = ""
) -> SandboxMessage:
    """A customer writes to the business: Conversa receives `messages.upsert` (Evolution) or
    a `messages` change (Cloud API)."""
    message = record_inbound(instance, phone, name, "text", text)
    deliver_inbound(
        instance,
        message,
        {"conversation": text},
        "conversation",
        {"type": "text", "text": {"body": text}},
    )
    return message


@transaction.atomic
def customer_sends_media(
    instance: SandboxInstance,
    phone: str,
    kind: str,
    caption: str = "",
    name: str = "",
    file: tuple[bytes, str] | None = None,
) -> SandboxMessage:
    """A customer sends an image, a document or a voice note (which has no caption), in each
    protocol's own shape: Evolution's `imageMessage`…, the Graph API's `type: image`…

    `file` is (its bytes, its type as the phone says); a small real one of the kind without
    it (sandbox.media.sample). The sandbox keeps it for Conversa to fetch where the number's
    protocol serves it: getBase64FromMediaMessage (Evolution) or the Graph API's media id."""
    from conversa.sandbox import evolution_api, media  # both build on this module

    if kind not in MEDIA:
        raise SandboxError(400, f"kind must be one of {', '.join(MEDIA)}")
    if kind == "audio":
        caption = ""
    data, data_type = file or media.sample(kind)
    if instance.protocol == "cloud":
        return cloud_customer_sends_media(instance, phone, kind, caption, name, data, data_type)
    message = record_inbound(instance, phone, name, kind, caption)
    mimetype, filename = MEDIA[kind]
    mimetype = data_type if file else mimetype
    evolution_api.store_media(message, data, data_type, filename)
    wire = {
        "url": f"https://mmg.whatsapp.net/v/t62.7118-24/{secrets.token_hex(16)}.enc?mms3=true",
        "mimetype": mimetype,
        "fileSha256": media.sha256_base64(data),
        "fileLength": str(len(data)),
        "mediaKey": random_base64(),
        "fileEncSha256": random_base64(),
        "mediaKeyTimestamp": str(int(time.time())),
    }
    if kind == "image":
        wire.update(height=1280, width=960)
    elif kind == "document":
        wire.update(fileName=filename, title=filename, pageCount=1)
    else:
        wire.update(seconds=7, ptt=True)
    if caption:
        wire["caption"] = caption
    message_type = f"{kind}Message"
    content = {message_type: wire}
    if kind == "document" and caption:
        # WhatsApp wraps a document that has a caption.
        message_type = "documentWithCaptionMessage"
        content = {message_type: {"message": {"documentMessage": wire}}}
    if instance.webhook_base64:
        content["base64"] = base64.b64encode(data).decode()
    deliver_inbound(instance, message, content, message_type, {})
    return message


def cloud_customer_sends_media(
    instance: SandboxInstance,
    phone: str,
    kind: str,
    caption: str,
    name: str,
    data: bytes,
    mime_type: str,
) -> SandboxMessage:
    """customer_sends_media on a Cloud number: graph.customer_message, whose media id the
    Graph API's routes serve (the sandbox's audio is a voice note)."""
    from conversa.sandbox import graph  # graph builds on this module

    content = {
        "file": data,
        "mime_type": mime_type,
        "file_name": MEDIA[kind][1],
        "caption": caption,
        "profile_name": name,
    }
    message_id = graph.customer_message(
        instance, phone, "voice" if kind == "audio" else kind, content
    )
    return SandboxMessage.objects.get(message_id=message_id)


def random_base64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def record_inbound(
    instance: SandboxInstance, phone: str, name: str, kind: str, text: str
) -> SandboxMessage:
    if instance.state != "open":
        raise SandboxError(400, f'The "{instance.name}" instance is not connected')
    return SandboxMessage.objects.create(
        instance=instance,
        chat_phone=phone,
        customer_name=name,
        from_me=False,
        kind=kind,
        message_id=new_message_id(),
        text=text,
        status="DELIVERY_ACK",
    )


def deliver_inbound(
    instance: SandboxInstance,
    message: SandboxMessage,
    content: dict,
    message_type: str,
    graph_message: dict,
) -> None:
    """Once the ledger row is committed, tell Conversa in the number's protocol."""
    phone, sent_at = message.chat_phone, int(message.created_at.timestamp())
    if instance.protocol == "cloud":
        value = {
            "contacts": [{"profile": {"name": message.customer_name}, "wa_id": phone}],
            "messages": [
                {"from": phone, "id": message.message_id, "timestamp": str(sent_at)} | graph_message
            ],
        }
        transaction.on_commit(lambda: emit_graph(instance, value))
        return
    data = {
        "key": {"remoteJid": jid(phone), "fromMe": False, "id": message.message_id},
        "pushName": message.customer_name,
        "status": "DELIVERY_ACK",
        "message": content,
        "messageType": message_type,
        "messageTimestamp": sent_at,
        "instanceId": str(instance.pk),
        "source": "android",
    }
    transaction.on_commit(lambda: emit(instance, "messages.upsert", data))


def customer_reads(instance: SandboxInstance, phone: str) -> int:
    """The customer opened the chat: every business message not yet read becomes READ."""
    unread = list(
        SandboxMessage.objects.filter(instance=instance, chat_phone=phone, from_me=True)
        .exclude(status="READ")
        .order_by("id")
    )
    for message in unread:
        report_status(message, "READ")
    SandboxMessage.objects.filter(pk__in=[m.pk for m in unread]).update(status="READ")
    return len(unread)


def emit(instance: SandboxInstance, event: str, data: dict | None, delay: float = 0.0) -> None:
    """Queue a webhook in Evolution's envelope, if the instance's webhook is on and follows
    `event` (an empty event list follows all)."""
    if not instance.webhook_enabled or not instance.webhook_url:
        return
    if instance.webhook_events and event.upper().replace(".", "_") not in instance.webhook_events:
        return
    url = instance.webhook_url
    if instance.webhook_by_events:
        # byEvents: one URL per event, the event's name appended (…/messages-upsert).
        url = f"{url.rstrip('/')}/{event.replace('.', '-')}"
    envelope = {
        "event": event,
        "instance": instance.name,
        "data": data,
        "destination": url,
        "date_time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sender": jid(instance.owner_phone) if instance.owner_phone else None,
        "server_url": settings.SANDBOX_URL,
        "apikey": None,
    }
    post_webhook(instance, url, instance.webhook_headers, envelope, delay)


def emit_graph(
    instance: SandboxInstance, value: dict, delay: float = 0.0, field: str = "messages"
) -> None:
    """Queue a webhook in the Graph API's envelope, signed with the app secret (§A3–A4)."""
    if not instance.webhook_enabled or not instance.webhook_url:
        return
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": f"WABA{instance.pk}",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": instance.owner_phone,
                                "phone_number_id": instance.name,
                            },
                            **value,
                        },
                        "field": field,
                    }
                ],
            }
        ],
    }
    post_webhook(instance, instance.webhook_url, {}, body, delay, secret=instance.app_secret)


def post_webhook(
    instance: SandboxInstance, url: str, headers: dict, body: dict, delay: float, secret: str = ""
) -> None:
    """Hand a webhook to the courier with the number's deliberate disorder, as both providers
    can behave (§A6, §B2): a second copy at `duplicate_rate`, and up to `reorder_ms` of extra
    random delay per copy, so a later event can arrive first."""
    copies = 2 if random.random() < instance.duplicate_rate else 1
    for _ in range(copies):
        extra = random.uniform(0, instance.reorder_ms / 1000)
        courier.post(url, headers, body, delay + extra, secret=secret)


def create_cloud_number(
    phone_number_id: str, owner_phone: str, webhook_url: str, app_secret: str, *, tenant: str = ""
) -> SandboxInstance:
    """A Cloud API phone number of `tenant` on the Graph side, registered and ready to send."""
    if SandboxInstance.objects.filter(name=phone_number_id).exists():
        raise SandboxError(400, f"phone number id {phone_number_id} is already registered")
    return SandboxInstance.objects.create(
        protocol="cloud",
        name=phone_number_id,
        tenant=tenant,
        token=secrets.token_hex(24),
        state="open",
        owner_phone=owner_phone,
        webhook_url=webhook_url,
        app_secret=app_secret,
    )
