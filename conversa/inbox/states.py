"""The conversation's state: resolve, reopen, pending, snooze (and waking the snoozed) and
priority. Every change is an OperationalEvent in the conversation's history and a realtime
event after commit."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, OperationalEvent
from conversa.errors import Conflict, Refused
from conversa.inbox import deadlines
from conversa.inbox.models import Conversation, Queue
from conversa.inbox.ownership import hand_out_after_commit, lock, record_change, recount_open
from conversa.realtime import events, publisher


@transaction.atomic
def resolve(conversation: Conversation, *, acting_member: Member, reason: str = "") -> None:
    """Close the conversation. A customer's message within the organization's reopen window
    reopens it; a later one starts a new conversation."""
    set_status(conversation, Conversation.Status.RESOLVED, acting_member, reason)


@transaction.atomic
def reopen(conversation: Conversation, *, acting_member: Member, reason: str = "") -> None:
    """Back to OPEN from any state (resolved, pending, snoozed)."""
    set_status(conversation, Conversation.Status.OPEN, acting_member, reason)


@transaction.atomic
def mark_pending(conversation: Conversation, *, acting_member: Member, reason: str = "") -> None:
    """Waiting on the customer: their next message makes it OPEN again."""
    set_status(conversation, Conversation.Status.PENDING, acting_member, reason)


# The furthest a snooze reaches: beyond it, dates stop being plans (and year 9999 overflows).
MAX_SNOOZE = timedelta(days=366)


@transaction.atomic
def snooze(
    conversation: Conversation,
    *,
    acting_member: Member,
    until: datetime | None = None,
    reason: str = "",
) -> None:
    """Out of the way until `until`, or (None) until the customer writes. The customer's next
    message wakes it in either case; `wake_snoozed` wakes those whose time has come."""
    if until is not None and until <= timezone.now():
        raise Conflict(gettext("Snooze until a time in the future."))
    if until is not None and until > timezone.now() + MAX_SNOOZE:
        raise Refused(gettext("Snooze for at most a year."), field="until")
    set_status(
        conversation, Conversation.Status.SNOOZED, acting_member, reason, snoozed_until=until
    )


VERBS = {
    Conversation.Status.OPEN: "conversation.reopened",
    Conversation.Status.PENDING: "conversation.pending",
    Conversation.Status.SNOOZED: "conversation.snoozed",
    Conversation.Status.RESOLVED: "conversation.resolved",
}


def set_status(
    conversation: Conversation,
    status: str,
    acting_member: Member | None,
    reason: str,
    *,
    snoozed_until: datetime | None = None,
) -> None:
    """The one way a person changes a conversation's state: under the row's lock, in its
    history with the reason, its assignee's open count recounted, announced after commit."""
    current = lock(conversation)
    if current.status == status and current.snoozed_until == snoozed_until:
        return
    if current.status == Conversation.Status.RESOLVED:
        # Bringing it back to life may meet the contact's newer unresolved thread on this
        # number (the database allows one).
        live = Conversation.objects.filter(
            number_id=current.number_id, contact_id=current.contact_id
        ).exclude(pk=current.pk)
        if live.exclude(status=Conversation.Status.RESOLVED).exists():
            raise Conflict(gettext("The contact has a newer open conversation."))
    resolved = status == Conversation.Status.RESOLVED
    changes = {
        "status": status,
        "snoozed_until": snoozed_until,
        "resolved_at": timezone.now() if resolved else None,
    }
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    for name, value in changes.items():
        setattr(conversation, name, value)
    data = {"reason": reason[:500], "previous": current.status}
    if snoozed_until is not None:
        data["until"] = snoozed_until.isoformat()
    record_change(conversation, VERBS[status], acting_member, **data)
    if current.status == Conversation.Status.RESOLVED:
        deadlines.restart_clocks(
            [current], changes["resolved_at"] or timezone.now(), by_customer=False
        )
    if current.assignee_id:
        recount_open([current.assignee_id])
    # A wake from pending or snoozed is no reopening: only one from resolved is.
    reopened = current.status == Conversation.Status.RESOLVED
    change = "resolved" if resolved else "reopened" if reopened else None
    publisher.publish(
        conversation.organization_id,
        events.ConversationUpdated(conversation_ids=[conversation.pk], change=change),
    )
    if resolved and current.assignee_id:
        queues = Queue.objects.filter(members=current.assignee_id)
        hand_out_after_commit(queues.values_list("pk", flat=True))


@transaction.atomic
def set_priority(conversation: Conversation, priority: int, *, acting_member: Member) -> None:
    """Low, normal, high or urgent (`Conversation.Priority`)."""
    if priority not in Conversation.Priority.values:
        raise Conflict(gettext("Unknown priority."))
    current = lock(conversation)
    if current.priority == priority:
        return
    Conversation.objects.filter(pk=conversation.pk).update(priority=priority)
    conversation.priority = priority
    record_change(
        conversation,
        "conversation.priority_changed",
        acting_member,
        priority=priority,
        previous=current.priority,
    )
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )


def wake_snoozed(now: datetime | None = None, limit: int = 1000) -> int:
    """OPEN again every snoozed conversation whose time has come; returns how many. Meant to
    run every few seconds (the worker's pass): a conditional UPDATE per row, so a customer's
    message or a person waking it at the same moment is not undone."""
    now = now or timezone.now()
    due = list(
        Conversation.objects.filter(
            status=Conversation.Status.SNOOZED, snoozed_until__lte=now
        ).values_list("pk", "organization_id")[:limit]
    )
    if not due:
        return 0
    with transaction.atomic():
        woken = [
            (pk, org_id)
            for pk, org_id in due
            if Conversation.objects.filter(
                pk=pk, status=Conversation.Status.SNOOZED, snoozed_until__lte=now
            ).update(status=Conversation.Status.OPEN, snoozed_until=None)
        ]
        OperationalEvent.objects.bulk_create(
            OperationalEvent(
                organization_id=org_id,
                actor_label="snooze",
                verb="conversation.woken",
                object_type="conversation",
                object_id=pk,
                data={"previous": Conversation.Status.SNOOZED},
            )
            for pk, org_id in woken
        )
        by_org: dict[int, list[int]] = {}
        for pk, org_id in woken:
            by_org.setdefault(org_id, []).append(pk)
        for org_id, ids in by_org.items():
            publisher.publish(org_id, events.ConversationUpdated(conversation_ids=ids))
    return len(woken)
