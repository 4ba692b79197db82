"""The Insights figures: one function per figure, each of (organization, period, filters), used
by the page, the API and the exports (insights/exports.py).

The period is [start, end). The filters narrow to conversations as they are now (their number,
queue, assignee and tags); a message or Gate decision counts through its conversation, except
the number, which is the message's or decision's own. Each figure is a few aggregate queries
over the period's rows, never a query per conversation; durations (first response, resolution)
are counted in the organization's business hours when it has them (`business_hours`, the SLA
clock's own calculator).

The counts (conversations, messages, statuses, the Gate's decisions) read the hourly aggregates
kept as events happen (`aggregates`), hours of the organization's time zone (:30 and :45 ones
too: a local day is whole hour rows). The first response and resolution times' medians and
90th percentiles are interpolated in the buckets of business seconds kept in the same rows
(`durations`), with the few durations not settled yet counted there. The conversations'
own counts (opened, resolved, the SLA's, open now) are kept under each of their tags too
(`rows.tagged`): the per-tag table and the backlog under a tag filter read those; the other
figures under a tag filter read the live tables. Open conversations are a count of now
(`counted_now`). The conversations each agent handled are counted by local day
(`rows.HANDLED`); with a number, queue or tag filter, from their replies' rows
(`models.Handled`). The page and the API ask their twenty-odd questions of the counts within
`reading.together`: a statement per grouping (`wider_reads`), each figure filtered out of it.
"""

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate

from conversa import business_hours as sla
from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.engine.models import GateDecision
from conversa.inbox.models import Conversation, Message, Queue, Tag
from conversa.inbox.surveys import csat_summary
from conversa.insights import reading
from conversa.insights import rows as rows_
from conversa.insights.durations import (
    DURATION_BUCKETS,
    DURATION_KINDS,
    GROUPING_BUCKETS,
    duration_summaries,
    median,
    stored_summaries,
    summary,
)
from conversa.insights.models import Handled
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


def counted(org, start, end, filters: Filters, **narrow) -> dict[tuple, int]:
    """The aggregates of the period under the filters (none of them a tag)."""
    return reading.counts(
        org,
        start,
        end,
        number_id=filters.number and filters.number.pk,
        queue_id=filters.queue and filters.queue.pk,
        agent_id=filters.agent and filters.agent.pk,
        **narrow,
    )


def counted_now(org, filters: Filters, **narrow) -> dict[tuple, int]:
    """The counts of now (`reading.now_counts`: open conversations) under the filters."""
    return reading.now_counts(
        org,
        number_id=filters.number and filters.number.pk,
        queue_id=filters.queue and filters.queue.pk,
        agent_id=filters.agent and filters.agent.pk,
        **narrow,
    )


def open_metric(filters: Filters) -> str:
    """The count of open conversations, or of those with the filter's tag."""
    return "open" if filters.tag is None else f"tag:{filters.tag.pk}:open"


def messages(org: Organization, start: datetime, end: datetime, filters: Filters) -> QuerySet:
    rows = Message.objects.for_org(org).filter(created_at__gte=start, created_at__lt=end)
    if filters.number is not None:
        rows = rows.filter(number=filters.number)
    if filters.queue or filters.agent or filters.tag:
        narrowed = Filters(queue=filters.queue, agent=filters.agent, tag=filters.tag)
        rows = rows.filter(conversation__in=conversations(org, narrowed).values("pk"))
    return rows


CONVERSATION_METRICS = ("opened", "reopened", "resolved")


def conversation_counts(org, start, end, filters: Filters) -> dict:
    """Opened (new conversations), reopened (a resolved one came back: its timeline's events)
    and resolved (resolved in the period and still resolved: its last resolution counts, as
    the resolution time does) in the period."""
    if filters.tag is None:
        n = counted(org, start, end, filters, by=("metric",), metrics=CONVERSATION_METRICS)
        return {metric: n.get((metric,), 0) for metric in CONVERSATION_METRICS}
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
    if filters.tag is None:
        n = counted(org, start, end, filters, by=("metric",), metrics=("in", "out"))
        return {"inbound": n.get(("in",), 0), "outbound": n.get(("out",), 0)}
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
    for replies in the period, read from the conversations (under a tag filter)."""
    rows = conversations(org, filters).filter(
        first_inbound_at__isnull=False, first_response_at__gte=start, first_response_at__lt=end
    )
    return _durations(org, rows, "first_inbound_at", "first_response_at")


def resolutions(org, start, end, filters: Filters) -> list[tuple[int | None, float]]:
    """(assignee id, seconds) from the customer's first message of the cycle to its
    resolution, for conversations resolved (and still resolved) in the period, read from the
    conversations (under a tag filter)."""
    rows = conversations(org, filters).filter(
        status=Conversation.Status.RESOLVED,
        first_inbound_at__isnull=False,
        resolved_at__gte=start,
        resolved_at__lt=end,
    )
    return _durations(org, rows, "first_inbound_at", "resolved_at")


def response_times(org, start, end, filters: Filters, found: dict | None = None) -> dict:
    """Median and 90th percentile of the first response and resolution times, in seconds
    (business seconds when the organization has business hours)."""
    if filters.tag is None:
        if found is None:
            found = duration_summaries(org, start, end, filters, groupings=(None,))
        return {
            kind: stored_summaries(org, kind, start, end, filters, found=found)[None]
            for kind in DURATION_KINDS
        } | {
            "business_hours": not org.sla_schedule().always_open,
        }
    return {
        "first_response": summary([s for _, s in first_responses(org, start, end, filters)]),
        "resolution": summary([s for _, s in resolutions(org, start, end, filters)]),
        "business_hours": not org.sla_schedule().always_open,
    }


def backlog(org, filters: Filters) -> dict:
    """Unresolved conversations now (counted as they change: `counted_now`), and the one
    waiting longest for its first reply (found by the index of those waiting,
    `conversation_waiting`)."""
    metric = open_metric(filters)
    open_now = counted_now(org, filters, by=("metric",), metrics=(metric,)).get((metric,), 0)
    live = conversations(org, filters).exclude(status=Conversation.Status.RESOLVED)
    # Its contact read after, by key: joined, the planner reads every contact first.
    oldest = (
        live.filter(first_inbound_at__isnull=False, first_response_at__isnull=True)
        .only("pk", "contact_id", "first_inbound_at")
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
    return {"open": open_now, "oldest_waiting": waiting}


def decisions(org, start, end, filters: Filters) -> QuerySet:
    """The Gate's decisions in the period, narrowed by the filters (the figure's rows and the
    export's)."""
    rows = GateDecision.objects.for_org(org).filter(created_at__gte=start, created_at__lt=end)
    if filters.number is not None:
        rows = rows.filter(number=filters.number)
    if filters.queue or filters.agent or filters.tag:
        narrowed = Filters(queue=filters.queue, agent=filters.agent, tag=filters.tag)
        rows = rows.filter(intent__conversation__in=conversations(org, narrowed).values("pk"))
    return rows


def gate_decisions(org, start, end, filters: Filters) -> list[dict]:
    """The Gate's decisions in the period by verdict and reason code, most frequent first,
    each with one of its reasons in plain words (`example`)."""
    if filters.tag is None:
        return gate_counts(org, start, end, filters)
    grouped = (
        decisions(org, start, end, filters)
        .values("verdict", "reason_code")
        .annotate(count=Count("id"), example=Max("reason"))
        .order_by("-count", "verdict", "reason_code")
    )
    return [dict(row) for row in grouped]


def gate_counts(org, start, end, filters: Filters) -> list[dict]:
    n = counted(org, start, end, filters, by=("metric",), metric_prefix="gate:")
    grouped = []
    for (metric,), count in n.items():
        _, verdict, reason_code = metric.split(":", 2)
        # The example: the newest such decision of the period, one query per verdict and code
        # (a few), not a scan of the period's decisions.
        example = (
            GateDecision.objects.for_org(org)
            .filter(
                verdict=verdict, reason_code=reason_code, created_at__gte=start, created_at__lt=end
            )
            .order_by("-created_at", "-id")
            .values_list("reason", flat=True)
            .first()
        )
        grouped.append(
            {
                "verdict": verdict,
                "reason_code": reason_code,
                "count": count,
                "example": example or "",
            }
        )
    return sorted(grouped, key=lambda row: (-row["count"], row["verdict"], row["reason_code"]))


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
    if filters.tag is None:
        daily = counted(org, start, end, filters, by=("day", "metric"), metrics=("in", "out"))
        return [
            {
                "day": day,
                "inbound": daily.get((day, "in"), 0),
                "outbound": daily.get((day, "out"), 0),
            }
            for day in local_days(org, start, end)
        ]
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
    grid = [[0] * 24 for _ in range(7)]
    if filters.tag is None:
        for (weekday, hour), count in counted(
            org, start, end, filters, by=("weekday", "local_hour"), metrics=("in",)
        ).items():
            grid[weekday - 1][hour] += count
        return grid
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
    for row in grouped:
        grid[row["weekday"] - 1][row["hour"]] = row["count"]
    return grid


SENT = [Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ]


def per_number(org, start, end, filters: Filters) -> list[dict]:
    """Each number's messages out in the period: sent (accepted by WhatsApp), the share of
    those delivered and read, and failed."""
    if filters.tag is None:
        grouped = status_counts(org, start, end, filters)
    else:
        grouped = status_rows(org, start, end, filters)
    counts = {row["number_id"]: row for row in grouped}
    # Its name only: a number's secrets are decrypted as they are read.
    numbers = Number.objects.for_org(org).only("pk", "name").order_by("name", "pk")
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


STATUS_METRICS = ("sent", "delivered", "read", "failed")
STATUS_SET = frozenset(STATUS_METRICS)
DAY_NUMBER = ("day", "number_id", "metric")  # a number's health: its sends and decisions a day


def status_counts(org, start, end, filters: Filters) -> list[dict]:
    n = counted(org, start, end, filters, by=("number_id", "metric"), metrics=STATUS_METRICS)
    numbers: dict[int, dict] = {}
    for (number_id, metric), count in n.items():
        numbers.setdefault(number_id, dict.fromkeys(STATUS_METRICS, 0))[metric] = count
    return [{"number_id": number_id, **row} for number_id, row in numbers.items()]


def status_rows(org, start, end, filters: Filters):
    return (
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


def share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def handled_rows(org, start, end, filters: Filters) -> QuerySet:
    """The (conversation, sender, number, local hour) rows of the members' replies in the
    period (`models.Handled`, kept as messages are written), narrowed by the filters: the
    reply's own number, its sender (the agent filter: their own replies), the conversation's
    queue and tags."""
    rows = Handled.objects.filter(
        organization_id=org.pk,
        hour__gte=reading.local_hour(org, start),
        hour__lt=reading.local_hour(org, end),
    )
    if filters.number is not None:
        rows = rows.filter(number_id=filters.number.pk)
    if filters.agent is not None:
        rows = rows.filter(sender_id=filters.agent.pk)
    if filters.queue or filters.tag:
        narrowed = Filters(queue=filters.queue, tag=filters.tag)
        rows = rows.filter(conversation_id__in=conversations(org, narrowed).values("pk"))
    return rows


def handled_by_day(filters: Filters) -> bool:
    """Whether `handled_counts` reads the handled counts by local day (else the replies)."""
    return not (filters.number or filters.queue or filters.tag)


def handled_counts(org, start, end, filters: Filters) -> dict[int, int]:
    """Per member, the conversations they replied in during the period: the handled counts
    by local day (`rows.HANDLED`) whose day before is not in the period; under a number,
    queue or tag filter, the distinct conversations of their rows (`handled_rows`)."""
    if handled_by_day(filters):
        first = start.astimezone(ZoneInfo(org.time_zone)).date().isoformat()
        handled: dict[int, int] = {}
        for (agent, metric), n in counted(
            org, start, end, filters, by=("agent_id", "metric"), metric_prefix=rows_.HANDLED
        ).items():
            if metric[len(rows_.HANDLED) :] < first:  # "" (never before) too
                handled[agent] = handled.get(agent, 0) + n
        return handled
    # The distinct pairs first, then counted: PostgreSQL hashes the pairs once, where
    # COUNT(DISTINCT) sorts every row of the period.
    pairs = handled_rows(org, start, end, filters).values("sender_id", "conversation_id")
    sql, params = pairs.order_by().distinct().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT sender_id, COUNT(*) FROM ({sql}) d GROUP BY sender_id", params)  # noqa: S608 (the ORM's SQL; values are parameters)
        return dict(cursor.fetchall())


def per_agent(org, start, end, filters: Filters, found: dict | None = None) -> list[dict]:
    """Each member's conversations handled in the period (ones they replied in), median first
    response and resolution of the conversations assigned to them, and open ones now."""
    handled = handled_counts(org, start, end, filters)
    open_now = {
        agent_id: n
        for (agent_id, _), n in counted_now(
            org, filters, by=("agent_id", "metric"), metrics=(open_metric(filters),)
        ).items()
    }
    if filters.tag is None:
        first_median = {
            agent: stats["median"]
            for agent, stats in stored_summaries(
                org, "first_response", start, end, filters, by="agent_id", found=found
            ).items()
        }
        resolution_median = {
            agent: stats["median"]
            for agent, stats in stored_summaries(
                org, "resolution", start, end, filters, by="agent_id", found=found
            ).items()
        }
    else:
        firsts, resolved = {}, {}
        for assignee, seconds in first_responses(org, start, end, filters):
            firsts.setdefault(assignee, []).append(seconds)
        for assignee, seconds in resolutions(org, start, end, filters):
            resolved.setdefault(assignee, []).append(seconds)
        first_median = {agent: median(values) for agent, values in firsts.items()}
        resolution_median = {agent: median(values) for agent, values in resolved.items()}
    members = Member.objects.filter(organization=org, is_active=True)
    if filters.agent is not None:
        members = members.filter(pk=filters.agent.pk)
    rows = [
        {
            "member_id": member.pk,
            "name": member.display_name,
            "handled": handled.get(member.pk, 0),
            "first_response_median": first_median.get(member.pk),
            "resolution_median": resolution_median.get(member.pk),
            "open": open_now.get(member.pk, 0),
        }
        for member in members
    ]
    return sorted(rows, key=lambda row: (-row["handled"], row["name"]))


def all_figures(org, start, end, filters: Filters) -> dict:
    """Every figure of the period, as the page and the API show them."""
    from conversa.insights import more_figures as more  # it builds on this module

    csat = csat_summary(
        org, start, end, number=filters.number, queue=filters.queue, agent=filters.agent
    )
    with reading.together(org, wider_reads(org, start, end, filters)):
        # The stored durations' summaries, read once for the times, the agents and the queues.
        found = None
        if filters.tag is None:
            found = duration_summaries(org, start, end, filters)
        return {
            "conversations": conversation_counts(org, start, end, filters),
            "messages": message_counts(org, start, end, filters),
            "times": response_times(org, start, end, filters, found),
            "sla": more.sla_attainment(org, start, end, filters),
            "backlog": backlog(org, filters),
            "gate": gate_decisions(org, start, end, filters),
            "followups": more.followups(org, start, end, filters),
            "per_day": messages_per_day(org, start, end, filters),
            "heatmap": heatmap(org, start, end, filters),
            "numbers": more.with_number_extras(
                org, start, end, filters, per_number(org, start, end, filters)
            ),
            "agents": more.with_agent_extras(
                org, start, end, filters, per_agent(org, start, end, filters, found)
            ),
            "queues": more.per_queue(org, start, end, filters, found),
            "tags": more.per_tag(org, start, end, filters),
            "csat": asdict(csat),
        }


def headline(org, start, end, filters: Filters) -> dict:
    """The figures compared with the previous period: the KPI cards' numbers only (the
    previous period's; the current one's come from `all_figures` through `headline_of`)."""
    from conversa.insights import more_figures as more  # it builds on this module

    with reading.together(org, wider_reads(org, start, end, filters, headline=True)):
        return headline_of(
            {
                "conversations": conversation_counts(org, start, end, filters),
                "messages": message_counts(org, start, end, filters),
                "times": response_times(org, start, end, filters),
                "sla": more.sla_attainment(org, start, end, filters),
            }
        )


def wider_reads(
    org, start, end, filters: Filters, *, headline: bool = False
) -> list[reading.Reading]:
    """The reads of the counts `all_figures` (or `headline`) answers its figures from
    (`reading.together`): one per grouping of the period's rows under the filters, and
    one of now's. A figure that asks for something else (another grouping, other
    dimensions: the number's health under a filter, the live tables under a tag) reads
    it on its own, as it would anyway."""
    from conversa.insights import more_figures as more  # it builds on this module

    period = (reading.local_hour(org, start), reading.local_hour(org, end))
    dims = {
        "number_id": filters.number and filters.number.pk,
        "queue_id": filters.queue and filters.queue.pk,
        "agent_id": filters.agent and filters.agent.pk,
    }
    durations = frozenset(DURATION_BUCKETS)
    cards = durations | {*CONVERSATION_METRICS, "in", "out", *more.SLA_METRICS.values()}
    if headline:
        return [reading.Reading(*period, ("metric",), cards, **dims)]
    now = (reading.NOW, reading.NOW + timedelta(hours=1))
    handled = (rows_.HANDLED,) if handled_by_day(filters) else ()
    queues = {*GROUPING_BUCKETS["queue_id"], *more.QUEUE_METRICS.values(), "open"}
    health = {"number_id": dims["number_id"]}
    return [
        reading.Reading(*period, ("metric",), cards, ("gate:", "tag:"), **dims),
        reading.Reading(*period, ("agent_id", "metric"), durations, handled, **dims),
        reading.Reading(*period, ("queue_id", "metric"), frozenset(queues), **dims),
        reading.Reading(*period, ("number_id", "metric"), STATUS_SET, ("gate:",), **dims),
        reading.Reading(*period, DAY_NUMBER, frozenset({"sent", "failed"}), ("gate:",), **health),
        reading.Reading(*now, ("metric",), frozenset({"open"}), ("tag:",), **dims),
    ]


def headline_of(figures: dict) -> dict:
    """The KPI cards' numbers out of figures already computed (`all_figures`'s, or the few
    `headline` computes)."""
    conversations_, messages_ = figures["conversations"], figures["messages"]
    times, attained = figures["times"], figures["sla"]
    return {
        "opened": conversations_["opened"],
        "resolved": conversations_["resolved"],
        "inbound": messages_["inbound"],
        "outbound": messages_["outbound"],
        "first_response_median": times["first_response"]["median"],
        "first_response_p90": times["first_response"]["p90"],
        "resolution_median": times["resolution"]["median"],
        "resolution_p90": times["resolution"]["p90"],
        "sla_first_pct": attained["first"]["pct"],
        "sla_resolution_pct": attained["resolution"]["pct"],
    }
