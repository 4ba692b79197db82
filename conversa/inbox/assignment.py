"""Who works on a conversation: claim, assign, release, transfer; resolve and reopen; the
queues' auto-distribution and operators' availability. Every change is an OperationalEvent in
the conversation's history and a realtime event after commit."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record
from conversa.bulk import set_column
from conversa.inbox.models import Conversation, Queue
from conversa.realtime import publisher

SUPERVISING = (Member.Role.OWNER, Member.Role.ADMIN, Member.Role.SUPERVISOR)


class OwnershipRefused(Exception):
    """The change cannot be made; the message says why (and `holder` who has it, if anyone)."""

    def __init__(self, message: str, holder: Member | None = None):
        super().__init__(message)
        self.holder = holder


def may_work_on(member: Member, conversation: Conversation) -> bool:
    """Operators work in their queues; supervisors everywhere."""
    if member.role in SUPERVISING or conversation.queue_id is None:
        return True
    return member.queues.filter(pk=conversation.queue_id).exists()


@transaction.atomic
def claim(conversation: Conversation, member: Member) -> None:
    """Take an unassigned conversation. A compare-and-set on the row (assigned only where it is
    still unassigned), so of operators claiming at the same moment exactly one wins and the
    others are told who has it."""
    if not may_work_on(member, conversation):
        raise OwnershipRefused(gettext("This conversation is in a queue you are not in."))
    won = Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
        assignee=member, assigned_at=timezone.now()
    )
    if not won:
        holder = Conversation.objects.select_related("assignee").get(pk=conversation.pk).assignee
        name = holder.display_name if holder else "?"
        raise OwnershipRefused(
            gettext("%(name)s has this conversation.") % {"name": name}, holder=holder
        )
    assigned(conversation, member, by=member, how="claim")


@transaction.atomic
def assign(conversation: Conversation, member: Member, *, by: Member) -> None:
    """A supervisor gives the conversation to `member`, whoever had it."""
    if by.role not in SUPERVISING:
        raise OwnershipRefused(gettext("Only supervisors assign conversations."))
    if member.organization_id != conversation.organization_id:
        raise OwnershipRefused(gettext("No such operator."))
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
    if current.assignee_id != by.pk and by.role not in SUPERVISING:
        raise OwnershipRefused(gettext("Only its operator or a supervisor can release it."))
    Conversation.objects.filter(pk=conversation.pk).update(assignee=None, assigned_at=None)
    conversation.assignee_id = None
    record_change(conversation, "conversation.released", by, previous=current.assignee_id)
    recount_open([current.assignee_id])
    publisher.publish(
        conversation.organization_id,
        publisher.CONVERSATION_ASSIGNED,
        conversation_id=conversation.pk,
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
    if current.assignee_id != by.pk and by.role not in SUPERVISING:
        raise OwnershipRefused(gettext("Only its operator or a supervisor can transfer it."))
    if (to_member is None) == (to_queue is None):
        raise OwnershipRefused(gettext("Transfer to one operator or one queue."))
    org_id = conversation.organization_id
    if (to_member or to_queue).organization_id != org_id:
        raise OwnershipRefused(gettext("No such operator or queue."))
    now = timezone.now()
    if to_queue is not None:
        changes = {"queue": to_queue, "assignee": None, "assigned_at": None}
    else:
        changes = {"assignee": to_member, "assigned_at": now}
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
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
    publisher.publish(org_id, publisher.CONVERSATION_ASSIGNED, conversation_id=conversation.pk)


@transaction.atomic
def resolve(conversation: Conversation, *, by: Member, reason: str = "") -> None:
    set_status(conversation, Conversation.Status.RESOLVED, by, reason)


@transaction.atomic
def reopen(conversation: Conversation, *, by: Member, reason: str = "") -> None:
    set_status(conversation, Conversation.Status.OPEN, by, reason)


def set_status(conversation: Conversation, status: str, by: Member, reason: str) -> None:
    current = lock(conversation)
    if current.status == status:
        return
    if status != Conversation.Status.RESOLVED:
        # Reopening may meet the contact's newer unresolved thread on this number.
        live = Conversation.objects.filter(
            instance_id=current.instance_id, contact_id=current.contact_id
        ).exclude(pk=current.pk)
        if live.exclude(status=Conversation.Status.RESOLVED).exists():
            raise OwnershipRefused(gettext("The contact has a newer open conversation."))
    Conversation.objects.filter(pk=conversation.pk).update(status=status, snoozed_until=None)
    conversation.status = status
    verb = (
        "conversation.resolved"
        if status == Conversation.Status.RESOLVED
        else "conversation.reopened"
    )
    record_change(conversation, verb, by, reason=reason[:500])
    if current.assignee_id:
        recount_open([current.assignee_id])
    publisher.publish(
        conversation.organization_id,
        publisher.CONVERSATION_UPDATED,
        conversation_id=conversation.pk,
    )


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
        publisher.CONVERSATION_ASSIGNED,
        conversation_id=conversation.pk,
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


def set_availability(member: Member, availability: str) -> None:
    """An operator goes online, away or offline; only online operators receive new work."""
    Member.objects.filter(pk=member.pk).update(availability=availability)
    member.availability = availability
    publisher.publish(member.organization_id, publisher.OPERATOR_STATUS, member_id=member.pk)


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
