"""A campaign's intents in bulk (`engine.queue_intents`) and the JSON-parameter writes under
them (`bulk.insert_rows`, `bulk.among`)."""

from datetime import timedelta

from django.utils import timezone

from conversa.bulk import among, insert_rows
from conversa.engine import queries, services
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, Message

Origin = MessageIntent.Origin
Status = MessageIntent.Status
Verdict = GateDecision.Verdict


def queued(org, contact, key: str, **extra) -> services.Queued:
    return services.Queued(
        organization_id=org.org.pk,
        contact_id=contact.pk,
        number_id=org.number.pk,
        body=f"Olá {contact.phone}",
        template=None,
        idempotency_key=key,
        origin=Origin.AUTOMATION,
        **extra,
    )


def test_insert_rows_keeps_each_value_and_returns_ids_in_order(org):
    contacts = [inbox.upsert_contact(org.org, f"55119888800{n:02d}") for n in range(3)]
    at = timezone.now().replace(microsecond=123456)
    shared = {"kind": "shared", "nested": [1, 2]}
    rows = [
        {
            "organization_id": org.org.pk,
            "contact_id": contact.pk,
            "origin": Origin.API,
            "body": f"body {n} — “quoted” \\ é",
            "template": shared if n < 2 else {"kind": "own"},
            "idempotency_key": f"rows-{n}",
            "not_before": at if n == 1 else None,
            "status": Status.QUEUED,
            "created_at": at,
            "correlation_id": "",
            "trace_parent": "",
        }
        for n, contact in enumerate(contacts)
    ]
    ids = [pk for (pk,) in insert_rows(MessageIntent, rows)]
    stored = MessageIntent.objects.in_bulk(ids)
    for pk, row in zip(ids, rows, strict=True):
        intent = stored[pk]
        assert intent.idempotency_key == row["idempotency_key"]
        assert intent.body == row["body"]
        assert intent.template == row["template"]
        assert intent.not_before == row["not_before"]
        assert intent.created_at == at
    again = insert_rows(MessageIntent, rows[:2], unique=["organization", "idempotency_key"])
    assert again == []


def test_among_filters_by_thousands_of_ids_in_one_parameter(org):
    contacts = [inbox.upsert_contact(org.org, f"55119777700{n:02d}") for n in range(3)]
    wanted = [contacts[0].pk, contacts[2].pk, 10**9]
    found = Contact.objects.filter(pk__in=among(wanted)).values_list("pk", flat=True)
    assert sorted(found) == [contacts[0].pk, contacts[2].pk]


def test_queued_intents_are_decided_and_jobbed_but_show_nothing_until_sent(org):
    ok = inbox.upsert_contact(org.org, "5511966660001")
    blocked = inbox.upsert_contact(org.org, "5511966660002")
    Contact.objects.filter(pk=blocked.pk).update(blocked=True)
    due = timezone.now() + timedelta(hours=2)
    created = services.queue_intents(
        org.org,
        [
            queued(org, ok, "q-now"),
            queued(org, ok, "q-later", not_before=due),
            queued(org, blocked, "q-blocked"),
        ],
    )
    assert set(created) == {"q-now", "q-later", "q-blocked"}
    now, later, refused = (MessageIntent.objects.get(pk=created[k]) for k in created)
    assert now.status == Status.QUEUED and now.job.status == ExecutionJob.Status.PENDING
    assert later.status == Status.SCHEDULED and later.job.run_after == due
    assert refused.status == Status.BLOCKED
    assert not ExecutionJob.objects.filter(intent=refused).exists()
    for intent in (now, later, refused):
        decision = intent.decisions.get()
        assert decision.facts["contact_blocked"] == (intent == refused)
        verbs = [entry["verb"] for entry in queries.timeline(intent)]
        assert verbs[0] == "intent.created" and verbs[1].startswith("gate.")
    assert refused.decisions.get().verdict == Verdict.BLOCK
    assert not Message.objects.filter(direction="out").exists(), "nothing shown before sending"
    assert now.conversation is None and now.job.message is None


def test_a_key_already_held_is_left_out_and_made_once(org):
    contact = inbox.upsert_contact(org.org, "5511955550001")
    first = services.queue_intents(org.org, [queued(org, contact, "once")])
    assert services.queue_intents(org.org, [queued(org, contact, "once")]) == {}
    assert MessageIntent.objects.filter(idempotency_key="once").count() == 1
    assert GateDecision.objects.filter(intent_id=first["once"]).count() == 1
    assert ExecutionJob.objects.filter(intent_id=first["once"]).count() == 1


def test_queued_intents_get_their_conversations_and_messages_as_they_start_sending(org):
    people = [inbox.upsert_contact(org.org, f"55119444400{n:02d}") for n in range(3)]
    created = services.queue_intents(
        org.org, [queued(org, person, f"sends-{person.pk}") for person in people]
    )
    jobs = list(
        ExecutionJob.objects.select_related("intent", "number", "contact")
        .filter(intent_id__in=created.values())
        .order_by("id")
    )
    services.add_messages(jobs)
    for job, person in zip(jobs, people, strict=True):
        job.refresh_from_db()
        intent = job.intent
        intent.refresh_from_db()
        assert intent.conversation.contact == person
        assert job.message.body == f"Olá {person.phone}"
        assert job.message.conversation == intent.conversation
        assert job.message.status == Message.Status.PENDING
