"""The outbox: a delivery row per event per endpoint that wants it, written by the publisher's
subscriber (conversa.realtime.publisher.subscribers) inside the transaction that made the
change. The change and its deliveries commit together or not at all (invariant 12).

The realtime events carry ids only; here each becomes the catalogue's events, with the fields a
receiver needs read from the rows as the transaction sees them."""

import json
import uuid
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from conversa.assistant.models import AssistantSession
from conversa.bulk import fetch
from conversa.campaigns.models import Campaign
from conversa.crm.models import Lead, StageChange
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.realtime import events, publisher
from conversa.webhooks.catalogue import VERSION
from conversa.webhooks.models import Attempt, Delivery, Endpoint

# (type, data, conversation id or None, contact id or None) for each catalogue event a realtime
# event stands for: the conversation keeps deliveries in order, the contact is whom the data is
# about (erasing them empties it).
Fact = tuple[str, dict, int | None, int | None]


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def body(org_id: int, event_id: str, event_type: str, data: dict) -> str:
    envelope = {
        "id": event_id,
        "type": event_type,
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
        "version": VERSION,
        "organization_id": org_id,
        "data": data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def erase_contact(org_id: int, contact_id: int) -> int:
    """Empty the bodies of the deliveries about a contact being erased: each keeps its envelope
    (event id, type, time), its data replaced by the contact's id and `erased`, so a delivery
    still pending or replayed tells the receiver what happened without who. How many."""
    rows = Delivery.objects.filter(organization_id=org_id, contact_id=contact_id)
    return empty(rows, {"contact_id": contact_id, "erased": True})


def empty(rows, data: dict, batch: int = 500) -> int:
    """Replace the data of each delivery in `rows` by `data`, its envelope kept, and
    its attempts' answers (the receiver may have echoed it) by nothing; marked emptied. In
    batches, so memory stays flat whatever their number. How many."""
    done = 0
    now = timezone.now()
    while chunk := list(rows.filter(emptied_at__isnull=True).only("pk", "body")[:batch]):
        for delivery in chunk:
            envelope = json.loads(delivery.body)
            envelope["data"] = data
            delivery.body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
            delivery.emptied_at = now
        Delivery.objects.bulk_update(chunk, ["body", "emptied_at"])
        Attempt.objects.filter(delivery__in=chunk).exclude(response="").update(response="")
        done += len(chunk)
    return done


def on_event(org_id: int, event: events.Event) -> None:
    """The publisher's subscriber: nothing to do (one indexed query) unless the organization
    has an enabled endpoint that wants one of the events `event` stands for."""
    endpoints = publisher.remembered(
        ("webhook_endpoints", org_id), lambda: enabled_endpoints(org_id)
    )
    if not endpoints:
        return
    wanted = {name for _pk, names in endpoints for name in names}
    enqueue(org_id, [f for f in facts(org_id, event, wanted) if f[0] in wanted], endpoints)


def enabled_endpoints(org_id: int) -> list[tuple[int, list[str]]]:
    """(id, event types) of the organization's enabled endpoints. A statement written out:
    every batch of webhooks asks, and the ORM took longer to build it than to run it."""
    table = connection.ops.quote_name(Endpoint._meta.db_table)
    types = Endpoint._meta.get_field("event_types")
    rows = fetch(
        f"SELECT id, event_types FROM {table} WHERE organization_id = %s AND enabled",  # noqa: S608
        [org_id],
    )
    return [(pk, types.from_db_value(value, None, connection)) for pk, value in rows]


def enqueue(org_id: int, found: list[Fact], endpoints: list[tuple[int, list[str]]]) -> int:
    rows = []
    for event_type, data, conversation_id, contact_id in found:
        event_id = new_event_id()
        text = body(org_id, event_id, event_type, data)
        rows.extend(
            Delivery(
                organization_id=org_id,
                endpoint_id=pk,
                event_id=event_id,
                event_type=event_type,
                body=text,
                conversation_id=conversation_id,
                contact_id=contact_id,
            )
            for pk, names in endpoints
            if event_type in names
        )
    Delivery.objects.bulk_create(rows)
    return len(rows)


def facts(org_id: int, event: events.Event, wanted: set[str]) -> Iterator[Fact]:
    if isinstance(event, events.MessageReceived | events.MessageSent):
        name = "message.received" if isinstance(event, events.MessageReceived) else "message.sent"
        if name in wanted:
            yield from message_facts(org_id, name, event.message_ids)
    elif isinstance(event, events.MessageStatusUpdated) and "message.status" in wanted:
        yield from message_facts(org_id, "message.status", event.message_ids)
    elif isinstance(event, events.MessageChanged) and "message.updated" in wanted:
        yield from message_facts(org_id, "message.updated", event.message_ids, changes=True)
    elif isinstance(event, events.ConversationAssigned) and "conversation.assigned" in wanted:
        rows = Conversation.objects.filter(organization_id=org_id, pk__in=event.conversation_ids)
        for c in rows.order_by("pk"):
            data = {"id": c.pk, "status": c.status, "assignee_id": c.assignee_id}
            data["queue_id"] = c.queue_id
            yield "conversation.assigned", {"conversation": data}, c.pk, c.contact_id
    elif type(event) in CHANGED and event.change:
        subject, ids_field, facts_of = CHANGED[type(event)]
        name = f"{subject}.{event.change}"
        if name in wanted:
            yield from facts_of(org_id, name, getattr(event, ids_field))
    elif isinstance(event, events.IntentUpdated) and wanted & INTENT_EVENTS:
        yield from intent_facts(org_id, event.intent_ids, decided=event.change == "decided")


def conversation_facts(org_id: int, name: str, ids: list[int]) -> Iterator[Fact]:
    rows = Conversation.objects.filter(organization_id=org_id, pk__in=ids)
    if name == "conversation.created":
        rows = rows.select_related("contact")
    handoffs = {}
    if name == "conversation.handed_off":
        # Why the assistant handed them over (in the organization's words, as the note says).
        handoffs = dict(
            AssistantSession.objects.filter(conversation_id__in=ids).values_list(
                "conversation_id", "reason"
            )
        )
    for c in rows.order_by("pk"):
        data = {
            "id": c.pk,
            "status": c.status,
            "contact_id": c.contact_id,
            "number_id": c.number_id,
            "queue_id": c.queue_id,
            "assignee_id": c.assignee_id,
        }
        if name == "conversation.handed_off":
            data["reason"] = handoffs.get(c.pk, "")
        if name == "conversation.created":
            # Who wrote, so a receiver can match the person in its own systems.
            data["contact"] = {"id": c.contact_id, "phone": c.contact.phone, "name": c.contact.name}
            data["created_at"] = c.created_at
        yield name, {"conversation": data}, c.pk, c.contact_id


def contact_facts(org_id: int, name: str, ids: list[int]) -> Iterator[Fact]:
    rows = Contact.objects.filter(organization_id=org_id, pk__in=ids)
    for c in rows.order_by("pk"):
        data = {"id": c.pk, "phone": c.phone, "name": c.name, "opted_out": c.opted_out}
        yield name, {"contact": data}, None, c.pk


def stage(stage_id: int | None, names: dict[int, str]) -> dict | None:
    return None if stage_id is None else {"id": stage_id, "name": names.get(stage_id, "")}


def lead_facts(org_id: int, name: str, ids: list[int]) -> Iterator[Fact]:
    rows = list(
        Lead.objects.filter(organization_id=org_id, pk__in=ids)
        .select_related("stage")
        .order_by("pk")
    )
    # The stage each lead left: its latest stage change's (one query for the batch).
    left: dict[int, int | None] = {}
    names = {lead.stage_id: lead.stage.name for lead in rows}
    if name == "lead.stage_changed":
        for lead_id, from_id, from_name in (
            StageChange.objects.filter(lead_id__in=[lead.pk for lead in rows])
            .order_by("lead_id", "pk")
            .values_list("lead_id", "from_stage_id", "from_stage__name")
        ):
            left[lead_id] = from_id
            if from_id is not None:
                names[from_id] = from_name
    for lead in rows:
        data = {
            "id": lead.pk,
            "pipeline_id": lead.pipeline_id,
            "stage": stage(lead.stage_id, names),
            "contact_id": lead.contact_id,
            "title": lead.title,
            "value": lead.value,
            "owner_id": lead.owner_id,
        }
        if name == "lead.stage_changed":
            data["from_stage"] = stage(left.get(lead.pk), names)
        yield name, {"lead": data}, None, lead.contact_id


def number_facts(org_id: int, name: str, ids: list[int]) -> Iterator[Fact]:
    rows = Number.objects.filter(organization_id=org_id, pk__in=ids)
    for n in rows.order_by("pk"):
        data = {
            "id": n.pk,
            "name": n.name,
            "phone_number": n.phone_number,
            "status": n.status,
            "reason": n.connection_reason,
        }
        yield name, {"number": data}, None, None


def campaign_facts(org_id: int, name: str, ids: list[int]) -> Iterator[Fact]:
    rows = Campaign.objects.filter(organization_id=org_id, pk__in=ids).prefetch_related("numbers")
    for c in rows.order_by("pk"):
        data = {
            "id": c.pk,
            "name": c.name,
            "status": c.status,
            "number_ids": sorted(n.pk for n in c.numbers.all()),
            "started_at": c.started_at,
            "finished_at": c.finished_at,
        }
        yield name, {"campaign": data}, None, None


def message_data(m: Message, changes: bool) -> dict:
    data = {
        "id": m.pk,
        "conversation_id": m.conversation_id,
        "contact": {
            "id": m.conversation.contact_id,
            "phone": m.conversation.contact.phone,
            "name": m.conversation.contact.name,
        },
        "number_id": m.number_id,
        "direction": m.direction,
        "kind": m.kind,
        "body": "" if m.deleted_at else m.body,
        "status": m.status,
        "provider_message_id": m.provider_message_id,
        "created_at": m.created_at,
    }
    if changes:
        data |= {"edited": bool(m.edited_at), "revoked": bool(m.deleted_at)}
        data["reactions"] = m.reactions
    return data


def message_facts(org_id: int, name: str, ids: list[int], changes: bool = False):
    rows = Message.objects.filter(organization_id=org_id, pk__in=ids).select_related(
        "conversation__contact"
    )
    for m in rows.order_by("pk"):
        yield (
            name,
            {"message": message_data(m, changes)},
            m.conversation_id,
            m.conversation.contact_id,
        )


INTENT_EVENTS = {"intent.decided", "intent.sent", "intent.failed", "intent.uncertain"}
S = MessageIntent.Status


def intent_event(status: str, job_status: str | None) -> str:
    if job_status == ExecutionJob.Status.UNCERTAIN:
        return "intent.uncertain"
    return {S.SENT: "intent.sent", S.FAILED: "intent.failed"}.get(status, "intent.decided")


def intent_facts(org_id: int, ids: list[int], *, decided: bool):
    rows = MessageIntent.objects.filter(organization_id=org_id, pk__in=ids).select_related("job")
    for intent in rows.order_by("pk"):
        job = getattr(intent, "job", None)
        name = intent_event(intent.status, job.status if job else None)
        if name == "intent.decided" and not decided:
            # Announced again without a new decision (a job claimed, deferred once more).
            continue
        data = {
            "id": intent.pk,
            "status": "uncertain" if name == "intent.uncertain" else intent.status,
            "origin": intent.origin,
            "contact_id": intent.contact_id,
            "conversation_id": intent.conversation_id,
            "message_id": job.message_id if job else None,
            "idempotency_key": intent.idempotency_key,
        }
        yield name, {"intent": data}, intent.conversation_id, intent.contact_id


# A realtime event whose `change` word names a catalogue event: the catalogue's subject, the
# event's ids and what reads their facts ("conversation" + "resolved": conversation.resolved).
CHANGED = {
    events.ConversationUpdated: ("conversation", "conversation_ids", conversation_facts),
    events.ContactUpdated: ("contact", "contact_ids", contact_facts),
    events.LeadUpdated: ("lead", "lead_ids", lead_facts),
    events.NumberUpdated: ("number", "number_ids", number_facts),
    events.CampaignUpdated: ("campaign", "campaign_ids", campaign_facts),
}
