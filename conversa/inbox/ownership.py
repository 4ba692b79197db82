"""Who has a conversation: claim, assign, release and transfer; the queues' distribution of
waiting conversations to operators online and under capacity, and operators' availability and
open counts. Every change is an OperationalEvent in the conversation's history and a realtime
event after commit."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record
from conversa.bulk import set_column
from conversa.errors import Conflict, Forbidden
from conversa.inbox import deadlines, notifications
from conversa.inbox.models import Conversation, Queue
from conversa.realtime import events, publisher


def may_work_on(member: Member, conversation: Conversation) -> bool:
    """Whether the member may read and work on the conversation: supervisors everywhere;
    agents on those of their queues, those in no queue, and those assigned to them. The one
    rule; `workable` says the same as a condition for queries."""
    if member.organization_id != conversation.organization_id:
        return False
    if member.supervises or conversation.queue_id is None:
        return True
    if conversation.assignee_id == member.pk:
        return True
    return member.queues.filter(pk=conversation.queue_id).exists()


def workable(member: Member) -> Q:
    """`may_work_on` as a condition on conversations (of the member's organization)."""
    if member.supervises:
        return Q()
    return Q(assignee=member) | Q(queue__isnull=True) | Q(queue__in=member.queues.values("pk"))


@transaction.atomic
def claim(conversation: Conversation, *, acting_member: Member) -> None:
    """Take an unassigned conversation. A compare-and-set on the row (assigned only where it is
    still unassigned), so of operators claiming at the same moment exactly one wins and the
    others are told who has it."""
    if not may_work_on(acting_member, conversation):
        raise Conflict(gettext("This conversation is in a queue you are not in."))
    won = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=acting_member, assigned_at=timezone.now()
    )
    if not won:
        holder = Conversation.objects.select_related("assignee").get(pk=conversation.pk).assignee
        name = holder.display_name if holder else "?"
        raise Conflict(gettext("%(name)s has this conversation.") % {"name": name}, holder=holder)
    assigned(conversation, acting_member, acting_member=acting_member, how="claim")


@transaction.atomic
def assign(conversation: Conversation, member: Member, *, acting_member: Member) -> None:
    """A supervisor gives the conversation to `member`, whoever had it."""
    if not acting_member.supervises:
        raise Forbidden(gettext("Only supervisors assign conversations."))
    if member.organization_id != conversation.organization_id or not member.is_active:
        # A deactivated member keeps their history but takes no new work.
        raise Conflict(gettext("No such operator."))
    previous = lock(conversation).assignee_id
    Conversation.objects.filter(pk=conversation.pk).update(
        assignee=member, assigned_at=timezone.now()
    )
    assigned(conversation, member, acting_member=acting_member, how="assign", previous=previous)


@transaction.atomic
def release(conversation: Conversation, *, acting_member: Member) -> None:
    """Back to the queue, unassigned. The assignee or a supervisor may release it."""
    current = lock(conversation)
    if current.assignee_id is None:
        return
    if current.assignee_id != acting_member.pk and not acting_member.supervises:
        raise Forbidden(gettext("Only its operator or a supervisor can release it."))
    Conversation.objects.filter(pk=conversation.pk).update(assignee=None, assigned_at=None)
    conversation.assignee_id = None
    record_change(
        conversation, "conversation.released", acting_member, previous=current.assignee_id
    )
    recount_open([current.assignee_id])
    publisher.publish(
        conversation.organization_id,
        events.ConversationAssigned(conversation_ids=[conversation.pk]),
    )


@transaction.atomic
def transfer(
    conversation: Conversation,
    *,
    acting_member: Member,
    to_member: Member | None = None,
    to_queue: Queue | None = None,
    note: str = "",
) -> None:
    """Hand the conversation to another operator, or to another queue (unassigned there),
    with a note for whoever picks it up."""
    current = lock(conversation)
    if current.assignee_id != acting_member.pk and not acting_member.supervises:
        raise Forbidden(gettext("Only its operator or a supervisor can transfer it."))
    if (to_member is None) == (to_queue is None):
        raise Conflict(gettext("Transfer to one operator or one queue."))
    org_id = conversation.organization_id
    if (to_member or to_queue).organization_id != org_id or (to_member and not to_member.is_active):
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
        acting_member,
        previous=current.assignee_id,
        to_member=to_member.pk if to_member else None,
        to_queue=to_queue.pk if to_queue else None,
        note=note[:1000],
    )
    recount_open([current.assignee_id, to_member.pk if to_member else None])
    publisher.publish(org_id, events.ConversationAssigned(conversation_ids=[conversation.pk]))
    if to_queue is not None:
        hand_out_after_commit([to_queue.pk])


def lock(conversation: Conversation) -> Conversation:
    """The conversation's row as it is now, locked until the transaction ends."""
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def assigned(
    conversation: Conversation,
    member: Member,
    *,
    acting_member: Member | None,
    how: str,
    previous=None,
):
    conversation.assignee_id = member.pk
    record_change(
        conversation,
        "conversation.assigned",
        acting_member,
        assignee=member.pk,
        how=how,
        previous=previous,
    )
    recount_open([member.pk, previous])
    publisher.publish(
        conversation.organization_id,
        events.ConversationAssigned(conversation_ids=[conversation.pk]),
    )
    if acting_member is None or acting_member.pk != member.pk:
        # Handed to them (distribution, a supervisor); one who claimed it knows already.
        notifications.notify([member.pk], "assigned", conversation.pk)


def record_change(
    conversation: Conversation, verb: str, acting_member: Member | None, **data
) -> None:
    # No person acted: the queue's distribution did.
    record(
        conversation.organization_id,
        verb,
        conversation,
        actor=acting_member,
        label="distribution",
        **data,
    )


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
    assigned(conversation, chosen, acting_member=None, how=queue.distribution)
    return chosen
