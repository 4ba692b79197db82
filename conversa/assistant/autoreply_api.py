"""`/api/assistant/auto-replies`: when the assistant answers customers on its own, per number or
queue (owners and admins); `/api/conversations/{id}/assistant`: whether it answers in one
conversation, and a person stopping it or turning it back on."""

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.responses import Status

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404
from conversa.assistant import auto_reply_rules, autoreply, services
from conversa.assistant.models import (
    MAX_AUTO_REPLY_WAIT_SECONDS,
    AssistantSession,
    AutoReply,
    Persona,
)
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit
from conversa.inbox.access import conversation_for
from conversa.inbox.models import Queue
from conversa.numbers.models import Number

router = Router(tags=["assistant"])


class AutoReplyIn(Schema):
    """One rule, for a number or a queue (exactly one): set, or changed if it has one."""

    number_id: Id | None = None
    queue_id: Id | None = None
    persona_id: Id
    # always, outside_hours, nobody_online or first_message.
    when: AutoReply.When = AutoReply.When.ALWAYS
    # How long a customer's further quick messages are waited for, to answer them together.
    wait_seconds: int = Field(8, ge=0, le=MAX_AUTO_REPLY_WAIT_SECONDS)
    # Read the customer's mood before each answer (one more model call) and hand an unhappy
    # customer to a person.
    handoff_when_unhappy: bool = True
    enabled: bool = True


class AutoReplyOut(Schema):
    id: int
    number_id: int | None
    queue_id: int | None
    persona_id: int
    when: str
    wait_seconds: int
    handoff_when_unhappy: bool
    enabled: bool
    updated_at: datetime


class SessionOut(Schema):
    # none (it never answered here), active, handed_off or taken_over.
    state: str
    # Why it handed over or stopped, in words.
    reason: str
    turns: int
    # When its next answer is due, if the customer is waiting for one.
    due_at: datetime | None
    # Whether a rule of the conversation's number or queue lets it answer (resume needs one).
    available: bool


def rule_out(rule: AutoReply) -> dict:
    return {
        "id": rule.pk,
        "number_id": rule.number_id,
        "queue_id": rule.queue_id,
        "persona_id": rule.persona_id,
        "when": rule.when,
        "wait_seconds": rule.wait_seconds,
        "handoff_when_unhappy": rule.handoff_when_unhappy,
        "enabled": rule.enabled,
        "updated_at": rule.updated_at,
    }


@router.get("/assistant/auto-replies", response=list[AutoReplyOut])
def list_auto_replies(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Every rule of the organization, oldest first, a page at a time."""
    services.must_administer(request.member)
    everything = AutoReply.objects.for_org(request.org)
    rules = cursors.page(everything, order=["pk"], cursor=cursor, limit=limit, response=response)
    return [rule_out(rule) for rule in rules]


@router.put("/assistant/auto-replies", response=AutoReplyOut)
def put_auto_reply(request: HttpRequest, payload: AutoReplyIn):
    """Set when the assistant answers on a number or in a queue; audited. 422 unless exactly
    one of `number_id` and `queue_id` is given; 404 for another organization's."""
    org = request.org
    services.must_administer(request.member)
    rule = auto_reply_rules.save_auto_reply(
        org,
        acting_member=request.member,
        persona=get_for_org_or_404(org, Persona, pk=payload.persona_id),
        number=get_for_org_or_404(org, Number, pk=payload.number_id) if payload.number_id else None,
        queue=get_for_org_or_404(org, Queue, pk=payload.queue_id) if payload.queue_id else None,
        when=payload.when,
        wait_seconds=payload.wait_seconds,
        handoff_when_unhappy=payload.handoff_when_unhappy,
        enabled=payload.enabled,
    )
    return rule_out(rule)


@router.delete("/assistant/auto-replies/{rule_id}", response={204: None})
def delete_auto_reply(request: HttpRequest, rule_id: Id):
    """The assistant no longer answers on that number or in that queue."""
    services.must_administer(request.member)
    rule = get_for_org_or_404(request.org, AutoReply, pk=rule_id)
    auto_reply_rules.delete_auto_reply(rule, acting_member=request.member)
    return Status(204, None)


def session_out(conversation) -> dict:
    session = AssistantSession.objects.filter(conversation=conversation).first()
    available = conversation.pk in autoreply.rules_for([conversation])
    if session is None:
        return {"state": "none", "reason": "", "turns": 0, "due_at": None, "available": available}
    return {
        "state": session.state,
        "reason": session.reason,
        "turns": session.turns,
        "due_at": session.due_at,
        "available": available,
    }


@router.get("/conversations/{conversation_id}/assistant", response=SessionOut)
def get_conversation_assistant(request: HttpRequest, conversation_id: Id):
    """Whether the assistant answers in the conversation, and why it stopped if it did."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return session_out(conversation)


@router.post("/conversations/{conversation_id}/assistant/resume", response=SessionOut)
def resume_conversation_assistant(request: HttpRequest, conversation_id: Id):
    """Turn the assistant back on here: it answers the customer's next message. 409 while a
    person holds the conversation, or where no rule lets it answer."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    autoreply.resume(conversation, acting_member=request.member)
    return session_out(conversation)


@router.post("/conversations/{conversation_id}/assistant/stop", response=SessionOut)
def stop_conversation_assistant(request: HttpRequest, conversation_id: Id):
    """Stop the assistant here, for good until a person turns it back on."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    autoreply.stop_here(conversation, acting_member=request.member)
    return session_out(conversation)
