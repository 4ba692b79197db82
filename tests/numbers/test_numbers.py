"""A number's life in the product: added through the wizard, paired by QR over real HTTP with
the sandbox, a test message through the engine, dropped, refused, logged out, removed."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from conversa import crypto
from conversa.crypto import decrypt
from conversa.engine import gate
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.engine.worker import Worker
from conversa.inbound.services import apply_event
from conversa.numbers import services
from conversa.numbers.models import Number
from conversa.numbers.services import NumberSettings
from conversa.providers.base import ConnectionUpdate, ParsedEvent
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.conftest import make_org, wait_for


@pytest.fixture
def live(delivered_webhooks):
    return make_org(webhook_base=delivered_webhooks)


def status_of(number: Number) -> str:
    number.refresh_from_db()
    return number.status


def test_the_wizard_adds_pairs_and_tests_a_sandbox_number(live):
    client = live.client()
    answer = client.post("/numbers/add", {"name": "Loja Centro", "provider": "sandbox"})
    assert answer.status_code == 302
    number = Number.objects.get(organization=live.org, name="Loja Centro")
    assert answer.url == f"/numbers/{number.pk}/pairing"
    twin = SandboxInstance.objects.get(name=number.provider_name)
    assert number.provider_token == twin.token
    assert twin.webhook_url.endswith(f"/webhooks/sandbox/{number.webhook_key}")

    # Step 2: the page asks for a QR; the sandbox's qrcode.updated also arrives by webhook.
    pairing = client.post(f"/numbers/{number.pk}/actions/connect", {"from": "pairing"})
    assert pairing.status_code == 200
    assert b'class="qr"' in pairing.content and b"data:image/svg+xml" in pairing.content
    assert status_of(number) == Number.Status.CONNECTING
    first_code = number.qr_code
    assert first_code.startswith(f"sandbox:{number.provider_name}:")
    # The first code's qrcode.updated webhook lands first: arriving after the second answer,
    # it would put the older code back (webhooks carry no order; see the issue 17 note).
    assert simulator.courier.drain(timeout=10)
    client.post(f"/numbers/{number.pk}/actions/connect", {"from": "pairing"})
    number.refresh_from_db()
    assert number.qr_code != first_code, "asking again gives a fresh QR"

    # The person scans it on the simulator's page: connection.update comes back over HTTP.
    client.post("/sandbox/scan", {"instance": number.provider_name})
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "CONNECTED")
    assert number.phone_number and number.qr_code == ""
    assert b"Continue" in client.get(f"/numbers/{number.pk}/pairing").content

    # Step 3: a test message goes through the engine, once however often the form is posted.
    form = {
        "phone": "+5511988887777",
        "body": "Teste da Conversa",
        "key": "0b7c4c8e-1d5f-4f7a-9f00-6f3b2a1c9d10",
    }
    assert client.post(f"/numbers/{number.pk}/ready", form).status_code == 200
    assert client.post(f"/numbers/{number.pk}/ready", form).status_code == 200
    intent = MessageIntent.objects.get(organization=live.org)
    assert intent.status == MessageIntent.Status.QUEUED
    assert Worker().run_once() == 1
    assert ExecutionJob.objects.get(intent=intent).status == ExecutionJob.Status.SENT
    sent = SandboxMessage.objects.get(instance=twin, from_me=True)
    assert (sent.chat_phone, sent.text) == ("5511988887777", "Teste da Conversa")


def paired(org) -> tuple[Number, SandboxInstance]:
    number = services.add_number(org.org, NumberSettings(name="Vendas 2", provider="sandbox"))
    services.connect_number(number)
    twin = SandboxInstance.objects.get(name=number.provider_name)
    simulator.set_state(twin, "open", owner_phone="5511977776666")
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "CONNECTED")
    return number, twin


def test_a_dropped_connection_is_seen_and_a_new_qr_reconnects(live):
    number, twin = paired(live)
    simulator.set_state(twin, "close")
    # A close with 428 (connection closed) is transient: Evolution reconnects by itself.
    wait_for(lambda: number.refresh_from_db() or number.connection_reason, "the close")
    assert (number.status, number.connection_reason) == ("connecting", "reconnecting")
    assert services.connect_number(number) is not None
    assert status_of(number) == Number.Status.CONNECTING and number.qr_code
    simulator.set_state(twin, "open")
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "CONNECTED again")


def test_logout_then_remove_keeps_history_and_blocks_sends(live):
    number, twin = paired(live)
    client = live.client()
    client.post(f"/numbers/{number.pk}/actions/logout")
    assert status_of(number) == Number.Status.DISCONNECTED
    assert SandboxInstance.objects.get(pk=twin.pk).state == "close"
    answer = client.post(f"/numbers/{number.pk}/actions/remove")
    assert answer.status_code == 200
    assert status_of(number) == Number.Status.REMOVED
    assert not SandboxInstance.objects.filter(pk=twin.pk).exists()
    assert b"Vendas 2" not in client.get("/numbers/").content

    contact = live.customer_writes("5511955554444").conversation.contact
    intent, _ = engine.create_intent(
        live.org, contact=contact, body="Oi", origin="api", idempotency_key="k", number=number
    )
    assert intent.status == MessageIntent.Status.BLOCKED
    assert intent.decisions.get().reason_code == "number_removed"


def test_wrong_evolution_credentials_store_nothing(live, settings):
    answer = live.client().post(
        "/numbers/add",
        {
            "name": "Evolution",
            "provider": "evolution",
            "base_url": settings.SANDBOX_URL,
            "api_key": "wrong",
        },
    )
    assert answer.status_code == 422
    assert b"The provider refused" in answer.content
    assert not Number.objects.filter(name="Evolution").exists()
    assert not SandboxInstance.objects.filter(name__startswith="evolution-").exists()


def test_an_evolution_number_uses_its_own_server_and_key(live, settings):
    answer = live.client().post(
        "/numbers/add",
        {
            "name": "Evolution",
            "provider": "evolution",
            "base_url": settings.SANDBOX_URL,
            "api_key": settings.SANDBOX_API_KEY,
        },
    )
    assert answer.status_code == 302
    number = Number.objects.get(name="Evolution")
    assert (number.base_url, number.api_key) == (settings.SANDBOX_URL, settings.SANDBOX_API_KEY)
    assert services.connect_number(number).code.startswith("sandbox:")


def test_missing_provider_fields_are_form_errors(live):
    answer = live.client().post("/numbers/add", {"name": "Meta", "provider": "cloud"})
    assert answer.status_code == 422
    assert answer.content.count(b"Required for this provider.") == 3
    assert not Number.objects.exists() or not Number.objects.filter(name="Meta").exists()


CLOUD_FORM = {
    "name": "Meta oficial",
    "provider": "cloud",
    "phone_number_id": "106540352242922",
    "app_secret": "app-secret-of-the-meta-app",
    "verify_token": "minha frase secreta",
}


def test_a_cloud_number_is_checked_against_the_graph_api(live):
    twin = simulator.create_cloud_number("106540352242922", "5511933334444", "", "x")
    client = live.client()
    refused = client.post("/numbers/add", {**CLOUD_FORM, "access_token": "not-the-token"})
    assert refused.status_code == 422
    assert not Number.objects.filter(provider="cloud").exists()

    answer = client.post("/numbers/add", {**CLOUD_FORM, "access_token": twin.token})
    assert answer.status_code == 302
    number = Number.objects.get(provider="cloud")
    assert number.status == Number.Status.CONNECTED
    page = client.get(answer.url).content.decode()
    assert f"/webhooks/cloud/{number.webhook_key}" in page
    assert "minha frase secreta" in page
    # Secrets are never shown again in full.
    assert twin.token not in page and CLOUD_FORM["app_secret"] not in page
    assert "••••" + twin.token[-4:] in page

    again = client.post("/numbers/add", {**CLOUD_FORM, "access_token": twin.token})
    assert again.status_code == 422
    assert b"already connected" in again.content


def test_secrets_are_encrypted_at_rest(live, settings):
    number, _ = paired(live)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT provider_token, webhook_secret FROM instances_number WHERE id = %s",
            [number.pk],
        )
        stored_token, stored_secret = cursor.fetchone()
    assert number.provider_token and stored_token != number.provider_token
    assert number.provider_token not in stored_token
    assert decrypt(stored_token) == number.provider_token
    assert decrypt(stored_secret) == number.webhook_secret

    # Rotation: a new key first, the old one after it, and old rows still read.
    settings.FIELD_ENCRYPTION_KEYS = ["a brand new key", *settings.FIELD_ENCRYPTION_KEYS]
    crypto.forget_keys()
    try:
        assert Number.objects.get(pk=number.pk).provider_token == number.provider_token
        settings.FIELD_ENCRYPTION_KEYS = ["a brand new key"]
        crypto.forget_keys()
        with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
            Number.objects.get(pk=number.pk)
    finally:
        crypto.forget_keys()


def test_a_refused_number_cools_down_and_the_gate_waits(org):
    number = org.number
    event = ConnectionUpdate(status="disconnected", reason="refused")
    apply_event(number, ParsedEvent(event=event, dedupe_key="connection:refused:1"))
    number.refresh_from_db()
    assert number.status == Number.Status.DISCONNECTED
    assert number.cooldown_until > timezone.now() + timedelta(minutes=25)
    # Even once it is connected again, the cooldown holds its sends.
    services.apply_connection(number, Number.Status.CONNECTED)
    contact = org.customer_writes("5511955554444").conversation.contact
    intent, _ = engine.create_intent(
        org.org, contact=contact, body="Oi", origin="api", idempotency_key="k", number=number
    )
    decision = intent.decisions.get()
    assert (decision.verdict, decision.reason_code) == (gate.DEFER, "number_cooldown")
    assert decision.defer_until == number.cooldown_until


def test_health_falls_with_failures_disconnects_and_blocks(org):
    number = org.number
    now = timezone.now()
    assert services.health_scores([number], now) == {number.pk: 100}
    contact = org.customer_writes("5511955554444").conversation.contact
    for n in range(4):
        intent, _ = engine.create_intent(
            org.org,
            contact=contact,
            body="Oi",
            origin="api",
            idempotency_key=f"k{n}",
            number=number,
        )
    jobs = list(ExecutionJob.objects.filter(number=number))
    ExecutionJob.objects.filter(pk__in=[j.pk for j in jobs[:2]]).update(status="failed")
    ExecutionJob.objects.filter(pk__in=[j.pk for j in jobs[2:]]).update(status="sent")
    apply_event(number, ParsedEvent(event=ConnectionUpdate("disconnected"), dedupe_key="c:1"))
    # 2 of 4 sends failed (−25), one disconnect (−10), no blocks.
    assert services.health_scores([number], now) == {number.pk: 65}
    number.refresh_from_db()
    assert number.health_score == 65
    # A logout is a person's decision, not instability.
    logout = ConnectionUpdate("disconnected", reason="logged_out")
    apply_event(number, ParsedEvent(event=logout, dedupe_key="c:2"))
    assert services.health_scores([number], now) == {number.pk: 65}


def test_only_owners_and_admins_manage_numbers(org, other_org):
    agent = org.member()
    client = org.client(agent)
    assert client.get("/numbers/add").status_code == 403
    assert client.post(f"/numbers/{org.number.pk}/actions/pause").status_code == 403
    page = client.get("/numbers/")
    assert page.status_code == 200 and b"Add number" not in page.content
    # Another organization's number does not exist for us.
    assert org.client().post(f"/numbers/{other_org.number.pk}/actions/pause").status_code == 404
    other_org.number.refresh_from_db()
    assert other_org.number.paused is False


def test_pause_and_resume_from_the_card(org):
    client = org.client()
    answer = client.post(f"/numbers/{org.number.pk}/actions/pause", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and b"Resume" in answer.content
    org.number.refresh_from_db()
    assert org.number.paused
    client.post(f"/numbers/{org.number.pk}/actions/resume")
    org.number.refresh_from_db()
    assert not org.number.paused
    assert client.post(f"/numbers/{org.number.pk}/actions/explode").status_code == 404


def test_the_api_lists_and_acts_on_numbers_without_secrets(live):
    number, twin = paired(live)
    headers = {"Authorization": f"Bearer {live.api_token()}"}
    client = live.client()
    listed = client.get("/api/numbers", headers=headers)
    assert listed.status_code == 200
    body = listed.content.decode()
    assert number.provider_token not in body and number.webhook_secret not in body
    assert {n["id"] for n in listed.json()} == {live.number.pk, number.pk}

    paused = client.post(f"/api/numbers/{number.pk}/pause", headers=headers)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    logged_out = client.post(f"/api/numbers/{number.pk}/logout", headers=headers)
    assert logged_out.json()["status"] == "disconnected"
    connect = client.post(f"/api/numbers/{number.pk}/connect", headers=headers)
    assert connect.json()["status"] == "connecting"
    assert connect.json()["qr_code"].startswith("sandbox:")

    assert client.post(f"/api/numbers/{number.pk}/explode", headers=headers).status_code == 422
    agent = {"Authorization": f"Bearer {live.api_token(live.member())}"}
    refused = client.post(f"/api/numbers/{number.pk}/remove", headers=agent)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    other = make_org()
    assert client.get(f"/api/numbers/{other.number.pk}", headers=headers).status_code == 404


def test_the_old_instances_page_redirects_to_numbers_for_good(client):
    response = client.get("/instances/")
    assert (response.status_code, response["Location"]) == (301, "/numbers/")
