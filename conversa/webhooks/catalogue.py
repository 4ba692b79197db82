"""The events an endpoint can ask for: one typed list, each with what it means and an example
of its payload (the settings page, the API's OpenAPI and the docs read it from here).

Every payload has the same envelope (Standard Webhooks' `type`, `timestamp` and `data`, plus
our `id`, which is also the `webhook-id` header, and a `version` of the payload's shape):

    {"id": "evt_…", "type": "message.received", "timestamp": "…Z", "version": 1,
     "organization_id": 7, "data": {…}}
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

VERSION = 1

MESSAGE = {
    "id": 8812,
    "conversation_id": 311,
    "contact": {"id": 97, "phone": "+5511999990001", "name": "Ana Souza"},
    "number_id": 2,
    "direction": "in",
    "kind": "text",
    "body": "Olá, o pedido 1234 já saiu?",
    "status": "received",
    "provider_message_id": "3EB0C767D82B3A",
    "created_at": "2026-12-06T12:00:00Z",
}
INTENT = {
    "id": 5120,
    "status": "sent",
    "origin": "automation",
    "contact_id": 97,
    "conversation_id": 311,
    "message_id": 8813,
    "idempotency_key": "7:lead:12:stage:3:automation:4:step:1",
}

CONVERSATION = {
    "id": 311,
    "status": "open",
    "contact_id": 97,
    "number_id": 2,
    "queue_id": 3,
    "assignee_id": 14,
}
CONTACT = {"id": 97, "phone": "+5511999990001", "name": "Ana Souza", "opted_out": False}
LEAD = {
    "id": 12,
    "pipeline_id": 1,
    "stage": {"id": 3, "name": "Proposal"},
    "contact_id": 97,
    "title": "Pedido 1234",
    "value": "1500.00",
    "owner_id": 14,
}
CAMPAIGN = {
    "id": 4,
    "name": "Promoção de maio",
    "status": "running",
    "number_ids": [2],
    "started_at": "2026-12-06T12:00:00Z",
    "finished_at": None,
}


@dataclass(frozen=True)
class EventType:
    name: str
    description: object  # a lazy translation
    example: dict
    # Events of one conversation are delivered in order, one at a time.
    per_conversation: bool = True


CATALOGUE: list[EventType] = [
    EventType("message.received", _("A customer's message arrived."), {"message": MESSAGE}),
    EventType(
        "message.sent",
        _("A message to a customer was queued to send."),
        {"message": {**MESSAGE, "direction": "out", "status": "pending", "body": "Saiu hoje!"}},
    ),
    EventType(
        "message.status",
        _("A sent message was delivered, read or failed."),
        {"message": {**MESSAGE, "direction": "out", "status": "read"}},
    ),
    EventType(
        "message.updated",
        _("A message was edited, revoked or reacted to."),
        {"message": {**MESSAGE, "edited": True, "revoked": False, "reactions": {"+5511": "👍"}}},
    ),
    EventType(
        "conversation.assigned",
        _("A conversation was assigned, transferred or released."),
        {"conversation": {"id": 311, "status": "open", "assignee_id": 14, "queue_id": 3}},
    ),
    EventType(
        "conversation.created",
        _("A new conversation started."),
        {
            "conversation": {
                **CONVERSATION,
                "assignee_id": None,
                "contact": {"id": 97, "phone": "+5511999990001", "name": "Ana Souza"},
                "created_at": "2026-12-06T12:00:00Z",
            }
        },
    ),
    EventType(
        "conversation.resolved",
        _("A conversation was resolved."),
        {"conversation": {**CONVERSATION, "status": "resolved"}},
    ),
    EventType(
        "conversation.reopened",
        _("A resolved conversation was reopened."),
        {"conversation": CONVERSATION},
    ),
    EventType(
        "conversation.handed_off",
        _("The assistant handed a conversation to the team."),
        {"conversation": {**CONVERSATION, "reason": "The customer asked for a person."}},
    ),
    EventType(
        "contact.created",
        _("A new contact was added."),
        {"contact": CONTACT},
        per_conversation=False,
    ),
    EventType(
        "contact.opted_out",
        _("A contact opted out of automated and campaign messages."),
        {"contact": {**CONTACT, "opted_out": True}},
        per_conversation=False,
    ),
    EventType(
        "contact.opted_in",
        _("A contact opted back in to automated and campaign messages."),
        {"contact": CONTACT},
        per_conversation=False,
    ),
    EventType(
        "lead.created",
        _("A new lead was added to a pipeline."),
        {"lead": LEAD},
        per_conversation=False,
    ),
    EventType(
        "lead.stage_changed",
        _("A lead moved to another stage."),
        {"lead": {**LEAD, "from_stage": {"id": 2, "name": "Qualified"}}},
        per_conversation=False,
    ),
    EventType(
        "number.status_changed",
        _("A number connected, disconnected, started pairing or was removed."),
        {
            "number": {
                "id": 2,
                "name": "Vendas",
                "phone_number": "5511988887777",
                "status": "disconnected",
                "reason": "logged_out",
            }
        },
        per_conversation=False,
    ),
    EventType(
        "campaign.started",
        _("A campaign started sending."),
        {"campaign": CAMPAIGN},
        per_conversation=False,
    ),
    EventType(
        "campaign.paused",
        _("A campaign was paused."),
        {"campaign": {**CAMPAIGN, "status": "paused"}},
        per_conversation=False,
    ),
    EventType(
        "campaign.resumed",
        _("A paused campaign sends again."),
        {"campaign": CAMPAIGN},
        per_conversation=False,
    ),
    EventType(
        "campaign.cancelled",
        _("A campaign was cancelled: what it had not sent, it never will."),
        {"campaign": {**CAMPAIGN, "status": "cancelled", "finished_at": "2026-12-06T15:00:00Z"}},
        per_conversation=False,
    ),
    EventType(
        "campaign.finished",
        _("A campaign sent everything it had to send."),
        {"campaign": {**CAMPAIGN, "status": "finished", "finished_at": "2026-12-06T15:00:00Z"}},
        per_conversation=False,
    ),
    EventType(
        "intent.decided",
        _("The sending rules allowed, delayed or blocked a message."),
        {"intent": {**INTENT, "status": "queued"}},
    ),
    EventType("intent.sent", _("A message left through its number."), {"intent": INTENT}),
    EventType(
        "intent.failed",
        _("A message could not be sent."),
        {"intent": {**INTENT, "status": "failed", "message_id": None}},
    ),
    EventType(
        "intent.uncertain",
        _("Whether a message was sent is unknown; a person decides."),
        {"intent": {**INTENT, "status": "uncertain"}},
    ),
]

BY_NAME: dict[str, EventType] = {event.name: event for event in CATALOGUE}
# Sent by "Send test event" only; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"


def example_payload(event: EventType) -> dict:
    """The whole body a receiver gets for `event`, for the docs and the OpenAPI."""
    return {
        "id": "evt_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "type": event.name,
        "timestamp": "2026-12-06T12:00:00.000000Z",
        "version": VERSION,
        "organization_id": 7,
        "data": event.example,
    }
