"""The sandbox speaks Evolution API v2 (docs/providers.md §B1-B3) under /sandbox/evolution/."""

import json

import pytest
from django.conf import settings
from django.test import Client

from conversa.inbox.models import Message
from conversa.providers.base import (
    ConnectionUpdate,
    InboundMessage,
    QrUpdate,
    StatusUpdate,
)
from conversa.providers.evolution import SECRET_HEADER, EvolutionProvider
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage

BASE = "/sandbox/evolution"
GLOBAL_KEY = settings.SANDBOX_API_KEY


def call(client: Client, method: str, path: str, apikey: str | None = GLOBAL_KEY, body=None):
    headers = {"apikey": apikey} if apikey is not None else {}
    kwargs = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(f"{BASE}{path}", **kwargs)


def create(client: Client, name: str, apikey: str | None = GLOBAL_KEY, **extra):
    return call(
        client,
        "post",
        "/instance/create",
        apikey,
        {"instanceName": name, "integration": "WHATSAPP-BAILEYS", **extra},
    )


def open_instance(name: str) -> SandboxInstance:
    """The person scanned the QR: the number is connected."""
    instance = SandboxInstance.objects.get(name=name)
    simulator.set_state(instance, "open", owner_phone="5511900000000")
    return instance


def assert_evolution_error(response, status: int, error: str):
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status
    assert body["error"] == error
    assert isinstance(body["response"]["message"], list)
    assert body["response"]["message"]
    return body


# Creating instances


def test_create_with_the_global_key_answers_201_with_the_instance_token(client, db):
    response = create(client, "loja")

    assert response.status_code == 201
    body = response.json()
    assert body["instance"]["instanceName"] == "loja"
    assert body["instance"]["integration"] == "WHATSAPP-BAILEYS"
    assert body["instance"]["status"] == "created"
    assert body["instance"]["instanceId"]
    assert isinstance(body["hash"], str)
    assert body["hash"]
    instance = SandboxInstance.objects.get(name="loja")
    assert instance.token == body["hash"]
    assert instance.state == "close"
    assert "qrcode" not in body


def test_create_keeps_the_webhook_and_its_headers(client, db):
    webhook = {
        "url": "http://conversa.test/webhooks/sandbox/abc",
        "byEvents": False,
        "base64": False,
        "headers": {SECRET_HEADER: "s3cret"},
        "events": ["MESSAGES_UPSERT"],
    }

    response = create(client, "loja", webhook=webhook)

    assert response.status_code == 201
    assert response.json()["webhook"]["webhookUrl"] == webhook["url"]
    instance = SandboxInstance.objects.get(name="loja")
    assert instance.webhook_headers == {SECRET_HEADER: "s3cret"}


def test_create_asking_for_a_qrcode_answers_with_one(client, db):
    response = create(client, "loja", qrcode=True)

    assert response.status_code == 201
    qrcode = response.json()["qrcode"]
    assert qrcode["base64"].startswith("data:image/png;base64,")
    assert qrcode["code"]


def test_duplicate_name_is_403_in_evolutions_error_shape(client, db):
    create(client, "loja")

    response = create(client, "loja")

    body = assert_evolution_error(response, 403, "Forbidden")
    assert "loja" in body["response"]["message"][0]
    assert SandboxInstance.objects.filter(name="loja").count() == 1


def test_create_without_a_name_is_400(client, db):
    response = call(client, "post", "/instance/create", body={"integration": "WHATSAPP-BAILEYS"})

    assert_evolution_error(response, 400, "Bad Request")
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize(
    "apikey", [None, "", "wrong-key", "é-not-ascii"], ids=["missing", "empty", "wrong", "non-ascii"]
)
def test_create_without_the_global_key_is_401(client, db, apikey):
    response = create(client, "loja", apikey=apikey)

    assert_evolution_error(response, 401, "Unauthorized")
    assert not SandboxInstance.objects.exists()


def test_an_instance_token_cannot_create_instances(client, db):
    token = create(client, "loja").json()["hash"]

    response = create(client, "outra", apikey=token)

    assert_evolution_error(response, 401, "Unauthorized")
    assert not SandboxInstance.objects.filter(name="outra").exists()


def test_create_only_accepts_post(client, db):
    assert call(client, "get", "/instance/create").status_code == 405


# Connection


def test_connection_state_of_a_new_instance_is_close(client, db):
    create(client, "loja")

    response = call(client, "get", "/instance/connectionState/loja")

    assert response.status_code == 200
    assert response.json() == {"instance": {"instanceName": "loja", "state": "close"}}


def test_connect_returns_a_qr_for_an_instance_that_is_not_open(client, db):
    create(client, "loja")

    response = call(client, "get", "/instance/connect/loja")

    assert response.status_code == 200
    body = response.json()
    assert body["base64"].startswith("data:image/png;base64,")
    assert body["code"]
    assert set(body) >= {"pairingCode", "code", "base64", "count"}
    state = call(client, "get", "/instance/connectionState/loja").json()
    assert state["instance"]["state"] == "connecting"


def test_each_connect_shows_a_fresh_qr(client, db):
    create(client, "loja")

    first = call(client, "get", "/instance/connect/loja").json()
    second = call(client, "get", "/instance/connect/loja").json()

    assert first["code"] != second["code"]


def test_connect_on_an_open_instance_returns_its_state(client, db):
    create(client, "loja")
    open_instance("loja")

    response = call(client, "get", "/instance/connect/loja")

    assert response.status_code == 200
    assert response.json() == {"instance": {"instanceName": "loja", "state": "open"}}


def test_unknown_instance_is_404(client, db):
    response = call(client, "get", "/instance/connectionState/nobody")

    body = assert_evolution_error(response, 404, "Not Found")
    assert "nobody" in body["response"]["message"][0]


@pytest.mark.parametrize(
    "path", ["/instance/connect/loja", "/instance/connectionState/loja"], ids=["connect", "state"]
)
@pytest.mark.parametrize(
    "apikey", [None, "wrong-key", "é-not-ascii"], ids=["missing", "wrong", "non-ascii"]
)
def test_instance_routes_without_a_valid_key_are_401(client, db, path, apikey):
    create(client, "loja")

    response = call(client, "get", path, apikey=apikey)

    assert_evolution_error(response, 401, "Unauthorized")
    assert SandboxInstance.objects.get(name="loja").state == "close"


# Sending


def test_send_text_on_an_open_instance_is_201_with_the_message_id(client, db):
    create(client, "loja")
    open_instance("loja")

    response = call(
        client, "post", "/message/sendText/loja", body={"number": "5511988887777", "text": "Olá!"}
    )

    assert response.status_code == 201
    body = response.json()
    message = SandboxMessage.objects.get()
    assert body["key"] == {
        "remoteJid": "5511988887777@s.whatsapp.net",
        "fromMe": True,
        "id": message.message_id,
    }
    assert body["message"] == {"conversation": "Olá!"}
    assert isinstance(body["messageTimestamp"], int)
    assert message.from_me is True
    assert (message.chat_phone, message.text) == ("5511988887777", "Olá!")
    assert message.instance.name == "loja"


def test_send_text_keeps_only_the_digits_of_the_number(client, db):
    create(client, "loja")
    open_instance("loja")

    response = call(
        client,
        "post",
        "/message/sendText/loja",
        body={"number": "+55 (11) 98888-7777", "text": "Oi"},
    )

    assert response.status_code == 201
    assert SandboxMessage.objects.get().chat_phone == "5511988887777"


def test_send_text_on_a_closed_instance_is_400(client, db):
    create(client, "loja")

    response = call(
        client, "post", "/message/sendText/loja", body={"number": "5511988887777", "text": "Oi"}
    )

    assert_evolution_error(response, 400, "Bad Request")
    assert not SandboxMessage.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"number": "5511988887777"},
        {"text": "Oi"},
        {"number": "5511988887777", "text": ""},
        {"number": "123", "text": "Oi"},
        {"number": 5511988887777, "text": "Oi"},
    ],
    ids=["no-text", "no-number", "empty-text", "short-number", "number-not-string"],
)
def test_send_text_with_a_bad_body_is_400(client, db, body):
    create(client, "loja")
    open_instance("loja")

    response = call(client, "post", "/message/sendText/loja", body=body)

    assert_evolution_error(response, 400, "Bad Request")
    assert not SandboxMessage.objects.exists()


def test_accepted_send_reports_sent_then_delivered(
    client, db, webhooks_sent, django_capture_on_commit_callbacks
):
    create(client, "loja", webhook={"url": "http://conversa.test/hook", "headers": {"X-A": "1"}})
    open_instance("loja")
    webhooks_sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = call(
            client, "post", "/message/sendText/loja", body={"number": "5511988887777", "text": "Oi"}
        )

    message_id = response.json()["key"]["id"]
    updates = [w["body"] for w in webhooks_sent]
    assert [u["event"] for u in updates] == ["messages.update", "messages.update"]
    assert [u["data"]["status"] for u in updates] == ["SERVER_ACK", "DELIVERY_ACK"]
    assert all(u["data"]["keyId"] == message_id and u["data"]["fromMe"] for u in updates)
    assert webhooks_sent[1]["delay"] == settings.SANDBOX_DELIVERY_DELAY
    assert all(w["headers"] == {"X-A": "1"} for w in webhooks_sent)


# Instance tokens


def test_an_instance_token_works_on_its_own_instance(client, db):
    token = create(client, "loja").json()["hash"]
    open_instance("loja")

    state = call(client, "get", "/instance/connectionState/loja", apikey=token)
    sent = call(
        client,
        "post",
        "/message/sendText/loja",
        apikey=token,
        body={"number": "5511988887777", "text": "Oi"},
    )

    assert state.status_code == 200
    assert sent.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/instance/connectionState/outra", None),
        ("get", "/instance/connect/outra", None),
        ("post", "/message/sendText/outra", {"number": "5511988887777", "text": "Oi"}),
    ],
    ids=["state", "connect", "sendText"],
)
def test_an_instance_token_is_refused_on_another_instance(client, db, method, path, body):
    token = create(client, "loja").json()["hash"]
    create(client, "outra")
    open_instance("outra")

    response = call(client, method, path, apikey=token, body=body)

    assert_evolution_error(response, 401, "Unauthorized")
    assert not SandboxMessage.objects.exists()
    assert SandboxInstance.objects.get(name="outra").state == "open"


# The webhooks the sandbox sends are Evolution's, and our adapter reads them


def adapter() -> EvolutionProvider:
    return EvolutionProvider(settings.SANDBOX_URL, GLOBAL_KEY)


def parsed(webhook: dict) -> list:
    return [
        item.event for item in adapter().parse_webhook(None, json.dumps(webhook["body"]).encode())
    ]


def test_connect_emits_connecting_and_the_same_qr(client, db, webhooks_sent):
    create(client, "loja", webhook={"url": "http://conversa.test/hook"})

    code = call(client, "get", "/instance/connect/loja").json()["code"]

    envelopes = [w["body"] for w in webhooks_sent]
    assert [e["event"] for e in envelopes] == ["connection.update", "qrcode.updated"]
    for envelope in envelopes:
        assert set(envelope) == {
            "event",
            "instance",
            "data",
            "destination",
            "date_time",
            "sender",
            "server_url",
            "apikey",
        }
        assert envelope["instance"] == "loja"
        assert envelope["destination"] == "http://conversa.test/hook"
    assert parsed(webhooks_sent[0]) == [ConnectionUpdate(status="connecting")]
    assert parsed(webhooks_sent[1]) == [QrUpdate(code=code)]


def test_scan_emits_open_with_the_owner_number(client, db, webhooks_sent):
    create(client, "loja", webhook={"url": "http://conversa.test/hook"})

    open_instance("loja")

    assert parsed(webhooks_sent[-1]) == [
        ConnectionUpdate(status="connected", phone="5511900000000")
    ]


def test_customer_message_is_an_upsert_the_adapter_reads(
    db, webhooks_sent, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = simulator.customer_says(org.twin, "5511977776666", "Bom dia", "Ana")

    [event] = parsed(webhooks_sent[-1])
    assert isinstance(event, InboundMessage)
    assert (event.provider_message_id, event.phone, event.name, event.kind, event.body) == (
        message.message_id,
        "5511977776666",
        "Ana",
        "text",
        "Bom dia",
    )


def test_customer_read_is_a_status_update_for_each_unread_send(db, webhooks_sent, org):
    first = simulator.accept_send(org.twin, "5511977776666", "Um")["key"]["id"]
    second = simulator.accept_send(org.twin, "5511977776666", "Dois")["key"]["id"]
    webhooks_sent.clear()

    assert simulator.customer_reads(org.twin, "5511977776666") == 2

    assert [parsed(w) for w in webhooks_sent] == [
        [StatusUpdate(provider_message_id=first, status="read")],
        [StatusUpdate(provider_message_id=second, status="read")],
    ]
    assert simulator.customer_reads(org.twin, "5511977776666") == 0


def test_sandbox_webhooks_are_accepted_by_conversa(
    client, db, webhooks_sent, org, django_capture_on_commit_callbacks
):
    """Posted to the URL and with the headers the twin was configured with."""
    with django_capture_on_commit_callbacks(execute=True):
        simulator.customer_says(org.twin, "5511977776666", "Bom dia", "Ana")

    [webhook] = webhooks_sent
    path = webhook["url"].removeprefix("http://testserver")
    response = client.post(
        path,
        data=json.dumps(webhook["body"]),
        content_type="application/json",
        headers=webhook["headers"],
    )

    assert response.status_code == 200
    assert response.json()["stored"] == 1
    assert Message.objects.get(organization=org.org).body == "Bom dia"
