from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from conversa.engine import jobs, queries, services
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.errors import InvalidTransition
from conversa.inbox.models import Message

S = ExecutionJob.Status


def test_reply_creates_intent_decision_job_and_pending_message(org):
    conversation = org.conversation()
    intent, created = services.reply(conversation, "Olá!", acting_member=org.owner)
    assert created
    assert intent.origin == MessageIntent.Origin.CHAT_MANUAL
    decision = GateDecision.objects.get(intent=intent)
    assert decision.verdict == GateDecision.Verdict.ALLOW
    job = intent.job
    assert job.status == S.PENDING
    assert job.message.status == Message.Status.PENDING
    assert job.message.body == "Olá!"
    verbs = [entry["verb"] for entry in queries.timeline(intent)]
    assert verbs == ["intent.created", "gate.allow"]


def test_same_idempotency_key_returns_the_first_intent(org):
    conversation = org.conversation()
    first, created = services.reply(conversation, "Olá!", "key-1", acting_member=org.owner)
    again, created_again = services.reply(conversation, "Olá!", "key-1", acting_member=org.owner)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert MessageIntent.objects.count() == 1
    assert ExecutionJob.objects.count() == 1
    assert Message.objects.filter(direction="out").count() == 1


def test_idempotency_key_is_a_database_constraint(org):
    """Invariant 1 holds even for code that bypasses the service."""
    contact = org.conversation().contact
    fields = dict(
        organization=org.org, contact=contact, origin="api", body="x", idempotency_key="k"
    )
    MessageIntent.objects.create(**fields)
    with pytest.raises(IntegrityError):
        MessageIntent.objects.create(**fields)


def test_same_key_in_two_organizations_is_two_intents(org, other_org):
    services.reply(org.conversation(), "a", "shared", acting_member=org.owner)
    _, created = services.reply(
        other_org.conversation(), "b", "shared", acting_member=other_org.owner
    )
    assert created


def test_blocked_contact_gets_no_job_and_the_message_shows_why(org):
    conversation = org.conversation()
    conversation.contact.blocked = True
    conversation.contact.save()
    intent, _ = services.reply(conversation, "Olá!", acting_member=org.owner)
    assert intent.status == MessageIntent.Status.BLOCKED
    assert not ExecutionJob.objects.exists()
    message = Message.objects.get(direction="out")
    assert message.status == Message.Status.FAILED
    assert message.error == "The contact is blocked"


def test_disconnected_number_defers_the_job(org):
    org.number.status = "disconnected"
    org.number.save()
    intent, _ = services.reply(org.conversation(), "Olá!", acting_member=org.owner)
    assert intent.status == MessageIntent.Status.DEFERRED
    assert intent.job.run_after > timezone.now()
    assert jobs.claim_batch("w1", 10) == []


def test_invalid_transition_is_refused(org):
    intent, _ = services.reply(org.conversation(), "Olá!", acting_member=org.owner)
    with pytest.raises(InvalidTransition):
        jobs.transition(intent.job, S.SENT)
    intent.job.refresh_from_db()
    assert intent.job.status == S.PENDING


def test_a_job_is_claimed_once(org):
    intent, _ = services.reply(org.conversation(), "Olá!", acting_member=org.owner)
    assert jobs.claim_batch("w1", 10) == [intent.job.id]
    assert jobs.claim_batch("w2", 10) == []
    intent.job.refresh_from_db()
    assert (intent.job.status, intent.job.worker_id) == (S.CLAIMED, "w1")


def test_only_the_claimer_executes(org):
    intent, _ = services.reply(org.conversation(), "Olá!", acting_member=org.owner)
    jobs.claim_batch("w1", 10)
    assert services.execute_job(intent.job.id, "w2") == S.CLAIMED


def test_a_claim_overtaken_by_an_earlier_reply_gives_way_at_the_send(org):
    """The first reply was deferred (the number's circuit breaker open, say) until a moment
    that passes between the second's claim and its send: the first goes first."""
    conversation = org.conversation()
    first, _ = services.reply(conversation, "primeira", acting_member=org.owner)
    second, _ = services.reply(conversation, "segunda", acting_member=org.owner)
    soon = timezone.now() + timedelta(minutes=5)
    ExecutionJob.objects.filter(intent=first).update(run_after=soon)
    assert jobs.claim_batch("w1", 10) == [second.job.id]  # the deferred one holds nothing up
    ExecutionJob.objects.filter(intent=first).update(run_after=timezone.now())  # its time came

    decided = GateDecision.objects.filter(intent=second).count()
    assert services.execute_job(second.job.id, "w1") == S.PENDING
    second.job.refresh_from_db()
    assert (second.job.worker_id, second.job.attempts) == ("", 0)
    assert GateDecision.objects.filter(intent=second).count() == decided  # given back, unasked
    assert jobs.claim_batch("w1", 10) == [first.job.id]  # the first, and it alone


def test_reaper_releases_expired_claims_and_marks_expired_sends_uncertain(org):
    first, _ = services.reply(org.conversation("5511900000001"), "a", acting_member=org.owner)
    second, _ = services.reply(org.conversation("5511900000002"), "b", acting_member=org.owner)
    jobs.claim_batch("w1", 10)
    jobs.transition(ExecutionJob.objects.get(intent=second), S.SENDING)
    later = timezone.now() + timedelta(hours=1)
    assert jobs.reap(later) == {"released": 1, "uncertain": 1}
    assert ExecutionJob.objects.get(intent=first).status == S.PENDING
    assert ExecutionJob.objects.get(intent=second).status == S.UNCERTAIN


def test_clean_stop_releases_unstarted_claims(org):
    intent, _ = services.reply(org.conversation(), "Olá!", acting_member=org.owner)
    claimed = jobs.claim_batch("w1", 10)
    assert jobs.release(claimed, "w1") == 1
    intent.job.refresh_from_db()
    assert intent.job.status == S.PENDING


def test_outgoing_messages_page_says_what_became_of_each_in_words(org, other_org):
    services.reply(org.conversation(), "Olá, mundo", acting_member=org.owner)
    services.reply(other_org.conversation(), "alheio", acting_member=other_org.owner)
    page = org.client().get("/intents/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Olá, mundo" in text
    assert "Waiting its turn to be sent" in text
    assert "Agent reply" in text and org.owner.display_name in text
    assert org.number.name in text  # the sending number's column
    assert "alheio" not in text


def test_contact_who_opts_out_after_the_intent_gets_no_automation(org):
    """Invariant 7 holds at send time too: the Gate decides again with fresh facts."""
    conversation = org.conversation()
    intent, _ = services.create_intent(
        org.org,
        contact=conversation.contact,
        body="Follow-up",
        origin=MessageIntent.Origin.AUTOMATION,
        idempotency_key="org:lead:stage:automation:1",
        conversation=conversation,
    )
    assert intent.job.status == S.PENDING
    type(conversation.contact).objects.filter(pk=conversation.contact.pk).update(opted_out=True)
    (job_id,) = jobs.claim_batch("w1", 10)
    assert services.execute_job(job_id, "w1") == S.FAILED
    assert intent.decisions.last().reason_code == "contact_opted_out"
    assert Message.objects.get(direction="out").status == Message.Status.FAILED
