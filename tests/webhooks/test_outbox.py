"""The outbox: a delivery per event per endpoint that wants it, written in the transaction of
the change; the worker's pass sends it signed, retries it, keeps one conversation in order."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from conversa.accounts.models import OperationalEvent, Organization
from conversa.crm import followups
from conversa.crm import services as crm
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.inbound import consequences as inbound
from conversa.inbox import states
from conversa.numbers import services as numbers
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from conversa.webhooks import outcome, sending, services
from conversa.webhooks.catalogue import BY_NAME
from conversa.webhooks.models import Attempt, Delivery, Endpoint
from conversa.webhooks.outbox import INTENT_EVENTS
from tests.crm import helpers as crm_helpers

pytestmark = pytest.mark.django_db
P = Delivery.Status


def send(n: int = 10) -> int:
    return sending.send_due("test-worker", n, concurrency=1)


def test_a_change_and_its_delivery_commit_together(org, endpoint_of):
    endpoint, _secret = endpoint_of(org)
    with pytest.raises(RuntimeError), transaction.atomic():
        org.customer_writes(text="rolled back")
        assert Delivery.objects.filter(endpoint=endpoint).count() == 1
        raise RuntimeError
    assert not Delivery.objects.exists()
    message = org.customer_writes(text="Oi, tudo bem?")
    delivery = Delivery.objects.get(endpoint=endpoint)
    payload = json.loads(delivery.body)
    assert payload["type"] == "message.received" and payload["id"] == delivery.event_id
    assert payload["data"]["message"]["id"] == message.pk
    assert payload["data"]["message"]["body"] == "Oi, tudo bem?"
    assert payload["version"] == 1 and payload["organization_id"] == org.org.pk
    assert delivery.conversation_id == message.conversation_id


def test_only_enabled_endpoints_that_want_the_event_get_a_delivery(org, other_org, endpoint_of):
    wants, _ = endpoint_of(org)
    endpoint_of(org, events=["message.status"])
    off, _ = endpoint_of(org)
    services.set_enabled(off, False, acting_member=org.owner)
    endpoint_of(other_org)
    org.customer_writes()
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [wants.pk]


def test_the_receiver_verifies_the_delivery_with_the_library(org, endpoint_of, receiver):
    endpoint, secret = endpoint_of(org)
    org.customer_writes(text="Olá")
    assert send() == 1
    got = receiver.received[0]
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["data"]["message"]["body"] == "Olá"
    delivery = Delivery.objects.get()
    assert got.headers["webhook-id"] == delivery.event_id
    assert delivery.status == P.DELIVERED and delivery.attempts == 1
    attempt = Attempt.objects.get()
    assert attempt.status_code == 200 and attempt.response == "ok"


def test_a_failure_is_retried_later_with_the_same_webhook_id(org, endpoint_of, receiver):
    endpoint_of(org)
    receiver.answers = [500]
    org.customer_writes()
    send()
    delivery = Delivery.objects.get()
    assert delivery.status == P.PENDING and delivery.last_status == 500
    assert delivery.next_attempt_at > timezone.now()
    assert send() == 0  # not due yet
    Delivery.objects.update(next_attempt_at=timezone.now())
    send()
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.event_id
    assert Delivery.objects.get().status == P.DELIVERED
    # The first KB of the refusal is kept, and no more.
    assert len(Attempt.objects.order_by("pk").first().response) == 1024


def test_backoff_grows_with_jitter_and_stops_at_a_day():
    assert timedelta(seconds=4) <= outcome.backoff(1) <= timedelta(seconds=6)
    assert timedelta(seconds=16) <= outcome.backoff(2) <= timedelta(seconds=24)
    assert outcome.backoff(30) <= timedelta(hours=24 * 1.2)
    assert outcome.backoff(1, retry_after=120) == timedelta(seconds=120)


def test_410_gone_disables_the_endpoint(org, endpoint_of, receiver):
    endpoint, _ = endpoint_of(org)
    receiver.answers = [410]
    org.customer_writes()
    send()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert Delivery.objects.get().status == P.FAILED
    org.customer_writes()
    assert Delivery.objects.count() == 1  # a disabled endpoint gets nothing new


def test_a_day_of_failures_disables_the_endpoint_and_emails_the_owners(
    org, endpoint_of, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_of(org)
    org.owner.user.email = "dona@example.com"
    org.owner.user.save()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=1, minutes=1)
    )
    receiver.answers = [503]
    org.customer_writes()
    with django_capture_on_commit_callbacks(execute=True):
        send()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason
    assert mailoutbox[0].to == ["dona@example.com"]
    assert endpoint.url in mailoutbox[0].body
    assert Delivery.objects.get().status == P.PENDING  # kept for when it is back on


def test_after_three_days_a_delivery_fails_for_good(org, endpoint_of, receiver):
    endpoint_of(org)
    receiver.answers = [500]
    org.customer_writes()
    Delivery.objects.update(retry_from=timezone.now() - timedelta(days=3, seconds=1))
    send()
    assert Delivery.objects.get().status == P.FAILED


def test_one_conversations_deliveries_go_out_in_order(org, endpoint_of, receiver):
    endpoint_of(org)
    first = org.customer_writes(text="um")
    org.customer_writes(text="dois")
    other = org.customer_writes(phone="5511999990009", text="outra conversa")
    receiver.answers = [500, 200]
    send()
    bodies = [json.loads(r.body)["data"]["message"]["body"] for r in receiver.received]
    # "dois" waits for "um"; the other conversation does not.
    assert bodies == ["um", "outra conversa"]
    Delivery.objects.update(next_attempt_at=timezone.now())
    send()
    send()
    bodies = [json.loads(r.body)["data"]["message"]["id"] for r in receiver.received]
    assert bodies[2] == first.pk and len(bodies) == 4
    assert other.conversation_id != first.conversation_id


def test_a_redirect_is_not_followed(org, endpoint_of, receiver):
    endpoint_of(org)
    receiver.answers = [302]
    org.customer_writes()
    send()
    delivery = Delivery.objects.get()
    assert delivery.status == P.PENDING and delivery.last_status == 302
    assert len(receiver.received) == 1


def test_private_addresses_are_refused_outside_development(org, settings, receiver):
    endpoint, _ = services.create_endpoint(
        acting_member=org.owner, url=receiver.url, events=["message.received"]
    )
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://10.0.0.1/"):
        with pytest.raises(services.Refused):
            services.update_endpoint(endpoint, acting_member=org.owner, url=url)
    org.customer_writes()
    send()
    # Checked again where the connection opens: the loopback receiver is not called.
    assert not receiver.received
    assert "private" in Delivery.objects.get().last_error


def test_a_claim_is_taken_once(org, endpoint_of):
    endpoint_of(org)
    org.customer_writes()
    assert len(sending.claim_due("a", 10)) == 1
    assert sending.claim_due("b", 10) == []
    Delivery.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert len(sending.claim_due("b", 10)) == 1


def test_a_delivery_whose_endpoint_went_since_the_claim_is_dropped(org, endpoint_of, receiver):
    endpoint, _ = endpoint_of(org)
    org.customer_writes()
    [claimed] = sending.claim_due("w", 10)
    services.delete_endpoint(endpoint, acting_member=org.owner)
    sending.attempt(claimed, "w")
    assert not receiver.received and not Delivery.objects.exists()


class Rollback(Exception):
    pass


def sent(event_type: str) -> list[dict]:
    rows = Delivery.objects.filter(event_type=event_type).order_by("pk")
    return [json.loads(d.body)["data"] for d in rows]


def written_with(change, event_type: str) -> list[dict]:
    """Run the service `change` twice: rolled back, its `event_type` deliveries are rolled
    back with it (written in its transaction); committed, they stay. Their payloads' data,
    each checked against the catalogue example's keys."""
    with pytest.raises(Rollback), transaction.atomic():
        change()
        assert sent(event_type), f"no {event_type} inside the change's transaction"
        raise Rollback
    assert not sent(event_type)
    change()
    found = sent(event_type)
    example = BY_NAME[event_type].example
    for data in found:
        assert data.keys() == example.keys()
        [(name, body)] = data.items()
        assert body.keys() == example[name].keys(), event_type
    return found


def wants(org, endpoint_of, *names):
    endpoint_of(org, events=list(names))


def test_conversation_created_by_a_customer_one_at_a_time_and_in_a_batch(org, endpoint_of):
    wants(org, endpoint_of, "conversation.created")
    [data] = written_with(lambda: org.customer_writes("5511999990021"), "conversation.created")
    conversation = org.conversation("5511999990021")
    assert data["conversation"]["id"] == conversation.pk
    assert data["conversation"]["contact"]["phone"] == conversation.contact.phone
    org.customer_writes("5511999990021")  # the same conversation: nothing new
    assert len(sent("conversation.created")) == 1

    def batch():
        inbound.receive_messages(
            [
                (
                    org.number,
                    InboundMessage(
                        provider_message_id=simulator.new_message_id(),
                        phone=phone,
                        name="B",
                        kind="text",
                        body="Oi",
                    ),
                )
                for phone in ("5511999990022", "5511999990023")
            ]
        )

    Delivery.objects.all().delete()
    found = written_with(batch, "conversation.created")
    assert [d["conversation"]["contact"]["phone"] for d in found] == [
        "5511999990022",
        "5511999990023",
    ]


def test_conversation_resolved(org, endpoint_of):
    conversation = org.conversation()
    wants(org, endpoint_of, "conversation.resolved", "conversation.reopened")
    [data] = written_with(
        lambda: states.resolve(conversation, acting_member=org.owner), "conversation.resolved"
    )
    assert data["conversation"]["id"] == conversation.pk
    assert data["conversation"]["status"] == "resolved"
    assert not sent("conversation.reopened")


def test_conversation_reopened_by_a_person_or_by_the_customer(org, endpoint_of):
    conversation = org.conversation()
    states.resolve(conversation, acting_member=org.owner)
    wants(org, endpoint_of, "conversation.reopened")
    [data] = written_with(
        lambda: states.reopen(conversation, acting_member=org.owner), "conversation.reopened"
    )
    assert data["conversation"] == {**data["conversation"], "id": conversation.pk, "status": "open"}
    states.resolve(conversation, acting_member=org.owner)
    Delivery.objects.all().delete()
    [data] = written_with(lambda: org.customer_writes(), "conversation.reopened")
    assert data["conversation"]["id"] == conversation.pk
    # A pending conversation woken is no reopening.
    states.mark_pending(conversation, acting_member=org.owner)
    states.reopen(conversation, acting_member=org.owner)
    assert len(sent("conversation.reopened")) == 1


def test_contact_created(org, endpoint_of):
    wants(org, endpoint_of, "contact.created")
    [data] = written_with(lambda: org.customer_writes("5511999990031"), "contact.created")
    contact = org.contact("5511999990031")
    assert data["contact"] == {
        "id": contact.pk,
        "phone": contact.phone,
        "name": contact.name,
        "opted_out": False,
    }
    org.customer_writes("5511999990031")
    assert len(sent("contact.created")) == 1


def test_contact_opted_out(org, endpoint_of):
    contact = org.conversation().contact
    wants(org, endpoint_of, "contact.opted_out", "contact.opted_in")
    [data] = written_with(
        lambda: followups.set_opted_out(contact, True, acting_member=org.owner),
        "contact.opted_out",
    )
    assert data["contact"]["id"] == contact.pk and data["contact"]["opted_out"] is True
    followups.set_opted_out(contact, True, acting_member=org.owner)  # no change: no event
    assert len(sent("contact.opted_out")) == 1 and not sent("contact.opted_in")


def test_contact_opted_in(org, endpoint_of):
    contact = org.conversation().contact
    followups.set_opted_out(contact, True, acting_member=org.owner)
    wants(org, endpoint_of, "contact.opted_out", "contact.opted_in")
    [data] = written_with(
        lambda: followups.set_opted_out(contact, False, acting_member=org.owner),
        "contact.opted_in",
    )
    assert data["contact"]["id"] == contact.pk and data["contact"]["opted_out"] is False
    assert not sent("contact.opted_out")


def test_lead_created(org, endpoint_of):
    pipeline = crm_helpers.pipeline(org)
    contact = org.conversation().contact
    first = crm_helpers.stage(pipeline, "Novo")
    wants(org, endpoint_of, "lead.created", "lead.stage_changed")
    [data] = written_with(
        lambda: crm.create_lead(contact, first, "Plano anual", acting_member=org.owner, value=10),
        "lead.created",
    )
    assert data["lead"]["stage"] == {"id": first.pk, "name": "Novo"}
    assert data["lead"]["contact_id"] == contact.pk and data["lead"]["title"] == "Plano anual"
    assert not sent("lead.stage_changed")


def test_lead_stage_changed(org, endpoint_of):
    pipeline = crm_helpers.pipeline(org)
    lead = crm_helpers.lead(org, pipeline)
    proposal = crm_helpers.stage(pipeline, "Proposta")
    wants(org, endpoint_of, "lead.created", "lead.stage_changed")
    [data] = written_with(
        lambda: crm.move_lead(lead, proposal, acting_member=org.owner), "lead.stage_changed"
    )
    novo = crm_helpers.stage(pipeline, "Novo")
    assert data["lead"]["id"] == lead.pk
    assert data["lead"]["stage"] == {"id": proposal.pk, "name": "Proposta"}
    assert data["lead"]["from_stage"] == {"id": novo.pk, "name": "Novo"}
    crm.move_lead(lead, proposal, acting_member=org.owner)  # already there: nothing
    crm.update_lead(lead, acting_member=org.owner, title="Outro")  # no stage change
    assert len(sent("lead.stage_changed")) == 1 and not sent("lead.created")


def test_number_status_changed(org, endpoint_of):
    wants(org, endpoint_of, "number.status_changed")
    disconnect = lambda: numbers.apply_connection(  # noqa: E731
        org.number, Number.Status.DISCONNECTED, reason="logged_out"
    )
    [data] = written_with(disconnect, "number.status_changed")
    assert data["number"] == {
        "id": org.number.pk,
        "name": org.number.name,
        "phone_number": org.number.phone_number,
        "status": "disconnected",
        "reason": "logged_out",
    }
    disconnect()  # the same status again: no change
    numbers.apply_qr(org.number, "qr-1")
    numbers.apply_qr(org.number, "qr-2")  # a new QR, still connecting
    statuses = [d["number"]["status"] for d in sent("number.status_changed")]
    assert statuses == ["disconnected", "connecting"]


def test_intent_decided_fires_once_per_decision(org, endpoint_of):
    conversation = org.conversation()
    wants(org, endpoint_of, *sorted(INTENT_EVENTS))
    [data] = written_with(
        lambda: engine.reply(conversation, "Olá", acting_member=org.owner), "intent.decided"
    )
    intent = MessageIntent.objects.get(pk=data["intent"]["id"])
    assert data["intent"]["status"] == intent.status
    deferred = MessageIntent.Status.DEFERRED
    engine.set_intents_status([intent], deferred)
    engine.set_intents_status([intent], deferred)  # deferred again: no new decision
    decided = [d["intent"]["status"] for d in sent("intent.decided")]
    assert decided == [data["intent"]["status"], "deferred"]
    engine.set_intents_status([intent], MessageIntent.Status.FAILED)
    assert len(sent("intent.failed")) == 1 and len(sent("intent.decided")) == 2


def test_erasing_a_contact_empties_the_deliveries_about_them(org, endpoint_of):
    from conversa.campaigns import privacy

    endpoint_of(org, events=["message.received", "contact.opted_out"])
    theirs = org.customer_writes(phone="5511999990001", text="Meu CPF é 123.456.789-00")
    contact = theirs.conversation.contact
    followups.set_opted_out(contact, True, acting_member=org.owner)
    other = org.customer_writes(phone="5511999990002", text="Oi")
    assert Delivery.objects.filter(contact_id=contact.pk).count() == 2
    privacy.erase(contact, acting_member=org.owner, confirmation="ERASE")
    for delivery in Delivery.objects.filter(contact_id=contact.pk):
        assert "123.456.789" not in delivery.body and "5511999990001" not in delivery.body
        payload = json.loads(delivery.body)
        assert payload["data"] == {"contact_id": contact.pk, "erased": True}
        assert payload["id"] == delivery.event_id  # still the same event, without who
    kept = json.loads(Delivery.objects.get(contact_id=other.conversation.contact_id).body)
    assert kept["data"]["message"]["body"] == "Oi"


def test_retention_empties_the_settled_deliveries_of_that_age_and_their_answers(org, endpoint_of):
    from conversa.engine import retention

    endpoint_of(org, events=["message.received"])
    texts = ["Meu CPF é 123.456.789-00", "Ainda tentando", "Recente"]
    for n, text in enumerate(texts):
        org.customer_writes(phone=f"551199999000{n}", text=text)
    old, retried, recent = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk__in=[old.pk, retried.pk]).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    Delivery.objects.filter(pk__in=[old.pk, recent.pk]).update(status=Delivery.Status.DELIVERED)
    Attempt.objects.create(
        organization=org.org, delivery=old, status_code=200, response='{"echo": "123.456.789"}'
    )
    Organization.objects.filter(pk=org.org.pk).update(retention_days=30)

    retention.apply()

    old.refresh_from_db()
    payload = json.loads(old.body)
    assert payload["data"] == {"removed": True, "reason": "retention"}
    assert payload["id"] == old.event_id and old.emptied_at is not None
    assert Attempt.objects.get(delivery=old).response == ""
    for kept, text in ((retried, texts[1]), (recent, texts[2])):  # being retried; too young
        assert json.loads(Delivery.objects.get(pk=kept.pk).body)["data"]["message"]["body"] == text
    [entry] = OperationalEvent.objects.filter(organization=org.org, verb="retention.applied")
    assert entry.data["webhook_deliveries_emptied"] == 1
    retention.apply()  # nothing left to empty: nothing recorded
    assert OperationalEvent.objects.filter(verb="retention.applied").count() == 1


def test_a_campaigns_start_pause_resume_and_cancel_are_events(org, endpoint_of):
    from conversa.campaigns import sending
    from tests.campaigns.test_campaigns import campaign_for, person, tagged

    names = ["campaign.started", "campaign.paused", "campaign.resumed", "campaign.cancelled"]
    endpoint_of(org, events=names)
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    campaign = campaign_for(org, tag, pace_per_minute=1)
    sending.start(campaign, acting_member=org.owner)
    sending.pause(campaign, acting_member=org.owner)
    sending.resume(campaign, acting_member=org.owner)
    sending.cancel(campaign, acting_member=org.owner)
    bodies = [json.loads(b) for b in Delivery.objects.order_by("pk").values_list("body", flat=True)]
    assert [b["type"] for b in bodies] == names
    assert [b["data"]["campaign"]["status"] for b in bodies] == [
        "running",
        "paused",
        "running",
        "cancelled",
    ]
    assert bodies[0]["data"]["campaign"]["number_ids"] == [org.number.pk]
    assert all(d is None for d in Delivery.objects.values_list("conversation_id", flat=True))
