"""A number whose webhooks are not arriving says so on its card, does not claim full health,
and its webhook can be registered again from there (owners and admins, POST with CSRF)."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob
from conversa.inbound import services as inbound
from conversa.inbox.models import Message
from conversa.numbers import services, webhooks
from conversa.numbers.models import Number
from conversa.providers.base import ParsedEvent, StatusUpdate
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance
from tests.conftest import make_org, post_webhook, wait_for

OLD_URL = "http://127.0.0.1:8000/webhooks/sandbox/"


@pytest.fixture
def live(delivered_webhooks):
    return make_org(webhook_base=delivered_webhooks)


def moved_away(org) -> str:
    """Registered (at the provider, and as the number remembers) on a port not served now."""
    number, old = org.number, f"{OLD_URL}{org.number.webhook_key}"
    SandboxInstance.objects.filter(pk=org.twin.pk).update(webhook_url=old)
    Number.objects.filter(pk=number.pk).update(webhook_url=old)
    number.webhook_url = old
    return old


def problem_on_card(client: Client, number: Number) -> str:
    page = client.get("/numbers/").content.decode()
    card = page.split(f'data-number="{number.pk}"', 1)[1].split("</article>", 1)[0]
    if "webhook-problem" not in card:
        return ""
    return card.split('data-problem="', 1)[1].split('"', 1)[0]


def sent_job(org, minutes_ago: float) -> ExecutionJob:
    contact = org.customer_writes("5511955554444").conversation.contact
    intent, _ = engine.create_intent(
        org.org,
        contact=contact,
        body="Oi",
        origin="api",
        idempotency_key=f"sent-{minutes_ago}",
        number=org.number,
    )
    at = timezone.now() - timedelta(minutes=minutes_ago)
    ExecutionJob.objects.filter(intent=intent).update(status="sent", updated_at=at)
    return ExecutionJob.objects.get(intent=intent)


def test_a_webhook_registered_elsewhere_shows_and_re_registering_fixes_it(live):
    number = live.number
    moved_away(live)
    owner = live.client()
    assert problem_on_card(owner, number) == webhooks.URL_CHANGED
    assert services.health_scores([number], timezone.now()) == {number.pk: 40}
    page = owner.get("/numbers/").content.decode()
    assert "Messages are not arriving" in page and "Re-register webhook" in page
    assert "100/100" not in page

    # An agent may not; a GET does nothing; a POST without the CSRF token is refused.
    agent = live.client(live.member())
    assert agent.post(f"/numbers/{number.pk}/actions/webhook").status_code == 403
    assert owner.get(f"/numbers/{number.pk}/actions/webhook").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(live.owner.user)
    assert strict.post(f"/numbers/{number.pk}/actions/webhook").status_code == 403
    assert SandboxInstance.objects.get(pk=live.twin.pk).webhook_url.startswith(OLD_URL)

    answer = owner.post(f"/numbers/{number.pk}/actions/webhook")
    assert answer.status_code == 200
    expected = webhooks.webhook_url(number)
    assert SandboxInstance.objects.get(pk=live.twin.pk).webhook_url == expected
    number.refresh_from_db()
    assert number.webhook_url == expected
    assert problem_on_card(owner, number) == ""
    assert services.health_scores([number], timezone.now()) == {number.pk: 100}

    # And the customer's messages arrive again.
    simulator.customer_says(live.twin, "5511933332222", "Voltou?", "Rita")
    wait_for(lambda: Message.objects.filter(number=number, body="Voltou?").exists(), "inbound")


def test_the_pairing_page_asks_the_provider_where_the_webhook_points(live):
    number = live.number
    simulator.set_webhook(
        SandboxInstance.objects.get(pk=live.twin.pk),
        {"enabled": True, "url": "http://elsewhere.invalid/hook", "headers": {}},
    )
    assert get_provider(number).registered_webhook(number) == "http://elsewhere.invalid/hook"
    owner = live.client()
    assert owner.get(f"/numbers/{number.pk}/pairing").status_code == 200
    number.refresh_from_db()
    assert number.webhook_url == "http://elsewhere.invalid/hook"
    assert problem_on_card(owner, number) == webhooks.URL_CHANGED


def test_sends_with_no_webhook_back_show_silence(org, settings):
    settings.WEBHOOK_SILENCE_MINUTES = 10
    number = org.number
    # The last webhook came an hour ago; then a send 30 minutes ago got nothing back, not
    # even a "sent" status.
    sent_job(org, minutes_ago=30)
    heard_last(number, timezone.now() - timedelta(hours=1))
    assert webhooks.webhook_problems([number], timezone.now()) == {number.pk: webhooks.SILENT}
    owner = org.client()
    assert problem_on_card(owner, number) == webhooks.SILENT
    assert (
        "nothing came back from the provider for 10 minutes"
        in owner.get("/numbers/").content.decode()
    )
    number.refresh_from_db()
    assert number.health_score <= 40


def test_a_recent_send_or_a_webhook_after_it_is_not_silence(org, settings):
    settings.WEBHOOK_SILENCE_MINUTES = 10
    number = org.number
    sent_job(org, minutes_ago=2)
    assert webhooks.webhook_problems([number], timezone.now()) == {number.pk: ""}
    sent = sent_job(org, minutes_ago=30)
    heard_last(number, sent.updated_at - timedelta(minutes=5))
    assert webhooks.webhook_problems([number], timezone.now()) == {number.pk: webhooks.SILENT}
    # A webhook came after that send (a status about a message we do not know, even): they
    # arrive, and the card reads it from the number.
    status = {"event": "messages.update", "data": {"keyId": "X1", "fromMe": True, "status": "READ"}}
    assert post_webhook(Client(), number, status).status_code == 200
    number.refresh_from_db()
    assert number.last_webhook_at > sent.updated_at
    with CaptureQueriesContext(connection) as read:
        assert webhooks.webhook_problems([number], timezone.now()) == {number.pk: ""}
    assert len(read.captured_queries) == 1
    # Within the resolution a webhook may have gone unwritten: not taken for silence.
    heard_last(number, sent.updated_at - webhooks.HEARD_RESOLUTION / 2)
    assert webhooks.webhook_problems([number], timezone.now()) == {number.pk: ""}


def test_a_number_remembers_its_last_webhook_at_most_every_few_seconds(org):
    number = org.number
    status = {"event": "messages.update", "data": {"keyId": "X1", "fromMe": True, "status": "READ"}}
    before = timezone.now()
    assert post_webhook(Client(), number, status).status_code == 200
    first = Number.objects.get(pk=number.pk).last_webhook_at
    assert first >= before
    # Again at once (a duplicate, too, is a webhook that arrived): not written again.
    assert post_webhook(Client(), number, status).json()["duplicates"] == 1
    assert Number.objects.get(pk=number.pk).last_webhook_at == first
    # Once the resolution has passed since what the number holds, written again.
    Number.objects.filter(pk=number.pk).update(last_webhook_at=first - timedelta(minutes=1))
    inbound.apply_events(
        [(Number.objects.get(pk=number.pk), ParsedEvent(StatusUpdate("X2", "read"), "x2"))]
    )
    assert Number.objects.get(pk=number.pk).last_webhook_at > first


def heard_last(number: Number, at) -> None:
    Number.objects.filter(pk=number.pk).update(last_webhook_at=at)
    number.last_webhook_at = at


def test_a_cloud_number_is_pointed_to_meta_not_re_registered(org):
    number = org.number
    Number.objects.filter(pk=number.pk).update(provider="cloud")
    sent_job(org, minutes_ago=30)
    heard_last(number, timezone.now() - timedelta(hours=1))
    owner = org.client()
    page = owner.get("/numbers/").content.decode()
    assert "Check the webhook in Meta" in page and "Re-register webhook" not in page
    answer = owner.post(f"/numbers/{number.pk}/actions/webhook")
    assert answer.status_code == 422
    assert "Meta app dashboard" in answer.content.decode()


def test_the_api_tells_and_re_registers(live):
    number = live.number
    moved_away(live)
    headers = {"Authorization": f"Bearer {live.api_token()}"}
    client = Client()
    [listed] = client.get("/api/numbers", headers=headers).json()
    assert (listed["webhook_problem"], listed["connection_reason"]) == ("url_changed", "")
    agent = {"Authorization": f"Bearer {live.api_token(live.member())}"}
    assert client.post(f"/api/numbers/{number.pk}/webhook", headers=agent).status_code == 403
    fixed = client.post(f"/api/numbers/{number.pk}/webhook", headers=headers)
    assert fixed.status_code == 200
    assert SandboxInstance.objects.get(pk=live.twin.pk).webhook_url == fixed.json()["webhook_url"]
    assert client.get(f"/api/numbers/{number.pk}", headers=headers).json()["webhook_problem"] == ""


def test_the_migration_takes_each_numbers_last_webhook_from_those_stored(org, other_org):
    migration = importlib.import_module("conversa.numbers.migrations.0008_number_last_webhook")
    now = timezone.now()
    for n, minutes_ago in enumerate((90, 30, 60)):
        ProviderEvent.objects.create(
            organization=org.org,
            number=org.number,
            kind="StatusUpdate",
            dedupe_key=f"s{n}",
            event={},
            payload={},
            received_at=now - timedelta(minutes=minutes_ago),
        )
    Number.objects.update(last_webhook_at=None)
    migration.from_stored_webhooks(apps, None)
    assert Number.objects.get(pk=org.number.pk).last_webhook_at == now - timedelta(minutes=30)
    assert Number.objects.get(pk=other_org.number.pk).last_webhook_at is None
