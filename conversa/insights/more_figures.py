"""The Insights figures beyond the counts of `figures`: SLA attainment, follow-ups, the tables
per queue and per tag, each agent's satisfaction and capacity, and per number the Gate's holds
and its health day by day. Same shape as `figures`: (organization, start, end, filters), the
period [start, end), a few aggregate queries each, never one per conversation."""

from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate

from conversa import business_hours as sla
from conversa.accounts.models import Member, Organization
from conversa.crm.models import FollowUp
from conversa.engine.models import GateDecision, MessageIntent
from conversa.inbox.models import Conversation, Queue, Survey, Tag
from conversa.insights.durations import median, stored_summaries
from conversa.insights.figures import (
    NONE,
    Filters,
    conversations,
    counted,
    counted_now,
    local_days,
    share,
)
from conversa.numbers.models import Number
from conversa.numbers.services import sending_score
from conversa.providers.models import ProviderEvent

RESOLVED = Conversation.Status.RESOLVED


def in_period(field: str, start, end) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def resolved_in(start, end, prefix: str = "") -> Q:
    """Resolved in the period and still resolved: the conversation's last resolution counts."""
    return Q(**{f"{prefix}status": RESOLVED}) & in_period(f"{prefix}resolved_at", start, end)


SLA_METRICS = {
    "first_due": "sla_first",
    "first_met": "sla_first_met",
    "resolution_due": "sla_resolution",
    "resolution_met": "sla_resolution_met",
}


def answered_in(start, end) -> Q:
    """First replies given in the period, measured from the customer's first message (as the
    first response time is)."""
    return in_period("first_response_at", start, end) & Q(first_inbound_at__isnull=False)


def sla_attainment(org: Organization, start, end, filters: Filters) -> dict:
    """Of the first replies given in the period to conversations whose queue has a target,
    how many came by the due time; the same for resolutions. From the hourly counts
    (`rows.CONVERSATION_METRICS`), or with a tag filter one query of the conversations."""
    if filters.tag is None:
        n = counted(org, start, end, filters, by=("metric",), metrics=SLA_METRICS.values())
        counts = {name: n.get((metric,), 0) for name, metric in SLA_METRICS.items()}
    else:
        answered = answered_in(start, end) & Q(first_response_due_at__isnull=False)
        resolved = resolved_in(start, end) & Q(resolution_due_at__isnull=False)
        counts = conversations(org, filters).aggregate(
            first_due=Count("id", filter=answered),
            first_met=Count(
                "id", filter=answered & Q(first_response_at__lte=F("first_response_due_at"))
            ),
            resolution_due=Count("id", filter=resolved),
            resolution_met=Count(
                "id", filter=resolved & Q(resolved_at__lte=F("resolution_due_at"))
            ),
        )
    return {
        clock: {
            "with_target": counts[f"{clock}_due"],
            "met": counts[f"{clock}_met"],
            "pct": share(counts[f"{clock}_met"], counts[f"{clock}_due"]),
        }
        for clock in ("first", "resolution")
    }


def followups(org: Organization, start, end, filters: Filters) -> dict:
    """The CRM's follow-ups due in the period: sent, blocked by the Gate, failed, still to go,
    and stopped before sending, by reason. Filters narrow to contacts with a conversation that
    matches them. One query."""
    rows = FollowUp.objects.for_org(org).filter(in_period("due_at", start, end))
    if filters.any:
        rows = rows.filter(contact_id__in=conversations(org, filters).values("contact_id"))
    live = Q(cancelled_at__isnull=True)
    status = MessageIntent.Status
    reasons = FollowUp.CancelReason.values
    counts = rows.aggregate(
        due=Count("id"),
        sent=Count("id", filter=live & Q(intent__status=status.SENT)),
        blocked=Count("id", filter=live & Q(intent__status=status.BLOCKED)),
        failed=Count("id", filter=live & Q(intent__status=status.FAILED)),
        **{f"stopped_{r}": Count("id", filter=Q(cancel_reason=r)) for r in reasons},
    )
    stopped = {r: counts.pop(f"stopped_{r}") for r in reasons}
    counts["stopped"] = sum(stopped.values())
    counts["waiting"] = counts["due"] - counts["sent"] - counts["blocked"] - counts["failed"]
    counts["waiting"] -= counts["stopped"]
    return counts | {"stopped_by_reason": stopped}


def _medians_by(org: Organization, rows, key: str, begin: str, finish: str) -> dict:
    schedule = org.sla_schedule()
    spans: dict = {}
    for group, started, ended in rows.values_list(key, begin, finish):
        spans.setdefault(group, []).append(sla.business_seconds(started, ended, schedule))
    return {group: median(values) for group, values in spans.items()}


def per_queue(org: Organization, start, end, filters: Filters, found: dict | None = None) -> list:
    """Each queue's conversations opened and resolved in the period, open now, the median
    first response in the period and its SLA attainment; conversations in no queue last. From
    the hourly counts and the stored durations, or with a tag filter from the conversations."""
    rows = conversations(org, filters)
    answered = answered_in(start, end)
    if filters.tag is None:
        grouped = queue_counts(org, start, end, filters)
    else:
        with_target = answered & Q(first_response_due_at__isnull=False)
        grouped = {
            row.pop("queue_id"): row
            for row in rows.order_by()
            .values("queue_id")
            .annotate(
                opened=Count("id", filter=in_period("created_at", start, end)),
                resolved=Count("id", filter=resolved_in(start, end)),
                open=Count("id", filter=~Q(status=RESOLVED)),
                with_target=Count("id", filter=with_target),
                met=Count(
                    "id",
                    filter=with_target & Q(first_response_at__lte=F("first_response_due_at")),
                ),
            )
        }
    if filters.tag is None:  # the first response times kept as conversations change
        firsts = {
            queue_id: stats["median"]
            for queue_id, stats in stored_summaries(
                org, "first_response", start, end, filters, by="queue_id", found=found
            ).items()
        }
    else:
        firsts = _medians_by(
            org, rows.filter(answered), "queue_id", "first_inbound_at", "first_response_at"
        )
    queues = Queue.objects.for_org(org).order_by("name", "pk")
    if filters.queue is not None:
        queues = queues.filter(pk=filters.queue.pk)
    empty = {"opened": 0, "resolved": 0, "open": 0, "with_target": 0, "met": 0}

    def row(queue_id, name):
        counts = grouped.get(queue_id, empty)
        return {
            "queue_id": queue_id,
            "name": name,
            "opened": counts["opened"],
            "resolved": counts["resolved"],
            "open": counts["open"],
            "first_response_median": firsts.get(queue_id),
            "sla_pct": share(counts["met"], counts["with_target"]),
        }

    table = [row(q.pk, q.name) for q in queues]
    if filters.queue is None and any(grouped.get(None, empty).values()):
        table.append(row(None, ""))
    return table


QUEUE_METRICS = {
    "opened": "opened",
    "resolved": "resolved",
    "with_target": "sla_first",
    "met": "sla_first_met",
}


def queue_counts(org: Organization, start, end, filters: Filters) -> dict:
    """Per queue (None: in no queue) the counts of `per_queue` from the hourly counts: the
    period's, and the open conversations of now."""
    grouped: dict = {}
    names = {metric: name for name, metric in QUEUE_METRICS.items()} | {"open": "open"}
    found = counted(org, start, end, filters, by=("queue_id", "metric"), metrics=names)
    found |= counted_now(org, filters, by=("queue_id", "metric"), metrics=("open",))
    for (queue_id, metric), n in found.items():
        row = grouped.setdefault(queue_id or None, dict.fromkeys(names.values(), 0))
        row[names[metric]] = n
    return grouped


def per_tag(org: Organization, start, end, filters: Filters) -> list[dict]:
    """Each tag's conversations (tagged now) opened and resolved in the period, and open now:
    the hourly counts kept under each tag (`rows.tagged`, metrics `tag:<id>:<metric>`)."""
    tags = Tag.objects.for_org(org).order_by("name", "pk")
    if filters.tag is not None:
        tags = tags.filter(pk=filters.tag.pk)
    tags = list(tags)
    # Named, not by prefix: the index finds each name.
    narrow = {"metrics": [f"tag:{t.pk}:{m}" for t in tags for m in ("opened", "resolved", "open")]}
    unfiltered = Filters(number=filters.number, queue=filters.queue, agent=filters.agent)
    found = counted(org, start, end, unfiltered, by=("metric",), **narrow)
    found |= counted_now(org, unfiltered, by=("metric",), **narrow)
    grouped: dict = {}
    for (metric,), n in found.items():
        _, tag_id, name = metric.split(":")
        if name in ("opened", "resolved", "open"):
            grouped.setdefault(int(tag_id), {"opened": 0, "resolved": 0, "open": 0})[name] = n
    empty = {"opened": 0, "resolved": 0, "open": 0}
    return [{"tag_id": t.pk, "name": t.name, **grouped.get(t.pk, empty)} for t in tags]


def with_agent_extras(org: Organization, start, end, filters: Filters, rows: list[dict]) -> list:
    """The per-agent rows (`figures.per_agent`) with each one's satisfaction in the period
    (answers to surveys of conversations they resolved) and their capacity: how many open
    conversations distribution gives them at most."""
    answered = Survey.objects.for_org(org).filter(
        in_period("answered_at", start, end), rating__isnull=False
    )
    if filters.number is not None:
        answered = answered.filter(number=filters.number)
    if filters.queue is not None:
        answered = answered.filter(queue=filters.queue)
    ratings = {
        row["agent_id"]: row
        for row in answered.values("agent_id").annotate(
            rated=Count("id"), satisfied=Count("id", filter=Q(rating__gte=4))
        )
    }
    capacity = dict(
        Member.objects.for_org(org)
        .filter(pk__in=[r["member_id"] for r in rows])
        .values_list("pk", "capacity")
    )
    for row in rows:
        rated = ratings.get(row["member_id"], {"rated": 0, "satisfied": 0})
        row["csat_count"] = rated["rated"]
        row["csat_pct"] = share(rated["satisfied"], rated["rated"])
        row["capacity"] = capacity.get(row["member_id"], 0)
    return rows


def _by_number_and_day(rows, field: str, zone: ZoneInfo, **counts) -> dict:
    grouped = (
        rows.order_by()
        .annotate(day=TruncDate(field, tzinfo=zone))
        .values("number_id", "day")
        .annotate(**counts)
    )
    return {(row.pop("number_id"), row.pop("day")): row for row in grouped}


def number_health(org: Organization, start, end, filters: Filters) -> dict[int, dict]:
    """Per number: the Gate's holds in the period (deferred and blocked decisions, narrowed
    by the filters as the Gate's figure is), and its sending health on each local day, the
    score `numbers.services.sending_score` gives that day's sends, failures, disconnects and
    blocks (None on a day with none of them). Health is the number's own: the queue, agent
    and tag filters do not narrow it. The sends and the Gate's decisions from the hourly
    counts (`figures.counted`), hours of UTC as the other counts; a few queries."""
    zone = ZoneInfo(org.time_zone)
    if filters.tag is None:
        held_counts = counted(
            org, start, end, filters, by=("number_id", "metric"), metric_prefix="gate:"
        )
        holds: dict = {}
        for (number_id, metric), n in held_counts.items():
            if metric.split(":", 2)[1] != GateDecision.Verdict.ALLOW:
                holds[number_id] = holds.get(number_id, 0) + n
    else:
        held = GateDecision.objects.for_org(org).filter(in_period("created_at", start, end))
        held = held.exclude(verdict=GateDecision.Verdict.ALLOW)
        if filters.number is not None:
            held = held.filter(number=filters.number)
        narrowed = Filters(queue=filters.queue, agent=filters.agent, tag=filters.tag)
        held = held.filter(intent__conversation__in=conversations(org, narrowed).values("pk"))
        holds = dict(
            held.order_by()
            .values("number_id")
            .annotate(n=Count("id"))
            .values_list("number_id", "n")
        )
    sends: dict = {}
    decided: dict = {}
    by = ("day", "number_id", "metric")
    daily = counted(
        org,
        start,
        end,
        Filters(number=filters.number),
        by=by,
        metrics=("sent", "failed"),
    )
    daily |= counted(org, start, end, NONE, by=by, metric_prefix="gate:")
    for (day, number_id, metric), n in daily.items():
        key = (number_id, day)
        if metric.startswith("gate:"):
            row = decided.setdefault(key, {"total": 0, "blocked": 0})
            row["total"] += n
            if metric.split(":", 2)[1] == GateDecision.Verdict.BLOCK:
                row["blocked"] += n
        else:
            row = sends.setdefault(key, {"sent": 0, "failed": 0})
            row[metric] += n
    drops = _by_number_and_day(
        ProviderEvent.objects.filter(
            Q(event__status=Number.Status.DISCONNECTED) | Q(event__reason="reconnecting"),
            organization=org,
            kind="ConnectionUpdate",
            received_at__gte=start,
            received_at__lt=end,
        ).exclude(event__reason="logged_out"),
        "received_at",
        zone,
        n=Count("id"),
    )
    days = local_days(org, start, end)
    numbers = Number.objects.for_org(org).values_list("pk", flat=True)
    if filters.number is not None:
        numbers = numbers.filter(pk=filters.number.pk)
    return {
        pk: {
            "held": holds.get(pk, 0),
            "health": [_day_score(pk, d, sends, decided, drops) for d in days],
        }
        for pk in numbers
    }


def _day_score(number_id: int, day: date, sends: dict, decided: dict, drops: dict) -> dict:
    sent = sends.get((number_id, day), {"sent": 0, "failed": 0})
    gate = decided.get((number_id, day), {"total": 0, "blocked": 0})
    dropped = drops.get((number_id, day), {"n": 0})["n"]
    quiet = not (sent["sent"] or sent["failed"] or gate["total"] or dropped)
    score = None
    if not quiet:
        score = sending_score(
            sent=sent["sent"],
            failed=sent["failed"],
            drops=dropped,
            decided=gate["total"],
            blocked=gate["blocked"],
        )
    return {"day": day, "score": score}


def with_number_extras(org: Organization, start, end, filters: Filters, rows: list[dict]) -> list:
    """The per-number rows (`figures.per_number`) with the Gate's holds and the health per day."""
    extras = number_health(org, start, end, filters)
    for row in rows:
        row.update(extras.get(row["number_id"], {"held": 0, "health": []}))
    return rows
