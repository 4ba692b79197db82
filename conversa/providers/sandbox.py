"""The sandbox: Conversa's own WhatsApp simulator, speaking the Evolution API v2 protocol.

It plays the other side of the wire: it keeps its own numbers and chats, answers the REST calls
an Evolution server answers, and delivers webhooks with Evolution's shapes over real HTTP, with
retries like Evolution's. A person plays the customer on its page.
"""

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import segno
from django.conf import settings
from django.db import transaction

from conversa.providers.models import SandboxInstance, SandboxMessage

log = logging.getLogger(__name__)

# Evolution's messages.update statuses as the Graph API names them (§A4).
GRAPH_STATUS = {
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "ERROR": "failed",
}

# Evolution does not retry these (PROVIDERS.md §B2).
NOT_RETRIED = {400, 401, 403, 404, 422}
MAX_DELIVERY_ATTEMPTS = 10
FAULTS = ("latency_ms", "failure_rate", "timeout_rate", "hang_rate")


class SandboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def new_message_id() -> str:
    # WhatsApp web ids look like 3EB0 followed by upper-case hex.
    return "3EB0" + secrets.token_hex(9).upper()


def jid(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


def authorize(api_key: str, instance: SandboxInstance | None = None) -> None:
    """Evolution's guard: the global key everywhere, an instance's token on its own routes."""
    valid = [settings.SANDBOX_API_KEY] + ([instance.token] if instance else [])
    # Compare bytes: compare_digest refuses non-ASCII str, and a stranger's header may be that.
    given = api_key.encode()
    if not any(api_key and secrets.compare_digest(given, key.encode()) for key in valid):
        raise SandboxError(401, "Unauthorized")


def get_instance(name: str) -> SandboxInstance:
    try:
        return SandboxInstance.objects.get(name=name)
    except SandboxInstance.DoesNotExist as exc:
        raise SandboxError(404, f'The "{name}" instance does not exist') from exc


def create_instance(name: str, webhook: dict | None = None) -> SandboxInstance:
    webhook = webhook or {}
    if SandboxInstance.objects.filter(name=name).exists():
        raise SandboxError(403, f'This name "{name}" is already in use.')
    return SandboxInstance.objects.create(
        name=name,
        token=secrets.token_hex(16).upper(),
        webhook_url=webhook.get("url", ""),
        webhook_headers=webhook.get("headers") or {},
    )


def qr_code(instance: SandboxInstance) -> dict:
    """Start pairing: the instance is `connecting` and shows a real QR until it is scanned."""
    code = f"sandbox:{instance.name}:{secrets.token_urlsafe(16)}"
    if instance.state != "connecting":
        set_state(instance, "connecting")
    base64 = segno.make(code, error="m").png_data_uri(scale=6)
    emit(
        instance,
        "qrcode.updated",
        {
            "qrcode": {
                "instance": instance.name,
                "code": code,
                "pairingCode": None,
                "base64": base64,
            }
        },
    )
    return {"pairingCode": None, "code": code, "base64": base64, "count": 1}


def set_state(instance: SandboxInstance, state: str, owner_phone: str = "") -> None:
    """Change the connection (a scan, a drop) and tell Conversa with `connection.update`."""
    instance.state = state
    if owner_phone:
        instance.owner_phone = owner_phone
    instance.save(update_fields=["state", "owner_phone"])
    data = {
        "instance": instance.name,
        "state": state,
        "statusReason": 200 if state == "open" else 428,
    }
    if instance.owner_phone:
        data["wuid"] = jid(instance.owner_phone)
    emit(instance, "connection.update", data)


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
    """Configure the fault injector (latency_ms, failure_rate, timeout_rate, hang_rate)."""
    for name in FAULTS:
        if name in faults:
            setattr(instance, name, faults[name])
    instance.save(update_fields=list(FAULTS))
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
        status_value = {
            "id": message.message_id,
            "status": GRAPH_STATUS[status],
            "timestamp": str(int(time.time())),
            "recipient_id": message.chat_phone,
        }
        if message.reference:
            status_value["biz_opaque_callback_data"] = message.reference
        emit_graph(message.instance, {"statuses": [status_value]}, delay=delay)
        return
    emit(message.instance, "messages.update", data, delay=delay)


@transaction.atomic
def customer_says(
    instance: SandboxInstance, phone: str, text: str, name: str = ""
) -> SandboxMessage:
    """A customer writes to the business: Conversa receives `messages.upsert`."""
    message = SandboxMessage.objects.create(
        instance=instance,
        chat_phone=phone,
        customer_name=name,
        from_me=False,
        message_id=new_message_id(),
        text=text,
        status="DELIVERY_ACK",
    )
    data = {
        "key": {"remoteJid": jid(phone), "fromMe": False, "id": message.message_id},
        "pushName": name,
        "status": "DELIVERY_ACK",
        "message": {"conversation": text},
        "messageType": "conversation",
        "messageTimestamp": int(message.created_at.timestamp()),
        "instanceId": str(instance.pk),
        "source": "android",
    }
    if instance.protocol == "cloud":
        value = {
            "contacts": [{"profile": {"name": name}, "wa_id": phone}],
            "messages": [
                {
                    "from": phone,
                    "id": message.message_id,
                    "timestamp": str(int(message.created_at.timestamp())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        transaction.on_commit(lambda: emit_graph(instance, value))
        return message
    transaction.on_commit(lambda: emit(instance, "messages.upsert", data))
    return message


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


def emit(instance: SandboxInstance, event: str, data: dict, delay: float = 0.0) -> None:
    """Queue a webhook in Evolution's envelope to the instance's configured URL."""
    if not instance.webhook_url:
        return
    envelope = {
        "event": event,
        "instance": instance.name,
        "data": data,
        "destination": instance.webhook_url,
        "date_time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sender": jid(instance.owner_phone) if instance.owner_phone else None,
        "server_url": settings.SANDBOX_URL,
        "apikey": None,
    }
    courier.post(instance.webhook_url, instance.webhook_headers, envelope, delay)


def emit_graph(instance: SandboxInstance, value: dict, delay: float = 0.0) -> None:
    """Queue a webhook in the Graph API's envelope, signed with the app secret (§A3–A4)."""
    if not instance.webhook_url:
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
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    courier.post(instance.webhook_url, {}, body, delay, secret=instance.app_secret)


class Courier:
    """Delivers queued webhooks in order from one background thread, with Evolution's retry
    rules: up to 10 attempts, exponential backoff with jitter, no retry on 400/401/403/404/422."""

    def __init__(self):
        self.queue: list = []
        self.counter = itertools.count()
        self.condition = threading.Condition()
        self.thread: threading.Thread | None = None

    def post(
        self, url: str, headers: dict, body: dict, delay: float = 0.0, secret: str = ""
    ) -> None:
        """Queue `body` for `url`. With `secret`, it goes out as Meta sends: signed with
        X-Hub-Signature-256, and retried whatever the refusal."""
        raw = json.dumps(body).encode()
        headers = {**headers, "Content-Type": "application/json"}
        if secret:
            digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        with self.condition:
            heapq.heappush(
                self.queue, (time.monotonic() + delay, next(self.counter), url, headers, raw, 1)
            )
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="sandbox-courier", daemon=True)
                self.thread.start()
            self.condition.notify()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with self.condition:
                    while not self.queue or self.queue[0][0] > time.monotonic():
                        wait = self.queue[0][0] - time.monotonic() if self.queue else None
                        self.condition.wait(wait)
                    due, seq, url, headers, body, attempt = heapq.heappop(self.queue)
                self.deliver(client, url, headers, body, attempt)

    def deliver(
        self, client: httpx.Client, url: str, headers: dict, body: bytes, attempt: int
    ) -> None:
        try:
            status = client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            status, error = 0, str(exc)
        else:
            error = f"HTTP {status}"
        # Evolution gives up on some refusals; Meta retries anything but a 200.
        given_up = status in NOT_RETRIED and "X-Hub-Signature-256" not in headers
        if 200 <= status < 300 or given_up:
            if given_up:
                log.warning("sandbox webhook to %s refused with %s", url, status)
            return
        if attempt >= MAX_DELIVERY_ATTEMPTS:
            log.error("sandbox webhook to %s dropped after %s attempts: %s", url, attempt, error)
            return
        backoff = min(0.5 * 2 ** (attempt - 1), 30) * (0.8 + 0.4 * secrets.randbelow(100) / 100)
        with self.condition:
            heapq.heappush(
                self.queue,
                (time.monotonic() + backoff, next(self.counter), url, headers, body, attempt + 1),
            )


courier = Courier()


def create_cloud_number(
    phone_number_id: str, owner_phone: str, webhook_url: str, app_secret: str
) -> SandboxInstance:
    """A Cloud API phone number on the Graph side, registered and ready to send."""
    if SandboxInstance.objects.filter(name=phone_number_id).exists():
        raise SandboxError(400, f"phone number id {phone_number_id} is already registered")
    return SandboxInstance.objects.create(
        protocol="cloud",
        name=phone_number_id,
        token=secrets.token_hex(24),
        state="open",
        owner_phone=owner_phone,
        webhook_url=webhook_url,
        app_secret=app_secret,
    )
