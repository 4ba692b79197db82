"""The Insights figures: one function per figure, each of (organization, period, filters), used
by the page, the API and, later, the exports.

The period is [start, end). The filters narrow to conversations as they are now (their number,
queue, assignee and tags); a message or Gate decision counts through its conversation, except
the number, which is the message's or decision's own. Each figure is a few aggregate queries
over the period's rows, never a query per conversation; durations (first response, resolution)
are counted in the organization's business hours when it has them (`business_hours`, the SLA
clock's own calculator). Incremental aggregates are a later step: these read the live tables.
"""

import math
import statistics
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate

from conversa import business_hours as sla
from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.engine.models import GateDecision
from conversa.inbox.models import Conversation, Message, Queue, Tag
from conversa.inbox.surveys import csat_summary
from conversa.numbers.models import Number


@dataclass(frozen=True)
class Filters:
    number: Number | None = None
    queue: Queue | None = None
    agent: Member | None = None
    tag: Tag | None = None

    @property
    def any(self) -> bool:
        return any((self.number, self.queue, self.agent, self.tag))


NONE = Filters()


def conversations(org: Organization, filters: Filters) -> QuerySet:
    """The organization's conversations narrowed by the filters."""
    rows = Conversation.objects.for_org(org)
    if filters.number is not None:
        rows = rows.filter(number=filters.number)
    if filters.queue is not None:
        rows = rows.filter(queue=filters.queue)
    if filters.agent is not None:
        rows = rows.filter(assignee=filters.agent)
    if filters.tag is not None:
        rows = rows.filter(
            pk__in=Conversation.tags.through.objects.filter(tag=filters.tag).values(
                "conversation_id"
            )
        )
    return rows


def messages(org: Organization, start: datetime, end: datetime, filters: Filters) -> QuerySet:
    rows = Message.objects.for_org(org).filter(created_at__gte=start, created_at__lt=end)
    if filters.number is not None:
        rows = rows.filter(number=filters.number)
    if filters.queue or filters.agent or filters.tag:
        narrowed = Filters(queue=filters.queue, agent=filters.agent, tag=filters.tag)
        rows = rows.filter(conversation__in=conversations(org, narrowed).values("pk"))
    return rows


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summary(values: list[float]) -> dict:
    return {"count": len(values), "median": median(values), "p90": percentile(values, 0.9)}


def conversation_counts(org, start, end, filters: Filters) -> dict:
    """Opened (new conversations), reopened (a resolved one came back: its timeline's events)
    and resolved (resolved in the period and still resolved: its last resolution counts, as
    the resolution time does) in the period."""
    rows = conversations(org, filters)
    events = OperationalEvent.objects.for_org(org).filter(
        verb="conversation.reopened",
        object_type="conversation",
        object_id__in=rows.values("pk"),
        created_at__gte=start,
        created_at__lt=end,
    )
    return {
        "opened": rows.filter(created_at__gte=start, created_at__lt=end).count(),
        "reopened": events.count(),
        "resolved": rows.filter(
            status=Conversation.Status.RESOLVED, resolved_at__gte=start, resolved_at__lt=end
        ).count(),
    }


def message_counts(org, start, end, filters: Filters) -> dict:
    """Messages in (from customers) and out (sent by the business) in the period."""
    return messages(org, start, end, filters).aggregate(
        inbound=Count("id", filter=Q(direction=Message.Direction.INBOUND)),
        outbound=Count("id", filter=Q(direction=Message.Direction.OUTBOUND)),
    )


def _durations(org, rows, begin: str, finish: str) -> list[tuple[int | None, float]]:
    schedule = org.sla_schedule()
    return [
        (assignee, sla.business_seconds(started, ended, schedule))
        for assignee, started, ended in rows.values_list("assignee_id", begin, finish)
    ]


def first_responses(org, start, end, filters: Filters) -> list[tuple[int | None, float]]:
    """(assignee id, seconds) from the customer's first message of a cycle to the first reply,
    for replies in the period."""
    rows = conversations(org, filters).filter(
        first_inbound_at__isnull=False, first_response_at__gte=start, first_response_at__lt=end
    )
    return _durations(org, rows, "first_inbound_at", "first_response_at")


def resolutions(org, start, end, filters: Filters) -> list[tuple[int | None, float]]:
    """(assignee id, seconds) from the customer's first message of the cycle to its
    resolution, for conversations resolved (and still resolved) in the period."""
    rows = conversations(org, filters).filter(
        status=Conversation.Status.RESOLVED,
        first_inbound_at__isnull=False,
        resolved_at__gte=start,
        resolved_at__lt=end,
    )
    return _durations(org, rows, "first_inbound_at", "resolved_at")


def response_times(org, start, end, filters: Filters) -> dict:
    """Median and 90th percentile of the first response and resolution times, in seconds
    (business seconds when the organization has business hours)."""
    return {
        "first_response": summary([s for _, s in first_responses(org, start, end, filters)]),
        "resolution": summary([s for _, s in resolutions(org, start, end, filters)]),
        "business_hours": not org.sla_schedule().always_open,
    }


def backlog(org, filters: Filters) -> dict:
    """Unresolved conversations now, and the one waiting longest for its first reply."""
    live = conversations(org, filters).exclude(status=Conversation.Status.RESOLVED)
    oldest = (
        live.filter(first_inbound_at__isnull=False, first_response_at__isnull=True)
        .select_related("contact")
        .order_by("first_inbound_at", "pk")
        .first()
    )
    waiting = None
    if oldest is not None:
        waiting = {
            "conversation_id": oldest.pk,
            "contact": oldest.contact.name or oldest.contact.phone,
            "since": oldest.first_inbound_at,
        }
    return {"open": live.count(), "oldest_waiting": waiting}


def gate_decisions(org, start, end, filters: Filters) -> list[dict]:
    """The Gate's decisions in the period by verdict and reason code, most frequent first,
    each with one of its reasons in plain words (`example`)."""
    rows = GateDecision.objects.for_org(org).filter(created_at__gte=start, created_at__lt=end)
    if filters.number is not None:
        rows = rows.filter(number=filters.number)
    if filters.queue or filters.agent or filters.tag:
        narrowed = Filters(queue=filters.queue, agent=filters.agent, tag=filters.tag)
        rows = rows.filter(intent__conversation__in=conversations(org, narrowed).values("pk"))
    grouped = (
        rows.values("verdict", "reason_code")
        .annotate(count=Count("id"), example=Max("reason"))
        .order_by("-count", "verdict", "reason_code")
    )
    return [dict(row) for row in grouped]


def local_days(org: Organization, start: datetime, end: datetime) -> list[date]:
    zone = ZoneInfo(org.time_zone)
    first, last = (
        start.astimezone(zone).date(),
        (end - timedelta(microseconds=1)).astimezone(zone).date(),
    )
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def messages_per_day(org, start, end, filters: Filters) -> list[dict]:
    """Messages in and out on each local day of the period (the organization's time zone),
    zero days included."""
    zone = ZoneInfo(org.time_zone)
    grouped = (
        messages(org, start, end, filters)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "direction")
        .annotate(count=Count("id"))
    )
    counts = {(row["day"], row["direction"]): row["count"] for row in grouped}
    return [
        {
            "day": day,
            "inbound": counts.get((day, Message.Direction.INBOUND), 0),
            "outbound": counts.get((day, Message.Direction.OUTBOUND), 0),
        }
        for day in local_days(org, start, end)
    ]


def heatmap(org, start, end, filters: Filters) -> list[list[int]]:
    """Customers' messages by local weekday (0 = Monday) and hour: 7 rows of 24 counts."""
    zone = ZoneInfo(org.time_zone)
    grouped = (
        messages(org, start, end, filters)
        .filter(direction=Message.Direction.INBOUND)
        .annotate(
            weekday=ExtractIsoWeekDay("created_at", tzinfo=zone),
            hour=ExtractHour("created_at", tzinfo=zone),
        )
        .values("weekday", "hour")
        .annotate(count=Count("id"))
    )
    grid = [[0] * 24 for _ in range(7)]
    for row in grouped:
        grid[row["weekday"] - 1][row["hour"]] = row["count"]
    return grid


SENT = [Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ]


def per_number(org, start, end, filters: Filters) -> list[dict]:
    """Each number's messages out in the period: sent (accepted by WhatsApp), the share of
    those delivered and read, and failed."""
    grouped = (
        messages(org, start, end, filters)
        .filter(direction=Message.Direction.OUTBOUND)
        .values("number_id")
        .annotate(
            sent=Count("id", filter=Q(status__in=SENT)),
            delivered=Count("id", filter=Q(status__in=SENT[1:])),
            read=Count("id", filter=Q(status=Message.Status.READ)),
            failed=Count("id", filter=Q(status=Message.Status.FAILED)),
        )
    )
    counts = {row["number_id"]: row for row in grouped}
    numbers = Number.objects.for_org(org).order_by("name", "pk")
    if filters.number is not None:
        numbers = numbers.filter(pk=filters.number.pk)
    rows = []
    for number in numbers:
        row = counts.get(number.pk, {"sent": 0, "delivered": 0, "read": 0, "failed": 0})
        rows.append(
            {
                "number_id": number.pk,
                "name": str(number),
                "sent": row["sent"],
                "delivered_pct": share(row["delivered"], row["sent"]),
                "read_pct": share(row["read"], row["sent"]),
                "failed": row["failed"],
            }
        )
    return rows


def share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def per_agent(org, start, end, filters: Filters) -> list[dict]:
    """Each member's conversations handled in the period (ones they replied in), median first
    response and resolution of the conversations assigned to them, and open ones now."""
    handled = dict(
        messages(org, start, end, filters)
        .filter(direction=Message.Direction.OUTBOUND, sender__isnull=False)
        .values("sender_id")
        .annotate(n=Count("conversation_id", distinct=True))
        .values_list("sender_id", "n")
    )
    open_now = dict(
        conversations(org, filters)
        .exclude(status=Conversation.Status.RESOLVED)
        .filter(assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    firsts, resolved = {}, {}
    for assignee, seconds in first_responses(org, start, end, filters):
        firsts.setdefault(assignee, []).append(seconds)
    for assignee, seconds in resolutions(org, start, end, filters):
        resolved.setdefault(assignee, []).append(seconds)
    members = Member.objects.filter(organization=org, is_active=True)
    if filters.agent is not None:
        members = members.filter(pk=filters.agent.pk)
    rows = [
        {
            "member_id": member.pk,
            "name": member.display_name,
            "handled": handled.get(member.pk, 0),
            "first_response_median": median(firsts.get(member.pk, [])),
            "resolution_median": median(resolved.get(member.pk, [])),
            "open": open_now.get(member.pk, 0),
        }
        for member in members
    ]
    return sorted(rows, key=lambda row: (-row["handled"], row["name"]))


def all_figures(org, start, end, filters: Filters) -> dict:
    """Every figure of the period, as the page and the API show them."""
    csat = csat_summary(
        org, start, end, number=filters.number, queue=filters.queue, agent=filters.agent
    )
    return {
        "conversations": conversation_counts(org, start, end, filters),
        "messages": message_counts(org, start, end, filters),
        "times": response_times(org, start, end, filters),
        "backlog": backlog(org, filters),
        "gate": gate_decisions(org, start, end, filters),
        "per_day": messages_per_day(org, start, end, filters),
        "heatmap": heatmap(org, start, end, filters),
        "numbers": per_number(org, start, end, filters),
        "agents": per_agent(org, start, end, filters),
        "csat": asdict(csat),
    }


def headline(org, start, end, filters: Filters) -> dict:
    """The figures compared with the previous period: the KPI cards' numbers only."""
    conversations_ = conversation_counts(org, start, end, filters)
    messages_ = message_counts(org, start, end, filters)
    times = response_times(org, start, end, filters)
    return {
        "opened": conversations_["opened"],
        "resolved": conversations_["resolved"],
        "inbound": messages_["inbound"],
        "outbound": messages_["outbound"],
        "first_response_median": times["first_response"]["median"],
        "resolution_median": times["resolution"]["median"],
    }
