"""Who works on a conversation and in what state: claim, assign, release, transfer; resolve,
reopen, pending, snooze and priority; the queues' auto-distribution and operators'
availability. Every change is an OperationalEvent in the conversation's history and a realtime
event after commit."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, OperationalEvent
from conversa.accounts.services import record
from conversa.bulk import set_column
from conversa.errors import Conflict
from conversa.inbox import deadlines
from conversa.inbox.models import Conversation, Queue
from conversa.realtime import events, publisher


def may_work_on(member: Member, conversation: Conversation) -> bool:
    """Operators work in their queues; supervisors everywhere."""
    if member.supervises or conversation.queue_id is None:
        return True
    return member.queues.filter(pk=conversation.queue_id).exists()


@transaction.atomic
def claim(conversation: Conversation, member: Member) -> None:
    """Take an unassigned conversation. A compare-and-set on the row (assigned only where it is
    still unassigned), so of operators claiming at the same moment exactly one wins and the
    others are told who has it."""
    if not may_work_on(member, conversation):
        raise Conflict(gettext("This conversation is in a queue you are not in."))
    won = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=member, assigned_at=timezone.now()
    )
    if not won:
        holder = Conversation.objects.select_related("assignee").get(pk=conversation.pk).assignee
        name = holder.display_name if holder else "?"
        raise Conflict(gettext("%(name)s has this conversation.") % {"name": name}, holder=holder)
    assigned(conversation, member, by=member, how="claim")


@transaction.atomic
def assign(conversation: Conversation, member: Member, *, by: Member) -> None:
    """A supervisor gives the conversation to `member`, whoever had it."""
    if not by.supervises:
        raise Conflict(gettext("Only supervisors assign conversations."))
    if member.organization_id != conversation.organization_id:
        raise Conflict(gettext("No such operator."))
    previous = lock(conversation).assignee_id
    Conversation.objects.filter(pk=conversation.pk).update(
        assignee=member, assigned_at=timezone.now()
    )
    assigned(conversation, member, by=by, how="assign", previous=previous)


@transaction.atomic
def release(conversation: Conversation, *, by: Member) -> None:
    """Back to the queue, unassigned. The assignee or a supervisor may release it."""
    current = lock(conversation)
    if current.assignee_id is None:
        return
    if current.assignee_id != by.pk and not by.supervises:
        raise Conflict(gettext("Only its operator or a supervisor can release it."))
    Conversation.objects.filter(pk=conversation.pk).update(assignee=None, assigned_at=None)
    conversation.assignee_id = None
    record_change(conversation, "conversation.released", by, previous=current.assignee_id)
    recount_open([current.assignee_id])
    publisher.publish(
        conversation.organization_id,
        events.ConversationAssigned(conversation_ids=[conversation.pk]),
    )


@transaction.atomic
def transfer(
    conversation: Conversation,
    *,
    by: Member,
    to_member: Member | None = None,
    to_queue: Queue | None = None,
    note: str = "",
) -> None:
    """Hand the conversation to another operator, or to another queue (unassigned there),
    with a note for whoever picks it up."""
    current = lock(conversation)
    if current.assignee_id != by.pk and not by.supervises:
        raise Conflict(gettext("Only its operator or a supervisor can transfer it."))
    if (to_member is None) == (to_queue is None):
        raise Conflict(gettext("Transfer to one operator or one queue."))
    org_id = conversation.organization_id
    if (to_member or to_queue).organization_id != org_id:
        raise Conflict(gettext("No such operator or queue."))
    now = timezone.now()
    if to_queue is not None:
        changes = {"queue": to_queue, "assignee": None, "assigned_at": None}
    else:
        changes = {"assignee": to_member, "assigned_at": now}
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    if to_queue is not None:
        # The new queue's SLA targets, counted from the start of this cycle.
        deadlines.recompute(Conversation.objects.filter(pk=conversation.pk))
    record_change(
        conversation,
        "conversation.transferred",
        by,
        previous=current.assignee_id,
        to_member=to_member.pk if to_member else None,
        to_queue=to_queue.pk if to_queue else None,
        note=note[:1000],
    )
    recount_open([current.assignee_id, to_member.pk if to_member else None])
    publisher.publish(org_id, events.ConversationAssigned(conversation_ids=[conversation.pk]))
    if to_queue is not None:
        hand_out_after_commit([to_queue.pk])


@transaction.atomic
def resolve(conversation: Conversation, *, by: Member, reason: str = "") -> None:
    """Close the conversation. A customer's message within the organization's reopen window
    reopens it; a later one starts a new conversation."""
    set_status(conversation, Conversation.Status.RESOLVED, by, reason)


@transaction.atomic
def reopen(conversation: Conversation, *, by: Member, reason: str = "") -> None:
    """Back to OPEN from any state (resolved, pending, snoozed)."""
    set_status(conversation, Conversation.Status.OPEN, by, reason)


@transaction.atomic
def mark_pending(conversation: Conversation, *, by: Member, reason: str = "") -> None:
    """Waiting on the customer: their next message makes it OPEN again."""
    set_status(conversation, Conversation.Status.PENDING, by, reason)


@transaction.atomic
def snooze(
    conversation: Conversation, *, by: Member, until: datetime | None = None, reason: str = ""
) -> None:
    """Out of the way until `until`, or (None) until the customer writes. The customer's next
    message wakes it in either case; `wake_snoozed` wakes those whose time has come."""
    if until is not None and until <= timezone.now():
        raise Conflict(gettext("Snooze until a time in the future."))
    set_status(conversation, Conversation.Status.SNOOZED, by, reason, snoozed_until=until)


VERBS = {
    Conversation.Status.OPEN: "conversation.reopened",
    Conversation.Status.PENDING: "conversation.pending",
    Conversation.Status.SNOOZED: "conversation.snoozed",
    Conversation.Status.RESOLVED: "conversation.resolved",
}


def set_status(
    conversation: Conversation,
    status: str,
    by: Member | None,
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
            instance_id=current.instance_id, contact_id=current.contact_id
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
    record_change(conversation, VERBS[status], by, **data)
    if current.status == Conversation.Status.RESOLVED:
        deadlines.restart_clocks([current], changes["resolved_at"] or timezone.now())
    if current.assignee_id:
        recount_open([current.assignee_id])
    publisher.publish(
        conversation.organization_id, events.ConversationUpdated(conversation_ids=[conversation.pk])
    )
    if resolved and current.assignee_id:
        queues = Queue.objects.filter(members=current.assignee_id)
        hand_out_after_commit(queues.values_list("pk", flat=True))


@transaction.atomic
def set_priority(conversation: Conversation, priority: int, *, by: Member) -> None:
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
        by,
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


def lock(conversation: Conversation) -> Conversation:
    """The conversation's row as it is now, locked until the transaction ends."""
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def assigned(
    conversation: Conversation, member: Member, *, by: Member | None, how: str, previous=None
):
    conversation.assignee_id = member.pk
    record_change(
        conversation, "conversation.assigned", by, assignee=member.pk, how=how, previous=previous
    )
    recount_open([member.pk, previous])
    publisher.publish(
        conversation.organization_id,
        events.ConversationAssigned(conversation_ids=[conversation.pk]),
    )


def record_change(conversation: Conversation, verb: str, by: Member | None, **data) -> None:
    # No person acted: the queue's distribution did.
    record(conversation.organization_id, verb, conversation, actor=by, label="distribution", **data)


def recount_open(member_ids: list) -> None:
    """Recount operators' open conversations from the data (the cache never drifts)."""
    ids = [pk for pk in dict.fromkeys(member_ids) if pk]
    if not ids:
        return
    counts = open_loads(ids)
    set_column(Member, "open_count", {pk: counts.get(pk, 0) for pk in ids})


def open_loads(member_ids: list[int]) -> dict[int, int]:
    """Member id → conversations assigned to them and not resolved, counted from the data."""
    return dict(
        Conversation.objects.filter(assignee_id__in=member_ids)
        .exclude(status=Conversation.Status.RESOLVED)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )


@transaction.atomic
def set_availability(member: Member, availability: str) -> None:
    """An operator goes online, away or offline; only online operators receive new work, and
    one coming online is offered what waits in their queues."""
    Member.objects.filter(pk=member.pk).update(availability=availability)
    member.availability = availability
    publisher.publish(member.organization_id, events.OperatorStatus(member_ids=[member.pk]))
    if availability == Member.Availability.ONLINE:
        hand_out_after_commit(member.queues.values_list("pk", flat=True))


# One hand-out gives at most this many waiting conversations of a queue: a slot that frees up
# takes one; an operator coming online takes up to their capacity.
HANDED_OUT = 100


def hand_out_after_commit(queue_ids: Iterable[int]) -> None:
    """`hand_out_waiting` once the caller's transaction has committed, in transactions of its
    own: the caller may hold a conversation's or an operator's row, and a hand-out locks
    queues and then operators, as an arriving message's distribution does; taken in the
    caller's transaction, the two orders could deadlock."""
    ids = list(queue_ids)
    transaction.on_commit(lambda: hand_out_waiting(ids))


def hand_out_waiting(queue_ids: Iterable[int]) -> int:
    """Give the waiting conversations (open, unassigned) of those queues that distribute,
    oldest first, by each queue's rule, until nobody can take another. For when someone can
    take work who could not: an operator comes online or gets more room, a slot frees up, a
    conversation moves into the queue. Returns how many were given.

    Each conversation is locked before its queue, as on the inbound path, and one that is
    locked already (its customer is writing: that message distributes it) is skipped; once
    locked it cannot move or close meanwhile."""
    given = 0
    queues = Queue.objects.filter(pk__in=queue_ids).exclude(distribution=Queue.Distribution.OFF)
    for queue_id in queues.order_by("id").values_list("pk", flat=True):
        waiting = Conversation.objects.filter(
            queue_id=queue_id, assignee__isnull=True, status=Conversation.Status.OPEN
        )
        for pk in waiting.order_by("opened_at", "id").values_list("pk", flat=True)[:HANDED_OUT]:
            with transaction.atomic():
                conversation = waiting.select_for_update(skip_locked=True).filter(pk=pk).first()
                if conversation is None:
                    continue
                if give_out(conversation) is None:
                    break  # nobody in the queue has room
                given += 1
    return given


def distribute(conversation: Conversation) -> Member | None:
    """Give an unassigned conversation of an auto-distributing queue to an operator: online,
    under capacity, chosen by the queue's rule (round robin: the next after the last one given
    work; least load: the fewest open conversations, then the lowest id). None when nobody can
    take it, and it waits in the queue.

    The queue's row is locked for the decision, so two distributions in one queue cannot both
    give the last free slot of an operator; loads are counted from the data, not the cache.
    """
    if conversation.queue_id is None:
        return None  # the inbound hot path: no savepoint, no query
    with transaction.atomic():
        return give_out(conversation)


def give_out(conversation: Conversation) -> Member | None:
    queue = (
        Queue.objects.select_for_update()
        .filter(pk=conversation.queue_id)
        .exclude(distribution=Queue.Distribution.OFF)
        .first()
    )
    if queue is None:
        return None
    members = list(queue.members.filter(availability=Member.Availability.ONLINE).order_by("id"))
    loads = open_loads([m.pk for m in members])
    free = [m for m in members if loads.get(m.pk, 0) < m.capacity]
    if not free:
        return None
    if queue.distribution == Queue.Distribution.LEAST_LOAD:
        chosen = min(free, key=lambda m: (loads.get(m.pk, 0), m.pk))
    else:
        after = [m for m in free if queue.last_assignee_id and m.pk > queue.last_assignee_id]
        chosen = (after or free)[0]
    won = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=chosen, assigned_at=timezone.now()
    )
    if not won:
        return None
    Queue.objects.filter(pk=queue.pk).update(last_assignee=chosen)
    assigned(conversation, chosen, by=None, how=queue.distribution)
    return chosen
