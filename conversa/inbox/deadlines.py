"""SLA deadlines of conversations: due times stored on the row, and each one's state for a
list page.

A conversation's SLA cycle starts when it opens, and again when it is reopened from resolved
(`opened_at`). Its clocks start with the customer's first message in the cycle
(`first_inbound_at`): an SLA is a promise to a customer who wrote, so a conversation the
business started (a follow-up, an API send) or an operator reopened has none until the customer
writes. The queue's targets (`first_response_minutes`, `resolution_minutes`) are counted in the
organization's business hours from that message (`sla.add_business_time`), and the resulting
instants are stored in `first_response_due_at` and `resolution_due_at`. Because they are
instants, "breached" is a plain comparison with now that SQL can filter and count
(`Conversation.breached`); only the time left shown on a row is counted in business hours.

The stored due times are recomputed when what they come from changes: the conversation's
queue (a transfer), the queue's targets (`set_queue_targets`), the organization's schedule
(`set_business_hours`). Clocks keep running while a conversation is pending or snoozed.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from conversa import business_hours as sla
from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record
from conversa.bulk import set_column
from conversa.errors import Refused
from conversa.inbox.models import Conversation, Queue

# The longest SLA target: a year of minutes. A longer one could not be a promise to anyone,
# and it kept due-time arithmetic from overflowing (issue 16, problem 5).
MAX_TARGET_MINUTES = 365 * 24 * 60

# A running clock is "at risk" when less than this share of its target is left.
AT_RISK_SHARE = 0.25


def due_times(
    start: datetime,
    first_response_minutes: int | None,
    resolution_minutes: int | None,
    schedule: sla.Schedule,
) -> tuple[datetime | None, datetime | None]:
    """(first response due, resolution due) for a cycle starting at `start`; None where the
    queue has no target."""

    def due(minutes):
        return None if minutes is None else sla.add_business_time(start, minutes * 60, schedule)

    return due(first_response_minutes), due(resolution_minutes)


def restart_clocks(conversations: list[Conversation], now: datetime, *, by_customer: bool) -> None:
    """A new SLA cycle from `now` for conversations reopened from resolved: no first response
    yet, due times from their queues' targets when the customer reopened it by writing (none
    until they write when an operator did). One query for the queues, one UPDATE each (a reopen
    is rare next to the messages around it)."""
    if not conversations:
        return
    queues = {q.pk: q for q in Queue.objects.filter(pk__in={c.queue_id for c in conversations})}
    schedules = schedules_of({c.organization_id for c in conversations})
    for conversation in conversations:
        schedule = schedules[conversation.organization_id]
        queue = queues.get(conversation.queue_id)
        first_due, resolution_due = due_times(
            now,
            queue and queue.first_response_minutes,
            queue and queue.resolution_minutes,
            schedule,
        )
        changes = {
            "opened_at": now,
            "first_inbound_at": now if by_customer else None,
            "first_response_at": None,
            "first_response_due_at": first_due if by_customer else None,
            "resolution_due_at": resolution_due if by_customer else None,
        }
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        for name, value in changes.items():
            setattr(conversation, name, value)


def customer_first_wrote(conversations: list[Conversation], now: datetime) -> None:
    """The customer's first message in cycles that had none (the business started them, or an
    operator reopened them): their SLA clocks start `now`. Nothing to do, and no query, when
    the list is empty."""
    if not conversations:
        return
    queues = {q.pk: q for q in Queue.objects.filter(pk__in={c.queue_id for c in conversations})}
    schedules = schedules_of({c.organization_id for c in conversations})
    for conversation in conversations:
        queue = queues.get(conversation.queue_id)
        first_due, resolution_due = due_times(
            now,
            queue and queue.first_response_minutes,
            queue and queue.resolution_minutes,
            schedules[conversation.organization_id],
        )
        changes = {
            "first_inbound_at": now,
            "first_response_due_at": first_due,
            "resolution_due_at": resolution_due,
        }
        # Only a cycle still waiting for its first message: a racing one may have started it.
        Conversation.objects.filter(pk=conversation.pk, first_inbound_at__isnull=True).update(
            **changes
        )
        for name, value in changes.items():
            setattr(conversation, name, value)


def recompute(conversations) -> int:
    """Store again the due times of unresolved conversations (a queryset) from the customer's
    first message of their cycle, their queue's targets and their organization's schedule.
    Returns how many."""
    rows = list(
        conversations.exclude(status=Conversation.Status.RESOLVED)
        .select_related("queue", "organization")
        .only(
            "first_inbound_at",
            "queue",
            "organization",
            "organization__time_zone",
            "organization__business_hours",
            "organization__holidays",
            "queue__first_response_minutes",
            "queue__resolution_minutes",
        )
    )
    schedules: dict[int, sla.Schedule] = {}
    first, resolution = {}, {}
    for row in rows:
        schedule = schedules.setdefault(row.organization_id, row.organization.sla_schedule())
        queue = row.queue
        first[row.pk], resolution[row.pk] = (
            due_times(
                row.first_inbound_at,
                queue and queue.first_response_minutes,
                queue and queue.resolution_minutes,
                schedule,
            )
            if row.first_inbound_at
            else (None, None)  # the clocks wait for the customer's first message
        )
    for column, values in (("first_response_due_at", first), ("resolution_due_at", resolution)):
        # Empties apart: PostgreSQL types a VALUES column of only NULLs as text.
        empty = [pk for pk, due in values.items() if due is None]
        Conversation.objects.filter(pk__in=empty).update(**{column: None})
        set_column(Conversation, column, {pk: due for pk, due in values.items() if due})
    return len(rows)


def set_business_hours(
    org: Organization,
    *,
    acting_member: Member,
    hours: dict,
    holidays: list[str],
    time_zone: str | None = None,
) -> None:
    """Change the organization's business hours (and holidays, time zone) after checking them
    (`sla.schedule_problems`, every problem at once), then recompute the due times of its
    unresolved conversations."""
    must_supervise(acting_member)
    time_zone = time_zone or org.time_zone
    problems = sla.schedule_problems(time_zone, hours, holidays)
    if problems:
        raise Refused(" ".join(problems))
    org.business_hours, org.holidays, org.time_zone = hours, sorted(set(holidays)), time_zone
    org.save(update_fields=["business_hours", "holidays", "time_zone"])
    record(org.id, "organization.business_hours_changed", org, actor=acting_member)
    recompute(Conversation.objects.for_org(org))


def target_problem(minutes) -> str:
    """Why `minutes` cannot be an SLA target (None, no target, can), or ""."""
    if minutes is None:
        return ""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        return gettext("An SLA target is a positive number of minutes.")
    if minutes > MAX_TARGET_MINUTES:
        return gettext("An SLA target is at most a year (%(max)s minutes).") % {
            "max": MAX_TARGET_MINUTES
        }
    return ""


@transaction.atomic
def set_queue_targets(
    queue: Queue,
    *,
    acting_member: Member,
    first_response_minutes: int | None,
    resolution_minutes: int | None,
) -> None:
    """Change a queue's SLA targets (business minutes, 1 to MAX_TARGET_MINUTES; None for
    none) and recompute the due times of its unresolved conversations, all or nothing."""
    must_supervise(acting_member)
    for minutes in (first_response_minutes, resolution_minutes):
        if target_problem(minutes):
            raise Refused(target_problem(minutes))
    queue.first_response_minutes = first_response_minutes
    queue.resolution_minutes = resolution_minutes
    queue.save(update_fields=["first_response_minutes", "resolution_minutes"])
    record(
        queue.organization_id,
        "queue.sla_changed",
        queue,
        actor=acting_member,
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
    )
    recompute(Conversation.objects.filter(queue=queue))


def schedules_of(org_ids: set[int]) -> dict[int, sla.Schedule]:
    organizations = Organization.objects.filter(pk__in=org_ids)
    return {org.pk: org.sla_schedule() for org in organizations}


@dataclass(frozen=True)
class Clock:
    """The SLA clock that matters now for a conversation."""

    name: str  # "first_response" or "resolution"
    state: str  # "ok", "at_risk" or "breached"
    due_at: datetime
    # Business seconds until due; negative: business seconds past it.
    seconds_left: int


OK, AT_RISK, BREACHED = "ok", "at_risk", "breached"


def sla_states(
    conversations: list[Conversation], now: datetime | None = None
) -> dict[int, Clock | None]:
    """Conversation id → its most urgent running clock (None: no target, or resolved). For a
    page of a list: one query for the queues' targets, one schedule per organization, no query
    per row. A first response clock runs until an operator replies; the resolution clock until
    it is resolved."""
    now = now or timezone.now()
    queue_ids = {c.queue_id for c in conversations if c.queue_id}
    targets = dict(
        (pk, (first, resolution))
        for pk, first, resolution in Queue.objects.filter(pk__in=queue_ids).values_list(
            "pk", "first_response_minutes", "resolution_minutes"
        )
    )
    schedules = schedules_of({c.organization_id for c in conversations})
    states = {}
    for conversation in conversations:
        first_target, resolution_target = targets.get(conversation.queue_id, (None, None))
        running = []
        if conversation.status != Conversation.Status.RESOLVED:
            if conversation.first_response_due_at and conversation.first_response_at is None:
                running.append(("first_response", conversation.first_response_due_at, first_target))
            if conversation.resolution_due_at:
                running.append(("resolution", conversation.resolution_due_at, resolution_target))
        if not running:
            states[conversation.pk] = None
            continue
        name, due_at, minutes = min(running, key=lambda clock: clock[1])
        states[conversation.pk] = clock_state(
            name, due_at, minutes, schedules[conversation.organization_id], now
        )
    return states


def clock_state(
    name: str, due_at: datetime, minutes: int | None, schedule: sla.Schedule, now: datetime
) -> Clock:
    if due_at <= now:
        overdue = sla.business_seconds(due_at, now, schedule)
        return Clock(name, BREACHED, due_at, -int(overdue))
    left = sla.business_seconds(now, due_at, schedule)
    # The target may have changed since the due time was stored; without one, never at risk.
    at_risk = minutes is not None and left < minutes * 60 * AT_RISK_SHARE
    return Clock(name, AT_RISK if at_risk else OK, due_at, int(left))


def breached_counts(org: Organization, now: datetime | None = None) -> dict[int | None, int]:
    """Queue id (None: outside any queue) → how many of its unresolved conversations are past
    a due time, in one query."""
    now = now or timezone.now()
    return dict(
        Conversation.objects.for_org(org)
        .filter(Conversation.breached(now))
        .values("queue_id")
        .annotate(n=Count("id"))
        .values_list("queue_id", "n")
    )
