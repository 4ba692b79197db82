"""`create_intents`: many requests to send in one transaction and a few statements, with the
same outcome for each as `create_intent` alone."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversa.accounts.models import OperationalEvent
from conversa.engine import services, wakeup
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.services import IntentSpec
from conversa.inbox.models import Contact, Message

S = ExecutionJob.Status
Origin = MessageIntent.Origin


def spec(contact: Contact, key: str, **extra) -> IntentSpec:
    return IntentSpec(
        contact=contact, body=f"Olá {key}", origin=Origin.API, idempotency_key=key, **extra
    )


def scheduled_specs(org, n: int, prefix: str) -> list[IntentSpec]:
    contact = org.conversation().contact
    later = timezone.now() + timedelta(days=1)
    return [spec(contact, f"{prefix}-{i}", number=org.number, not_before=later) for i in range(n)]


def test_a_repeated_key_is_reported_not_created_with_the_existing_intent(org):
    conversation = org.conversation()
    earlier, _ = services.reply(conversation, "antes", "taken", acting_member=org.owner)
    results = services.create_intents(
        org.org,
        [
            spec(conversation.contact, "new", conversation=conversation),
            spec(conversation.contact, "taken", conversation=conversation),
            spec(conversation.contact, "new", conversation=conversation),
        ],
    )
    (first, made_first), (taken, made_taken), (again, made_again) = results
    assert (made_first, made_taken, made_again) == (True, False, False)
    assert taken.pk == earlier.pk and taken.body == "antes"
    assert again.pk == first.pk, "a key twice in one batch is one intent"
    assert MessageIntent.objects.filter(organization=org.org).count() == 2
    assert ExecutionJob.objects.count() == 2
    assert Message.objects.filter(direction="out").count() == 2


def test_each_intent_of_a_batch_ends_as_it_would_alone(org):
    conversation = org.conversation()
    blocked = org.conversation("5511999990002").contact
    Contact.objects.filter(pk=blocked.pk).update(blocked=True)
    due = timezone.now() + timedelta(hours=2)
    [(now, _), (later, _), (refused, _)] = services.create_intents(
        org.org,
        [
            spec(conversation.contact, "now", conversation=conversation),
            spec(conversation.contact, "later", number=org.number, not_before=due),
            spec(blocked, "refused", number=org.number),
        ],
    )
    assert now.status == MessageIntent.Status.QUEUED
    assert now.job.status == S.PENDING and now.job.message.status == Message.Status.PENDING
    assert later.status == MessageIntent.Status.SCHEDULED
    assert later.job.run_after == due
    assert later.job.message is None and later.conversation is None, "nothing shown before due"
    assert refused.status == MessageIntent.Status.BLOCKED
    assert not ExecutionJob.objects.filter(intent=refused).exists()
    message = Message.objects.get(direction="out", conversation__contact=blocked)
    assert (message.status, message.error) == (Message.Status.FAILED, "The contact is blocked")
    for intent in (now, later, refused):
        intent.refresh_from_db()
        verbs = OperationalEvent.objects.filter(object_type="messageintent", object_id=intent.pk)
        assert list(verbs.values_list("verb", flat=True))[:1] == ["intent.created"]
        assert intent.decisions.count() == 1


def test_a_batch_takes_nothing_from_a_quota_as_separate_calls_would_not(org):
    """The Gate counts sends, not jobs waiting: two intents made together against an hourly
    quota of one are both allowed, as two calls would be; the worker's Gate holds the second."""
    org.number.hourly_quota = 1
    org.number.save(update_fields=["hourly_quota"])
    conversation = org.conversation()
    results = services.create_intents(
        org.org,
        [spec(conversation.contact, f"q-{i}", conversation=conversation) for i in range(2)],
    )
    verdicts = [intent.decisions.get().verdict for intent, _ in results]
    assert verdicts == [GateDecision.Verdict.ALLOW] * 2


def test_many_intents_take_as_many_statements_as_a_few(org):
    few_specs, many_specs = scheduled_specs(org, 3, "few"), scheduled_specs(org, 30, "many")
    with CaptureQueriesContext(connection) as few:
        services.create_intents(org.org, few_specs)
    with CaptureQueriesContext(connection) as many:
        services.create_intents(org.org, many_specs)
    assert len(many) == len(few)
    assert MessageIntent.objects.filter(status=MessageIntent.Status.SCHEDULED).count() == 33


def test_the_workers_are_woken_once_per_batch_after_commit(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.create_intents(org.org, scheduled_specs(org, 5, "wake"))
    assert [c for c in callbacks if c is wakeup.notify] == [wakeup.notify]


def test_a_batch_of_repeats_asks_the_gate_nothing(org):
    specs = scheduled_specs(org, 3, "again")
    services.create_intents(org.org, specs)
    decisions = GateDecision.objects.count()
    results = services.create_intents(org.org, specs)
    assert [created for _, created in results] == [False] * 3
    assert GateDecision.objects.count() == decisions
