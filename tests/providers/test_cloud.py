"""The WhatsApp Cloud API adapter (docs/providers.md §A): every payload of
tests/fixtures/payloads/cloud, the signature and the handshake, error classes, and a real round
trip through the sandbox's Graph API over HTTP."""

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from conversa.engine import services
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.engine.worker import Worker
from conversa.inbox.models import Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage, PreferenceUpdate, StatusUpdate, Unparsed
from conversa.providers.cloud import CloudProvider, graph_error
from conversa.providers.models import ProviderEvent
from conversa.providers.webhook_json import unparsed_key
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxMessage
from tests.conftest import cloud_number, make_org, wait_for

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads" / "cloud"
SECRET = "app-secret-for-tests"  # noqa: S105

NETFLIE = json.loads((PAYLOADS / "batch_two_changes_one_entry_netflie.json").read_bytes())
NETFLIE_KEYS = [
    unparsed_key(change["value"]["messages"][0]) for change in NETFLIE["entry"][0]["changes"]
]
NO_SENDER = "a message with no phone number or user id"

# (kind of event, dedupe key, kind or status, body or error or reason, phone) per file.
EXPECTED = {
    # Placeholders ("PHONE_NUMBER") instead of numbers: nobody to answer, so each message is kept
    # unparsed. The batch shape itself is tested below with real numbers.
    "batch_two_changes_one_entry_netflie.json": [
        ("Unparsed", NETFLIE_KEYS[0], "", NO_SENDER, ""),
        ("Unparsed", NETFLIE_KEYS[1], "", NO_SENDER, ""),
    ],
    "button_quick_reply_postman.json": [
        (
            "InboundMessage",
            "message:wamid.ABGGFlCGg0cvAgo-sHWxBA2VFD_S",
            "choice",
            "No",
            "16315551234",
        )
    ],
    "image_message_meta_docs.json": [
        (
            "InboundMessage",
            "message:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "image",
            "Taj Mahal",
            "16505551234",
        )
    ],
    "interactive_button_reply_meta_docs.json": [
        (
            "InboundMessage",
            "message:wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQThBREYwNzc2RDc2QjA1QTIwMgA=",
            "choice",
            "Change",
            "16505551234",
        )
    ],
    "status_delivered_meta_docs.json": [
        (
            "StatusUpdate",
            "status:wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA:delivered",
            "delivered",
            "",
            "",
        )
    ],
    "status_failed_meta_docs.json": [
        (
            "StatusUpdate",
            "status:wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA:failed",
            "failed",
            "131049 This message was not delivered to maintain healthy ecosystem engagement.",
            "",
        )
    ],
    # A non-numeric "TIMESTAMP": still read, with no time.
    "status_failed_postman_placeholders_quoted.json": [
        (
            "StatusUpdate",
            "status:wamid.ID:failed",
            "failed",
            "131014 Request for url https://URL.jpg failed with error: 404 (Not Found)",
            "",
        )
    ],
    "status_read_pywa.json": [("StatusUpdate", "status:wamid.xyzxyz:read", "read", "", "")],
    "status_read_v25_bsuid_whatsapp_api_js.json": [
        ("StatusUpdate", "status:ABGGFlA5Fpa:read", "read", "", "")
    ],
    "status_sent_meta_docs.json": [
        (
            "StatusUpdate",
            "status:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=:sent",
            "sent",
            "",
            "",
        )
    ],
    "text_message_postman.json": [
        (
            "InboundMessage",
            "message:wamid.ABGGFlCGg0cvAgo-sJQh43L5Pe4W",
            "text",
            "Hello this is an answer",
            "16315551234",
        )
    ],
    "text_message_v25_bsuid_whatsapp_api_js.json": [
        (
            "InboundMessage",
            "message:ABGGFlA5Fpa",
            "text",
            "this is a text message",
            "16315551181",
        )
    ],
    "text_reply_with_context_pywa.json": [
        ("InboundMessage", "message:wamid.xyzxyz", "text", "replied text", "972987654321")
    ],
    "text_with_context_referred_product_meta_docs.json": [
        (
            "InboundMessage",
            "message:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTA2NTUwRkNEMDdFQjJCRUU0NQA=",
            "text",
            "Is this still available?",
            "16505551234",
        )
    ],
    "user_preferences_resume_meta_docs.json": [
        (
            "PreferenceUpdate",
            "preference:16505551234:resume:1731705721",
            "resume",
            "User requested to resume marketing messages",
            "16505551234",
        )
    ],
    "user_preferences_stop_derived.json": [
        (
            "PreferenceUpdate",
            "preference:16505551234:stop:1731705721",
            "stop",
            "User requested to stop marketing messages",
            "16505551234",
        )
    ],
}

# The files this module checks event by event; the others, test_real_kinds_cloud.py.
FILES = [PAYLOADS / name for name in sorted(EXPECTED)]


def summary(item) -> tuple:
    event = item.event
    if isinstance(event, InboundMessage):
        return ("InboundMessage", item.dedupe_key, event.kind, event.body, event.phone)
    if isinstance(event, Unparsed):
        return ("Unparsed", item.dedupe_key, "", event.reason, "")
    if isinstance(event, PreferenceUpdate):
        return ("PreferenceUpdate", item.dedupe_key, event.preference, event.detail, event.phone)
    assert isinstance(event, StatusUpdate)
    return ("StatusUpdate", item.dedupe_key, event.status, event.error, "")


def signed(raw: bytes, secret: str = SECRET) -> dict:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


@pytest.fixture
def cloud(org) -> Number:
    return cloud_number(org, provider_name="106540352242922", app_secret=SECRET)


def post(client, number: Number, raw: bytes, headers: dict | None = None):
    return client.post(
        f"/webhooks/cloud/{number.webhook_key}",
        data=raw,
        content_type="application/json",
        headers=signed(raw) if headers is None else headers,
    )


def test_every_payload_file_has_an_expectation():
    """Files added for every message kind are checked in test_real_kinds_cloud.py."""
    from tests.providers.test_real_kinds_cloud import EXPECTED as KINDS

    assert FILES, f"no payloads found in {PAYLOADS}"
    assert {p.name for p in PAYLOADS.glob("*.json")} == set(EXPECTED) | set(KINDS)


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_payload_parses_to_its_expected_neutral_events(path):
    parsed = CloudProvider("http://graph.invalid").parse_webhook(None, path.read_bytes())
    assert [summary(item) for item in parsed] == EXPECTED[path.name]


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_payload_posted_twice_is_accepted_once(client, cloud, path):
    raw = path.read_bytes()
    expected = EXPECTED[path.name]
    first = post(client, cloud, raw)
    assert first.status_code == 200, first.content
    assert first.json() == {"ok": True, "stored": len(expected), "duplicates": 0}
    second = post(client, cloud, raw)
    assert second.json() == {"ok": True, "stored": 0, "duplicates": len(expected)}
    inbound = [e for e in expected if e[0] == "InboundMessage"]
    assert Message.objects.count() == len(inbound)
    assert ProviderEvent.objects.filter(number=cloud).count() == len(expected)


def test_a_batch_of_changes_is_every_change(client, cloud):
    batch = json.loads((PAYLOADS / "batch_two_changes_one_entry_netflie.json").read_text())
    for n, change in enumerate(batch["entry"][0]["changes"]):
        change["value"]["contacts"][0]["wa_id"] = f"551199990000{n}"
        change["value"]["messages"][0]["from"] = f"551199990000{n}"
        change["value"]["messages"][0]["id"] = f"wamid.batch{n}"
    response = post(client, cloud, json.dumps(batch).encode())
    assert response.json()["stored"] == 2
    bodies = sorted(Message.objects.values_list("body", flat=True))
    assert bodies == ["MESSAGE_BODY", "MESSAGE_BODY2"]
    assert Conversation.objects.filter(number=cloud).count() == 2


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, signed(b"other body"), signed(b"", "x")],
    ids=["missing", "zeros", "other-body", "other-secret"],
)
def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(client, cloud, headers):
    raw = (PAYLOADS / "text_message_postman.json").read_bytes()
    response = post(client, cloud, raw, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert not ProviderEvent.objects.exists()
    assert not Message.objects.exists()


def test_the_verify_handshake_echoes_the_challenge_only_for_the_right_token(client, cloud):
    url = f"/webhooks/cloud/{cloud.webhook_key}"
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "x"}
    wrong = client.get(url, params)
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "forbidden"
    right = client.get(url, {**params, "hub.verify_token": "verify-me"})
    assert right.status_code == 200
    assert right.content == b"1158201444"


@pytest.mark.parametrize(
    "status, code, transient",
    [
        (400, 130429, True),  # throughput
        (400, 131056, True),  # pair rate
        (500, 131000, True),
        (400, 131049, False),  # ecosystem engagement (policy)
        (400, 100, False),  # invalid parameter
        (401, 190, False),  # bad token
    ],
)
def test_graph_errors_are_classified(status, code, transient):
    response = httpx.Response(status, json={"error": {"code": code, "message": "m"}})
    error = graph_error(response)
    assert error.transient is transient
    assert str(code) in str(error)


@pytest.fixture
def graph(delivered_webhooks):
    """A Cloud number of a fresh organization, with its twin on the sandbox's Graph API, and
    the sandbox's signed webhooks coming back to the live server."""
    org = make_org(webhook_base=delivered_webhooks)
    number = Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name="106540352242922",
        app_secret=SECRET,
        phone_number="5511933334444",
        status=Number.Status.CONNECTED,
    )
    twin = simulator.create_cloud_number(
        number.provider_name,
        number.phone_number,
        f"{delivered_webhooks}/webhooks/cloud/{number.webhook_key}",
        SECRET,
    )
    number.provider_token = twin.token
    number.save(update_fields=["provider_token"])
    return org, number, twin


def test_a_round_trip_through_the_graph_api(graph):
    """The customer writes (a signed webhook), the agent replies within the window, the
    engine sends through the Graph API, and Meta-shaped statuses bring it to DELIVERED."""
    org, number, twin = graph
    simulator.customer_says(twin, "5511988887777", "Oi, tudo bem?", name="Ana")
    wait_for(lambda: Message.objects.filter(number=number).exists(), "the inbound message")
    conversation = Conversation.objects.get(number=number)
    assert conversation.contact.name == "Ana"
    assert conversation.last_inbound_at is not None

    intent, _ = services.reply(conversation, "Tudo ótimo!", acting_member=org.owner)
    assert intent.status == MessageIntent.Status.QUEUED
    assert Worker().run_once() == 1
    job = ExecutionJob.objects.get(intent=intent)
    assert job.status == ExecutionJob.Status.SENT
    receipt = SandboxMessage.objects.get(instance=twin, from_me=True)
    assert (receipt.message_id, receipt.reference) == (job.provider_message_id, job.reference)
    wait_for(
        lambda: Message.objects.get(pk=job.message_id).status == Message.Status.DELIVERED,
        "the delivered status",
    )
    echoed = ProviderEvent.objects.filter(number=number, kind="StatusUpdate")
    assert set(echoed.values_list("reference", flat=True)) == {job.reference}


def test_outside_the_24_hour_window_free_text_is_blocked(graph):
    org, number, twin = graph
    simulator.customer_says(twin, "5511988887777", "Oi", name="Ana")
    wait_for(lambda: Conversation.objects.filter(number=number).exists(), "the conversation")
    conversation = Conversation.objects.get(number=number)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    intent, _ = services.reply(conversation, "Ainda está aí?", acting_member=org.owner)
    assert intent.status == MessageIntent.Status.BLOCKED
    decision = intent.decisions.get()
    assert decision.reason_code == "outside_window"
    assert decision.reason == "Outside the 24-hour window: use a template"
    assert not SandboxMessage.objects.filter(from_me=True).exists()


def test_a_template_opens_a_conversation_outside_the_window(graph):
    """Free text is blocked outside the 24-hour window; the approved template is sent, as a
    template, through the Graph API."""
    org, number, twin = graph
    client = Client()
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    template = {"name": "pedido_enviado", "language": "pt_BR", "variables": ["Ana", "#4821"]}
    answer = client.post(
        "/api/intents",
        {"phone": "5511988887777", "template": template, "number_id": number.pk},
        content_type="application/json",
        headers=headers,
    )
    assert answer.status_code == 201, answer.content
    intent = MessageIntent.objects.get(pk=answer.json()["id"])
    assert intent.status == MessageIntent.Status.QUEUED
    assert intent.body == "[pedido_enviado] Ana · #4821"
    assert answer.json()["template"] == template
    assert Worker().run_once() == 1
    receipt = SandboxMessage.objects.get(instance=twin, from_me=True)
    assert receipt.text == "[template] pedido_enviado"
    assert ExecutionJob.objects.get(intent=intent).status == ExecutionJob.Status.SENT

    free_text = client.post(
        "/api/intents",
        {"phone": "5511988887777", "body": "Oi de novo", "number_id": number.pk},
        content_type="application/json",
        headers=headers,
    )
    assert free_text.json()["decision"]["reason_code"] == "outside_window"


def test_a_template_needs_a_cloud_number_and_an_intent_needs_text_or_template(org):
    client = Client()
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    template = {"name": "boas_vindas", "language": "pt_BR", "variables": []}
    answer = client.post(
        "/api/intents",
        {"phone": "5511988887777", "template": template, "number_id": org.number.pk},
        content_type="application/json",
        headers=headers,
    )
    assert answer.status_code == 201
    assert answer.json()["status"] == "blocked"
    assert answer.json()["decision"]["reason_code"] == "template_unsupported"
    for wrong in ({"body": ""}, {"body": "Oi", "template": template}, {"template": {"name": "X!"}}):
        refused = client.post(
            "/api/intents",
            {"phone": "5511988887777", **wrong},
            content_type="application/json",
            headers=headers,
        )
        assert refused.status_code == 422, wrong
        assert refused.json()["error"] == "invalid"
    assert not MessageIntent.objects.filter(body="Oi").exists()
