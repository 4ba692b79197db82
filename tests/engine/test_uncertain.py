"""UNCERTAIN sends: made when a send may have happened, settled only by the provider's word
or a person's decision, never by a blind resend."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from conversa.engine import jobs, services
from conversa.engine.models import ExecutionJob
from conversa.engine.worker import Worker
from conversa.errors import InvalidTransition
from conversa.inbox.models import Message
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxMessage
from tests.conftest import make_org, wait_for

S = ExecutionJob.Status


@pytest.fixture
def wired(live_server, settings, transactional_db):
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/evolution"
    settings.SANDBOX_DELIVERY_DELAY = 0.05
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    settings.SANDBOX_HANG_SECONDS = 1.5
    yield make_org(webhook_base=live_server.url)
    # Let injected hangs finish inside the live server before the database goes away.
    time.sleep(settings.SANDBOX_HANG_SECONDS)


def later():
    return timezone.now() + timedelta(seconds=settings.ECHO_GRACE_SECONDS + 1)


def test_accepted_then_hung_send_is_uncertain_then_reconciled_once(wired):
    org = wired
    simulator.set_faults(org.twin, hang_rate=1.0)
    intent, _ = services.reply(org.conversation(), "Olá", acting_member=org.owner)
    Worker().run_once()
    job = ExecutionJob.objects.get(intent=intent)
    assert job.status == S.UNCERTAIN
    # The hang accepts first; on a cold or loaded server that can come after our timeout.
    wait_for(lambda: SandboxMessage.objects.filter(reference=job.reference).exists())
    assert SandboxMessage.objects.filter(reference=job.reference).count() == 1
    simulator.set_faults(org.twin, hang_rate=0.0)
    counts = services.reconcile_uncertain(now=later())
    assert counts["echo"] + counts["lookup"] == 1
    job.refresh_from_db()
    assert job.status == S.SENT
    assert job.provider_message_id == SandboxMessage.objects.get(reference=job.reference).message_id
    Worker().run_once()
    assert org.twin.messages.filter(from_me=True).count() == 1


def test_timed_out_send_that_never_arrived_is_sent_once_after_the_provider_says_so(wired):
    org = wired
    simulator.set_faults(org.twin, timeout_rate=1.0)
    intent, _ = services.reply(org.conversation(), "Olá", acting_member=org.owner)
    Worker().run_once()
    job = ExecutionJob.objects.get(intent=intent)
    assert job.status == S.UNCERTAIN
    simulator.set_faults(org.twin, timeout_rate=0.0)
    assert services.reconcile_uncertain(now=timezone.now())["requeued"] == 0  # echo grace
    assert services.reconcile_uncertain(now=later())["requeued"] == 1
    Worker().run_once()
    job.refresh_from_db()
    assert job.status == S.SENT
    assert org.twin.messages.filter(from_me=True).count() == 1


def test_failing_provider_is_retried_and_never_uncertain(wired):
    org = wired
    simulator.set_faults(org.twin, failure_rate=1.0)
    intent, _ = services.reply(org.conversation(), "Olá", acting_member=org.owner)
    Worker().run_once()
    job = ExecutionJob.objects.get(intent=intent)
    assert job.status == S.RETRY_WAIT
    assert "503" in job.last_error
    assert not org.twin.messages.filter(from_me=True).exists()


def test_a_person_resends_or_marks_failed(org):
    first, _ = services.reply(org.conversation("5511900000001"), "a", acting_member=org.owner)
    second, _ = services.reply(org.conversation("5511900000002"), "b", acting_member=org.owner)
    for intent in (first, second):
        ExecutionJob.objects.filter(intent=intent).update(status=S.UNCERTAIN)
    services.resolve_uncertain(
        ExecutionJob.objects.get(intent=first), "resend", acting_member=org.owner
    )
    services.resolve_uncertain(
        ExecutionJob.objects.get(intent=second), "mark_failed", acting_member=org.owner
    )
    assert ExecutionJob.objects.get(intent=first).status == S.PENDING
    assert ExecutionJob.objects.get(intent=second).status == S.FAILED
    assert Message.objects.get(body="b").status == Message.Status.FAILED


def test_cancel_only_before_sending(org):
    intent, _ = services.reply(org.conversation(), "a", acting_member=org.owner)
    services.cancel(intent, acting_member=org.owner)
    assert ExecutionJob.objects.get(intent=intent).status == S.FAILED
    other, _ = services.reply(org.conversation(), "b", acting_member=org.owner)
    jobs.claim_batch("w1", 10)
    with pytest.raises(InvalidTransition):
        services.cancel(other, acting_member=org.owner)


def test_a_contacts_second_message_waits_for_the_first(org):
    conversation = org.conversation("5511900000001")
    first, _ = services.reply(conversation, "1", acting_member=org.owner)
    second, _ = services.reply(conversation, "2", acting_member=org.owner)
    someone_else, _ = services.reply(
        org.conversation("5511900000002"), "x", acting_member=org.owner
    )
    claimed = jobs.claim_batch("w1", 10)
    assert claimed == [first.job.id, someone_else.job.id]
    assert jobs.claim_batch("w2", 10) == []
    job = ExecutionJob.objects.get(intent=first)
    jobs.transition(job, S.SENDING)
    jobs.transition(job, S.RETRY_WAIT, run_after=timezone.now() - timedelta(seconds=1))
    # The retry goes first; the second message still waits behind it.
    assert jobs.claim_batch("w2", 10) == [first.job.id]


def test_repeated_failures_open_the_circuit_breaker_and_a_success_closes_it(wired):
    from conversa.numbers.models import Number

    org = wired
    simulator.set_faults(org.twin, failure_rate=1.0)
    for n in range(5):
        services.reply(org.conversation(f"551190000000{n}"), "x", acting_member=org.owner)
    Worker(batch_size=10).run_once()
    number = Number.objects.get(pk=org.number.pk)
    assert number.breaker_state == "open"
    intent, _ = services.reply(org.conversation("5511900000009"), "y", acting_member=org.owner)
    assert intent.latest_decision.reason_code == "circuit_open"
    assert intent.job.run_after == number.breaker_open_until
    simulator.set_faults(org.twin, failure_rate=0.0)
    Number.objects.filter(pk=number.pk).update(breaker_open_until=timezone.now())
    ExecutionJob.objects.update(run_after=timezone.now())
    Worker(batch_size=10).run_once()
    number.refresh_from_db()
    assert number.breaker_state == "closed"
    assert number.breaker_failures == 0
