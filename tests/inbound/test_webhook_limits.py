"""Webhooks bounded: each stored event keeps only its own message (and the envelope's small
fields), a POST holds at most WEBHOOK_MAX_ITEMS messages (413, nothing stored), and each number's
webhooks are limited before the signature check (429 with Retry-After)."""

import json

import pytest

from conversa.inbound.reprocess import reprocess_events
from conversa.inbox.models import Contact, Message
from conversa.numbers.models import Number
from conversa.providers import cloud_webhooks
from conversa.providers.models import ProviderEvent
from tests.conftest import post_webhook
from tests.providers.test_cloud import SECRET, post

PHONE = "5511988{:06d}"


@pytest.fixture
def cloud(org) -> Number:
    return Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name="106540352242922",
        provider_token="token",  # noqa: S106
        app_secret=SECRET,
        status=Number.Status.CONNECTED,
    )


def cloud_envelope(n: int, *, statuses: int = 0) -> dict:
    """One signed Cloud webhook with `n` customers' messages (each named in `contacts`)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [
                                {"profile": {"name": f"Cliente {i}"}, "wa_id": PHONE.format(i)}
                                for i in range(n)
                            ],
                            "messages": [
                                {
                                    "from": PHONE.format(i),
                                    "id": f"wamid.cap{i:06d}",
                                    "timestamp": "1749416383",
                                    "type": "text",
                                    "text": {"body": f"Mensagem número {i} " + "x" * 40},
                                }
                                for i in range(n)
                            ],
                            "statuses": [
                                {
                                    "id": f"wamid.out{i}",
                                    "status": "delivered",
                                    "timestamp": "1749416383",
                                    "recipient_id": PHONE.format(i),
                                }
                                for i in range(statuses)
                            ],
                        },
                    }
                ],
            }
        ],
    }


def stored_size(event: ProviderEvent) -> int:
    return len(json.dumps(event.payload))


def test_a_500_message_webhook_stores_each_message_once_not_the_envelope_500_times(client, cloud):
    raw = json.dumps(cloud_envelope(500)).encode()
    answer = post(client, cloud, raw)
    assert answer.status_code == 200
    assert answer.json()["stored"] == 500
    events = list(ProviderEvent.objects.filter(number=cloud))
    assert len(events) == 500 and Message.objects.count() == 500
    # About 1/500th of the envelope each (its message and contact, and the envelope's small
    # fields): all of them together about twice the body, where they were 500 times it.
    assert max(stored_size(e) for e in events) < len(raw) / 200
    assert sum(stored_size(e) for e in events) < 3 * len(raw)
    one = events[0].payload["entry"][0]["changes"][0]["value"]
    assert len(one["messages"]) == 1 and len(one["contacts"]) == 1
    assert one["contacts"][0]["wa_id"] == one["messages"][0]["from"]
    assert one["metadata"]["phone_number_id"] == "106540352242922"
    # The names still come from `contacts`.
    assert Contact.objects.get(phone=PHONE.format(7)).name == "Cliente 7"


def test_statuses_are_split_too(client, cloud):
    raw = json.dumps(cloud_envelope(2, statuses=3)).encode()
    assert post(client, cloud, raw).json()["stored"] == 5
    for event in ProviderEvent.objects.filter(kind="StatusUpdate"):
        value = event.payload["entry"][0]["changes"][0]["value"]
        assert len(value["statuses"]) == 1 and "messages" not in value


def test_splitting_finds_what_the_whole_envelope_holds():
    envelope = cloud_envelope(30, statuses=5)
    whole = cloud_webhooks.parse_envelope(envelope)
    parts = [
        pair
        for part in cloud_webhooks.split_envelope(envelope)
        for pair in cloud_webhooks.parse_envelope(part)
    ]
    assert parts == whole


def test_an_evolution_batch_keeps_one_message_per_event(client, org):
    data = [
        {
            "key": {
                "remoteJid": f"{PHONE.format(i)}@s.whatsapp.net",
                "fromMe": False,
                "id": f"3EB0BATCH{i:04d}",
            },
            "pushName": f"Cliente {i}",
            "message": {"conversation": f"Oi {i}"},
            "messageType": "conversation",
            "messageTimestamp": 1749416383,
        }
        for i in range(40)
    ]
    envelope = {"event": "messages.upsert", "instance": "x", "data": data, "sender": "5511"}
    answer = post_webhook(client, org.number, envelope)
    assert answer.status_code == 200 and answer.json()["stored"] == 40
    for event in ProviderEvent.objects.filter(number=org.number):
        assert len(event.payload["data"]) == 1 and event.payload["sender"] == "5511"


def test_more_messages_than_one_post_may_hold_are_kept_whole_once(client, cloud, settings):
    """Verified, so never refused nor lost: kept as one unread event (the body once, not a
    copy per message), for re-processing."""
    settings.WEBHOOK_MAX_ITEMS = 50
    raw = json.dumps(cloud_envelope(51)).encode()
    answer = post(client, cloud, raw)
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    (kept,) = ProviderEvent.objects.all()
    assert kept.kind == "Unparsed" and "51" in kept.reason
    assert not Message.objects.exists()
    assert post(client, cloud, raw).json() == {"ok": True, "stored": 0, "duplicates": 1}
    assert post(client, cloud, json.dumps(cloud_envelope(50)).encode()).status_code == 200
    assert Message.objects.count() == 50


def test_the_default_cap_is_a_thousand(client, cloud):
    raw = json.dumps(cloud_envelope(1001)).encode()
    assert post(client, cloud, raw).json()["stored"] == 1
    assert ProviderEvent.objects.get().kind == "Unparsed"


def test_an_unread_item_of_a_split_webhook_is_reprocessed_from_its_own_part(
    client, cloud, monkeypatch
):
    envelope = cloud_envelope(20)
    envelope["entry"][0]["changes"][0]["value"]["messages"][3]["type"] = "futuristic"
    today = cloud_webhooks.read_content

    def old_reader(kind, message, value):
        if kind == "futuristic":
            raise KeyError("futuristic")
        return today(kind, message, value)

    monkeypatch.setattr(cloud_webhooks, "read_content", old_reader)
    answer = post(client, cloud, json.dumps(envelope).encode())
    assert answer.status_code == 200
    kept = ProviderEvent.objects.get(kind="Unparsed")
    assert len(kept.payload["entry"][0]["changes"][0]["value"]["messages"]) == 1
    assert Message.objects.count() == 19

    monkeypatch.setattr(cloud_webhooks, "read_content", today)
    summary = reprocess_events()
    assert summary == {"examined": 1, "reparsed": 1, "still_unparsed": 0, "applied": 1}
    assert Message.objects.count() == 20
    assert Message.objects.filter(provider_message_id="wamid.cap000003").exists()


def test_a_number_past_its_webhook_budget_gets_429_with_retry_after(client, org, settings):
    settings.WEBHOOK_RATE_LIMIT_NUMBER = "3/minute"
    body = {"event": "connection.update", "data": {"state": "open"}}
    answers = [post_webhook(client, org.number, body) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert answers[-1].json()["error"] == "rate_limited"


def test_after_too_many_bad_signatures_the_number_is_refused_unread(
    client, org, other_org, settings
):
    """An unverified flood is cut off before the check; a provider's real webhook meanwhile
    gets 429 and is retried later, so it is delayed, not lost."""
    settings.WEBHOOK_REJECTED_LIMIT_NUMBER = "2/minute"
    body = {"event": "connection.update", "data": {"state": "open"}}
    bad = [post_webhook(client, org.number, body, secret="wrong").status_code for _ in range(3)]
    assert bad == [401, 401, 429]
    assert post_webhook(client, org.number, body).status_code == 429
    assert not ProviderEvent.objects.filter(number=org.number).exists()
    # Another number is not affected.
    assert post_webhook(client, other_org.number, body).status_code == 200


def test_an_allowed_webhook_costs_one_storage_operation_a_budget(
    client, org, settings, monkeypatch
):
    """Webhooks answer no RateLimit headers, so an allowed one counts its window and peeks at
    the rejected one, and reads neither back (on Redis, each is a round trip per POST)."""
    from conversa import ratelimits

    settings.WEBHOOK_RATE_LIMIT_NUMBER = "3/minute"
    limiter = ratelimits.limiter()
    calls = []
    for name in ("hit", "test", "get_window_stats"):
        real = getattr(limiter, name)
        monkeypatch.setattr(
            limiter,
            name,
            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k),
        )
    body = {"event": "connection.update", "data": {"state": "open"}}
    assert post_webhook(client, org.number, body).status_code == 200
    assert sorted(calls) == ["hit", "test"]
    calls.clear()
    answers = [post_webhook(client, org.number, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    # A refusal reads its window back, to say when it ends.
    assert "get_window_stats" in calls and 1 <= int(answers[-1]["Retry-After"]) <= 60


@pytest.mark.parametrize("count", [0, 1])
def test_small_webhooks_are_kept_whole(client, cloud, count):
    envelope = cloud_envelope(count)
    raw = json.dumps(envelope).encode()
    assert post(client, cloud, raw).status_code == 200
    for event in ProviderEvent.objects.all():
        assert event.payload == envelope


@pytest.mark.django_db(transaction=True)
def test_the_front_door_answers_429_with_retry_after(org, settings):
    """The ASGI front door (what `conversa serve` answers webhooks with) says when to retry."""
    import asyncio

    from conversa.inbound import front_door
    from conversa.providers.evolution import SECRET_HEADER

    settings.WEBHOOK_RATE_LIMIT_NUMBER = "1/minute"
    body = json.dumps({"event": "connection.update", "data": {"state": "open"}}).encode()
    number = org.number
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/webhooks/{number.provider}/{number.webhook_key}",
        "headers": [
            (b"content-type", b"application/json"),
            (SECRET_HEADER.lower().encode(), number.webhook_secret.encode()),
        ],
    }

    async def post_once() -> dict:
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        await front_door.webhook_app(scope, receive, send)
        return sent[0]

    async def twice():
        return [await post_once(), await post_once()]

    first, second = asyncio.run(twice())
    assert first["status"] == 200
    assert second["status"] == 429
    assert 1 <= int(dict(second["headers"])[b"retry-after"]) <= 60
