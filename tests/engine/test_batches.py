"""The worker's batches (one Gate pass, one SENDING commit, one settle for many jobs) and the
Gate's choice of a number for an intent that names none."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import Organization
from conversa.bulk import set_column
from conversa.engine import gate, jobs, queries, services
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.worker import Worker
from conversa.errors import InvalidTransition
from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, Message
from conversa.numbers.models import Number
from conversa.providers.base import SendResult
from conversa.sandbox.models import SandboxMessage
from tests.conftest import make_org

S = ExecutionJob.Status
Verdict = GateDecision.Verdict
NOW = datetime(2026, 11, 24, 12, 20, tzinfo=UTC)  # 09:20 in São Paulo


def replies(org, count: int) -> list[MessageIntent]:
    """`count` operator replies to as many contacts (so none waits on another)."""
    return [
        services.reply(
            org.conversation(f"55119000010{n:02d}"), f"reply {n}", acting_member=org.owner
        )[0]
        for n in range(count)
    ]


def test_transition_many_refuses_an_illegal_move_before_writing_anything(org):
    batch = [intent.job for intent in replies(org, 2)]
    jobs.transition(batch[1], S.CLAIMED, worker_id="w1")
    with pytest.raises(InvalidTransition):
        jobs.transition_many(batch, S.SENDING)  # the first is still PENDING
    assert sorted(ExecutionJob.objects.values_list("status", flat=True)) == [S.CLAIMED, S.PENDING]


def test_transition_many_leaves_out_a_job_someone_else_moved_first(org):
    batch = [intent.job for intent in replies(org, 3)]
    jobs.claim_batch("w1", 10)
    for job in batch:
        job.refresh_from_db()
    # The reaper gives the second claim back while the worker still holds its stale copy.
    ExecutionJob.objects.filter(pk=batch[1].pk).update(status=S.PENDING, worker_id="")
    moved = jobs.transition_many(batch, S.SENDING)
    assert [job.pk for job in moved] == [batch[0].pk, batch[2].pk]
    assert batch[1].status == S.CLAIMED  # its object was not touched
    assert ExecutionJob.objects.get(pk=batch[1].pk).status == S.PENDING


def test_one_batch_does_not_overshoot_the_hourly_quota(org):
    org.number.hourly_quota = 3
    org.number.save(update_fields=["hourly_quota"])
    intents = replies(org, 5)
    decisions = gate.evaluate_many([(i, org.number.pk) for i in intents], NOW)
    assert [d.verdict for d in decisions] == [Verdict.ALLOW] * 3 + [Verdict.DEFER] * 2
    assert decisions[-1].reason_code == "hourly_quota"


def test_a_claimed_batch_is_decided_and_settled_together(org, monkeypatch):
    """Five claimed jobs, one of them for a contact who blocked us meanwhile: four go out."""
    sent = []

    class Provider:
        def send_text(self, number, phone, body, reference):
            sent.append(reference)
            return SendResult(provider_message_id=f"PID-{reference}")

    monkeypatch.setattr(services, "get_provider", lambda number: Provider())
    intents = replies(org, 5)
    Contact.objects.filter(pk=intents[2].contact_id).update(blocked=True)
    claimed = jobs.claim_batch("w1", 10)
    assert len(claimed) == 5
    statuses = services.execute_jobs(claimed, "w1")
    assert sorted(statuses.values()) == [S.FAILED] + [S.SENT] * 4
    assert len(sent) == 4
    for intent in intents:
        job = ExecutionJob.objects.select_related("message").get(intent=intent)
        if intent == intents[2]:
            assert job.message.status == Message.Status.FAILED
            continue
        assert job.provider_message_id == f"PID-{job.reference}"
        assert job.message.provider_message_id == job.provider_message_id
        assert job.message.status == Message.Status.SENT
        verbs = [entry["verb"] for entry in queries.timeline(intent)]
        assert verbs[-2:] == ["gate.allow", "job.sent"]


def test_set_column_gives_each_row_its_own_value(org):
    intents = replies(org, 3)
    messages = [intent.job.message for intent in intents]
    values = {message.pk: f"3EB0{n}" for n, message in enumerate(messages)}
    assert set_column(Message, "provider_message_id", values) == 3
    stored = dict(Message.objects.filter(pk__in=values).values_list("pk", "provider_message_id"))
    assert stored == values


def test_an_intent_without_a_number_goes_out_on_a_connected_one(org):
    Number.objects.filter(pk=org.number.pk).update(status="disconnected")
    connected = Number.objects.create(
        organization=org.org, name="New number", provider="sandbox", status="connected"
    )
    contact = inbox.upsert_contact(org.org, "5511977776666")
    intent, _ = services.create_intent(
        org.org, contact=contact, body="Olá", origin="api", idempotency_key="any-1"
    )
    decision = intent.decisions.get()
    assert decision.verdict == Verdict.ALLOW
    assert decision.number == connected  # connected first, though the older one has a lower id
    assert intent.number is None  # the intent still says "any number"
    assert intent.job.number == connected
    assert intent.conversation.number == connected
    assert intent.conversation.contact == contact


def test_an_organization_without_numbers_has_its_intent_blocked(db):
    org = Organization.objects.create(name="No numbers", slug="no-numbers")
    contact = inbox.upsert_contact(org, "5511977776666")
    intent, created = services.create_intent(
        org, contact=contact, body="Olá", origin="api", idempotency_key="none-1"
    )
    assert created and intent.status == MessageIntent.Status.BLOCKED
    decision = intent.decisions.get()
    assert (decision.reason_code, decision.number) == ("no_number", None)
    assert not ExecutionJob.objects.exists()
    assert not Message.objects.exists()


def test_when_no_number_can_send_the_intent_waits_on_the_first_to_free_up(org):
    cooling = timezone.now() + timedelta(minutes=10)
    Number.objects.filter(pk=org.number.pk).update(cooldown_until=cooling)
    down = Number.objects.create(
        organization=org.org, name="Down", provider="sandbox", status="disconnected"
    )
    contact = inbox.upsert_contact(org.org, "5511977776666")
    # The assistant's send (the API's and automations' wait on the refused number: below).
    intent, _ = services.create_intent(
        org.org, contact=contact, body="Olá", origin="assistant", idempotency_key="wait-1"
    )
    decision = intent.decisions.get()
    # A disconnected number is looked at again in 30 s, before the cooldown ends.
    assert (decision.verdict, decision.reason_code) == (Verdict.DEFER, "number_not_connected")
    assert decision.number == down
    assert intent.job.number == down


def test_another_organizations_number_is_never_chosen(org, other_org):
    Number.objects.filter(pk=org.number.pk).update(status="disconnected")
    contact = inbox.upsert_contact(org.org, "5511977776666")
    intent, _ = services.create_intent(
        org.org, contact=contact, body="Olá", origin="api", idempotency_key="mine-1"
    )
    assert intent.decisions.get().number == org.number


@pytest.fixture
def wired(delivered_webhooks):
    # Its delivery webhooks drained before the database is emptied: one still in flight met
    # the flush and deadlocked it.
    return make_org(webhook_base=delivered_webhooks)


def test_a_worker_sends_a_batch_over_http_with_several_calls_in_flight(wired):
    org = wired
    intents = replies(org, 8)
    worker = Worker(batch_size=8, concurrency=4)
    try:
        assert worker.run_once() == 8
    finally:
        worker.close()
    assert set(ExecutionJob.objects.values_list("status", flat=True)) == {S.SENT}
    references = sorted(SandboxMessage.objects.values_list("reference", flat=True))
    assert references == sorted(intent.job.reference for intent in intents)


def test_automated_and_api_sends_wait_on_a_refused_number_instead_of_moving(org):
    """No evasion (issue 18): WhatsApp refused the first number (it cools down); a send the
    API or an automation asked for with no number waits for it, never moves to the second.
    A person's own send may go out on the other."""
    until = timezone.now() + timedelta(minutes=10)
    Number.objects.filter(pk=org.number.pk).update(cooldown_until=until)
    other = Number.objects.create(
        organization=org.org, name="Second", provider="sandbox", status="connected"
    )
    assert other.pk > org.number.pk  # the refused one comes first among connected numbers
    contact = inbox.upsert_contact(org.org, "5511977776666")
    for origin in ("api", "automation"):
        intent, _ = services.create_intent(
            org.org, contact=contact, body="Olá", origin=origin, idempotency_key=f"ev-{origin}"
        )
        decision = intent.decisions.get()
        assert (decision.verdict, decision.reason_code) == (Verdict.DEFER, "number_cooldown")
        assert decision.number == org.number and intent.job.number == org.number
        assert intent.job.run_after == until
    assistant, _ = services.create_intent(
        org.org, contact=contact, body="Olá", origin="assistant", idempotency_key="ev-assistant"
    )
    assert assistant.decisions.get().number == other
