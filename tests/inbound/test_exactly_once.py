"""Exactly-once inbound: every webhook delivered three times and shuffled stores each message
once, and an outbound message's status only ever moves forward (invariant 4), for both
providers' payload shapes."""

import hashlib
import hmac
import itertools
import json

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent
from tests.conftest import examples, make_org

CUSTOMERS = ["5511988880001", "5511988880002"]
APP_SECRET = "app-secret-exactly-once"  # noqa: S105
runs = itertools.count()


def evolution_webhooks(run: int) -> list[dict]:
    inbound = [
        {
            "event": "messages.upsert",
            "data": {
                "key": {
                    "remoteJid": f"{phone}@s.whatsapp.net",
                    "fromMe": False,
                    "id": f"IN{run}-{n}",
                },
                "pushName": "Cliente",
                "message": {"conversation": f"mensagem {n}"},
                "messageTimestamp": 1766816680 + n,
            },
        }
        for n, phone in enumerate(CUSTOMERS * 2)
    ]
    statuses = [
        {
            "event": "messages.update",
            "data": {"keyId": f"OUT{run}-{n}", "fromMe": True, "status": status},
        }
        for n in range(3)
        for status in ("SERVER_ACK", "DELIVERY_ACK", "READ")
    ]
    return inbound + statuses


def cloud_webhooks(run: int) -> list[dict]:
    def envelope(value: dict) -> dict:
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, **value}
        change = {"field": "messages", "value": value}
        return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}

    inbound = [
        envelope(
            {
                "contacts": [{"profile": {"name": "Cliente"}, "wa_id": phone}],
                "messages": [
                    {
                        "from": phone,
                        "id": f"wamid.IN{run}-{n}",
                        "timestamp": str(1766816680 + n),
                        "type": "text",
                        "text": {"body": f"mensagem {n}"},
                    }
                ],
            }
        )
        for n, phone in enumerate(CUSTOMERS * 2)
    ]
    statuses = [
        envelope(
            {
                "statuses": [
                    {
                        "id": f"OUT{run}-{n}",
                        "status": status,
                        "timestamp": "1766816700",
                        "recipient_id": CUSTOMERS[0],
                    }
                ]
            }
        )
        for n in range(3)
        for status in ("sent", "delivered", "read")
    ]
    return inbound + statuses


def post(number: Number, payload: dict) -> int:
    raw = json.dumps(payload).encode()
    if number.provider == Number.Provider.CLOUD:
        digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={digest}"}
    else:
        headers = {SECRET_HEADER: number.webhook_secret}
    url = f"/webhooks/{number.provider}/{number.webhook_key}"
    return Client().post(url, raw, content_type="application/json", headers=headers).status_code


def number_with_sent_messages(provider: str, run: int) -> Number:
    org = make_org()
    number = org.number
    if provider == Number.Provider.CLOUD:
        number = Number.objects.create(
            organization=org.org,
            name="Cloud",
            provider=provider,
            provider_name=f"10654035224{run:04d}",
            app_secret=APP_SECRET,
            status=Number.Status.CONNECTED,
        )
    conversation = org.conversation("5511977770000")
    Message.objects.bulk_create(
        Message(
            organization=org.org,
            conversation=conversation,
            number=number,
            direction=Message.Direction.OUTBOUND,
            body="Olá",
            status=Message.Status.SENT,
            provider_message_id=f"OUT{run}-{n}",
        )
        for n in range(3)
    )
    return number


# Unique keys under retries: the production database is the one that must hold.
@settings(
    max_examples=examples(15, in_full_on="postgresql"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    provider=st.sampled_from([Number.Provider.SANDBOX, Number.Provider.CLOUD]),
    order=st.randoms(use_true_random=False),
)
def test_every_webhook_three_times_shuffled_stores_once_and_never_goes_back(db, provider, order):
    run = next(runs)
    number = number_with_sent_messages(provider, run)
    webhooks = (cloud_webhooks if provider == Number.Provider.CLOUD else evolution_webhooks)(run)
    deliveries = webhooks * 3
    order.shuffle(deliveries)
    assert {post(number, payload) for payload in deliveries} == {200}

    inbound = Message.objects.filter(
        number=number,
        direction=Message.Direction.INBOUND,
        conversation__contact__phone__in=CUSTOMERS,
    )
    assert inbound.count() == 4
    assert sorted(inbound.values_list("body", flat=True)) == [f"mensagem {n}" for n in range(4)]
    org = number.organization
    assert Contact.objects.filter(organization=org, phone__in=CUSTOMERS).count() == 2
    assert Conversation.objects.filter(number=number, contact__phone__in=CUSTOMERS).count() == 2
    outbound = Message.objects.filter(number=number, direction=Message.Direction.OUTBOUND)
    assert set(outbound.values_list("status", flat=True)) == {Message.Status.READ}
    assert ProviderEvent.objects.filter(number=number).count() == len(webhooks)
