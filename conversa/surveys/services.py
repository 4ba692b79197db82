from datetime import timedelta

from django.db import transaction

from conversa.accounts.models import Member
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox import states, surveys
from conversa.inbox.models import Contact, Conversation, Survey


@transaction.atomic
def resolve(conversation: Conversation, *, acting_member: Member, reason: str = "") -> None:
    """Resolve the conversation (`inbox.states.resolve`) and, if its organization or queue
    asks, ask the customer for a rating (`ask`). The one way a person resolves."""
    states.resolve(conversation, acting_member=acting_member, reason=reason)
    ask(conversation, resolved_by=acting_member)


def ask(conversation: Conversation, *, resolved_by: Member | None) -> Survey | None:
    """The satisfaction question after this resolution of the conversation, through the one
    send path; the survey, or None when none is asked.

    1. Nothing unless the conversation is resolved and its queue (else its organization)
       asks; nothing to a blocked or opted-out contact (the Gate would refuse it anyway).
    2. One intent per (conversation, resolution), keyed on the resolution's time: resolving
       an already resolved conversation changes nothing and asks nothing again; reopening
       and resolving again is a new resolution, with its own survey.
    3. The survey row remembers who resolved it, the queue and number, and the outbound
       message that asks: until that message has left, nothing the customer writes answers.
    """
    conversation.refresh_from_db(fields=["status", "resolved_at", "queue", "number"])
    if conversation.status != Conversation.Status.RESOLVED or conversation.resolved_at is None:
        return None
    asking = surveys.asking_for(conversation)
    # As stored now: the contact may have opted out since the conversation was loaded.
    contact = Contact.objects.get(pk=conversation.contact_id)
    if not asking.enabled or contact.blocked or contact.opted_out:
        return None
    key = f"survey:{conversation.pk}:{conversation.resolved_at.timestamp():.6f}"
    survey, created = Survey.objects.get_or_create(
        organization_id=conversation.organization_id,
        key=key,
        defaults={
            "conversation": conversation,
            "agent": resolved_by,
            "queue_id": conversation.queue_id,
            "number_id": conversation.number_id,
            "asked_at": conversation.resolved_at,
            "expires_at": conversation.resolved_at + timedelta(hours=asking.open_hours),
        },
    )
    if not created:
        return survey
    intent, _created = engine.create_intent(
        conversation.organization,
        contact=contact,
        body=asking.question,
        origin=MessageIntent.Origin.SURVEY,
        idempotency_key=key,
        conversation=conversation,
    )
    job = ExecutionJob.objects.filter(intent=intent).only("message").first()
    if job is not None and job.message_id is not None:
        Survey.objects.filter(pk=survey.pk).update(question_message_id=job.message_id)
        survey.question_message_id = job.message_id
    return survey
