"""Queues (teams) and their operators' capacity: create, change and delete a queue; set how
many open conversations an operator may hold.

A queue has members (who may work in it and receive its distributed work), numbers (a number's
new conversations land in its first queue by id), a distribution rule and SLA targets. The
targets go through `deadlines.set_queue_targets`, which recomputes the due times it affects.

Owners, admins and supervisors only. Every change is an OperationalEvent; what the inbox pages
show of a queue's conversations (their queue's name, the Queue tab, SLA chips) is announced
with one CONVERSATION_UPDATED after commit, a capacity with OPERATOR_STATUS.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record, same_org
from conversa.errors import Conflict, Refused
from conversa.inbox import deadlines, ownership
from conversa.inbox.models import Conversation, Queue
from conversa.numbers.models import Number
from conversa.realtime import events, publisher

MAX_CAPACITY = 500
# One realtime event names at most this many conversations (as deleting a tag does): enough to
# refresh every open page's list, and the thread of whoever looks at one of them.
ANNOUNCED = 1000


@transaction.atomic
def create_queue(
    org: Organization,
    *,
    acting_member: Member,
    name: str,
    member_ids: Iterable[int] = (),
    number_ids: Iterable[int] = (),
    distribution: str = Queue.Distribution.OFF,
    first_response_minutes: int | None = None,
    resolution_minutes: int | None = None,
) -> Queue:
    """A new queue of the organization. Refused, and nothing saved:
    1. a name empty, too long, or taken in any case (409);
    2. an unknown distribution rule;
    3. a member or number id that is not the organization's;
    4. an SLA target that is not a positive number of minutes (`deadlines.set_queue_targets`).
    """
    must_supervise(acting_member)
    same_org(acting_member, org.id)
    name = clean_name(org, name)
    check_distribution(distribution)
    members = org_rows(org, Member, member_ids, "members")
    numbers = org_rows(org, Number, number_ids, "numbers")
    check_targets(first_response_minutes, resolution_minutes)
    try:
        # Its own savepoint: the unique index decides between two people creating the same
        # name at once, and the loser's outer transaction stays usable.
        with transaction.atomic():
            queue = Queue.objects.create(organization=org, name=name, distribution=distribution)
    except IntegrityError as exc:
        raise name_taken(name) from exc
    queue.members.set(members)
    queue.numbers.set(numbers)
    record(
        org.id,
        "queue.created",
        queue,
        actor=acting_member,
        name=name,
        distribution=distribution,
        member_ids=sorted(m.pk for m in members),
        number_ids=sorted(n.pk for n in numbers),
    )
    if first_response_minutes is not None or resolution_minutes is not None:
        set_targets(queue, acting_member, first_response_minutes, resolution_minutes)
    return queue


@transaction.atomic
def update_queue(
    queue: Queue,
    *,
    acting_member: Member,
    name: str,
    member_ids: Iterable[int],
    number_ids: Iterable[int],
    distribution: str,
    first_response_minutes: int | None,
    resolution_minutes: int | None,
) -> dict:
    """Change everything about a queue at once, as its form does; refused as `create_queue`
    is, and nothing saved. Returns what changed (empty: nothing, and nothing recorded).

    1. Name, distribution, members and numbers are saved and recorded as one
       `queue.changed` event with the previous values.
    2. Changed targets go through `deadlines.set_queue_targets` (its own `queue.sla_changed`
       event, and the due times of the queue's unresolved conversations recomputed).
    3. If the name, the members or the targets changed, what the queue's conversations show
       changed too: one CONVERSATION_UPDATED after commit.

    Members taken out keep the conversations they hold; numbers taken out send their next new
    conversations to their next queue (or none); conversations already in the queue stay."""
    must_supervise(acting_member)
    same_org(acting_member, queue.organization_id)
    org = queue.organization
    name = clean_name(org, name, exclude=queue)
    check_distribution(distribution)
    members = org_rows(org, Member, member_ids, "members")
    numbers = org_rows(org, Number, number_ids, "numbers")
    check_targets(first_response_minutes, resolution_minutes)

    changes: dict = {}
    if name != queue.name:
        changes["name"] = [queue.name, name]
    if distribution != queue.distribution:
        changes["distribution"] = [queue.distribution, distribution]
    for field, rows in (("members", members), ("numbers", numbers)):
        before = set(getattr(queue, field).values_list("pk", flat=True))
        after = {row.pk for row in rows}
        if before != after:
            if after - before:
                changes[f"{field}_added"] = sorted(after - before)
            if before - after:
                changes[f"{field}_removed"] = sorted(before - after)
            getattr(queue, field).set(rows)
    if "name" in changes or "distribution" in changes:
        queue.name, queue.distribution = name, distribution
        try:
            with transaction.atomic():
                queue.save(update_fields=["name", "distribution"])
        except IntegrityError as exc:
            raise name_taken(name) from exc
    if changes:
        record(queue.organization_id, "queue.changed", queue, actor=acting_member, **changes)

    targets = (first_response_minutes, resolution_minutes)
    if targets != (queue.first_response_minutes, queue.resolution_minutes):
        set_targets(queue, acting_member, *targets)
        changes["targets"] = list(targets)
    if {"name", "members_added", "members_removed", "targets"} & changes.keys():
        announce(queue)
    if {"members_added", "distribution"} & changes.keys():
        ownership.hand_out_after_commit([queue.pk])
    return changes


@transaction.atomic
def delete_queue(queue: Queue, *, acting_member: Member) -> int:
    """Delete a queue. Its conversations stay, in no queue (`Conversation.queue` is SET_NULL):
    unassigned ones wait in everyone's Queue tab, assigned ones stay with their operator.
    Without a queue they have no SLA targets, so their unresolved ones lose their due times
    (what `deadlines.recompute` would store, in one UPDATE). Returns how many unresolved
    conversations it held."""
    must_supervise(acting_member)
    same_org(acting_member, queue.organization_id)
    unresolved = Conversation.objects.filter(queue=queue).exclude(
        status=Conversation.Status.RESOLVED
    )
    announced = list(unresolved.values_list("pk", flat=True)[:ANNOUNCED])
    held = unresolved.update(first_response_due_at=None, resolution_due_at=None)
    record(
        queue.organization_id,
        "queue.deleted",
        queue,
        actor=acting_member,
        name=queue.name,
        held=held,
    )
    queue.delete()
    if announced:
        publisher.publish(
            acting_member.organization_id, events.ConversationUpdated(conversation_ids=announced)
        )
    return held


@transaction.atomic
def set_capacity(member: Member, capacity: int, *, acting_member: Member) -> bool:
    """How many open conversations `member` may hold before distribution passes them over
    (0: none are given to them; they can still claim). Counts in every queue they are in; more
    room, when they are online, takes what waits in their queues at once. Returns False when
    it was that already (nothing recorded)."""
    must_supervise(acting_member)
    same_org(member, acting_member.organization_id)
    if not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
        raise Refused(
            gettext("A capacity is a whole number from 0 to %(max)s.") % {"max": MAX_CAPACITY},
            field="capacity",
        )
    previous = member.capacity
    if capacity == previous:
        return False
    Member.objects.filter(pk=member.pk).update(capacity=capacity)
    member.capacity = capacity
    record(
        member.organization_id,
        "member.capacity_changed",
        member,
        actor=acting_member,
        capacity=capacity,
        previous=previous,
    )
    publisher.publish(member.organization_id, events.OperatorStatus(member_ids=[member.pk]))
    if capacity > previous and member.availability == Member.Availability.ONLINE:
        ownership.hand_out_after_commit(member.queues.values_list("pk", flat=True))
    return True


def clean_name(org: Organization, name: str, exclude: Queue | None = None) -> str:
    name = " ".join(name.split())
    if not name or len(name) > Queue._meta.get_field("name").max_length:
        raise Refused(gettext("A queue's name is 1 to 120 characters."), field="name")
    taken = Queue.objects.for_org(org).filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        # The database refuses only the same spelling; "Vendas" and "vendas" would confuse
        # everyone choosing a queue from a list.
        raise name_taken(name)
    return name


def name_taken(name: str) -> Conflict:
    return Conflict(gettext("A queue named “%(name)s” exists.") % {"name": name}, field="name")


def check_distribution(distribution: str) -> None:
    if distribution not in Queue.Distribution.values:
        raise Refused(gettext("Unknown distribution rule."), field="distribution")


def org_rows(org: Organization, model, ids: Iterable[int], field: str) -> list:
    """The organization's rows with these ids; refused if any is not one of them (another
    organization's id, or none at all), without saying which exist elsewhere."""
    wanted = set(ids)
    rows = list(model.objects.for_org(org).filter(pk__in=wanted).order_by("pk"))
    if len(rows) != len(wanted):
        message = {
            "members": gettext("Choose operators of this organization."),
            "numbers": gettext("Choose numbers of this organization."),
        }[field]
        raise Refused(message, field=field)
    return rows


def check_targets(first: int | None, resolution: int | None) -> None:
    # `deadlines.set_queue_targets` refuses the same; checked first to say which field.
    for field, minutes in (("first_response_minutes", first), ("resolution_minutes", resolution)):
        if problem := deadlines.target_problem(minutes):
            raise Refused(problem, field=field)


def set_targets(
    queue: Queue, acting_member: Member, first: int | None, resolution: int | None
) -> None:
    deadlines.set_queue_targets(
        queue,
        acting_member=acting_member,
        first_response_minutes=first,
        resolution_minutes=resolution,
    )


def announce(queue: Queue) -> None:
    ids = list(
        Conversation.objects.filter(queue=queue)
        .exclude(status=Conversation.Status.RESOLVED)
        .values_list("pk", flat=True)[:ANNOUNCED]
    )
    if ids:
        publisher.publish(queue.organization_id, events.ConversationUpdated(conversation_ids=ids))
