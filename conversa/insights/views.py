"""The Insights page: KPI cards against the previous period, follow-ups and the Gate's decisions,
messages per day, the weekday × hour heatmap, and tables per queue, number, agent and tag, all
from `figures` (the API answers the same). Every figure that has a list behind it links to
that list (the inbox, Outgoing messages) with the same filters and the period's days. Owners,
admins and supervisors choose any filter; an agent sees their own figures only."""

from datetime import date
from functools import lru_cache
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.http import Http404
from django.shortcuts import render
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext as _

from conversa.accounts.models import Member
from conversa.accounts.scoping import scoped
from conversa.crm.models import FollowUp
from conversa.errors import Refused
from conversa.inbox.models import Message, Queue, Tag
from conversa.insights import assistant_figures, charts, figures, periods
from conversa.insights.models import Export
from conversa.numbers.models import Number
from conversa.web import number, operator_view, whole

PERIODS = ["today", "7d", "30d", "custom"]


def read_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def read_period(org, params, errors: dict) -> tuple[str, periods.Period]:
    choice = params.get("period", "7d")
    if choice not in PERIODS:
        choice = "7d"
    if choice != "custom":
        return choice, periods.preset(org, choice)
    first, last = read_day(params.get("start")), read_day(params.get("end"))
    if first is None or last is None:
        errors["period"] = _("Enter both days of the period as dates.")
        return choice, periods.preset(org, "7d")
    try:
        return choice, periods.custom(org, first, last)
    except Refused as exc:
        errors["period"] = str(exc)
        return choice, periods.preset(org, "7d")


def read_filters(request, errors: dict) -> figures.Filters:
    ids = {
        f"{name}_id": number(request.GET.get(name)) for name in ("number", "queue", "agent", "tag")
    }
    try:
        return periods.filters_for(request.org, request.member, **ids)
    except Http404:
        errors["filters"] = _("Choose a number, queue, member and tag from the lists.")
        return periods.filters_for(request.org, request.member)


def filter_params(member, filters: figures.Filters) -> dict:
    """The inbox's parameters for the Insights filters in use."""
    return {
        "tab": "all" if member.supervises else "mine",
        "number": filters.number and filters.number.pk,
        "queue": filters.queue and filters.queue.pk,
        "operator": filters.agent and filters.agent.pk,
        "tag": filters.tag and filters.tag.pk,
    }


def address(name: str, params: dict) -> str:
    path = path_of(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{path}?{query_of(tuple(params.items()))}"


@lru_cache(maxsize=4096)
def query_of(params: tuple) -> str:
    """The query string of the parameters that have a value, once per set of them: a page's
    figures link with a few sets of filters some two hundred times, each quoted again else."""
    return urlencode([(k, v) for k, v in params if v])


@lru_cache(maxsize=64)
def path_of(name: str, prefix: str, urlconf: str) -> str:
    """`reverse(name)` once per script prefix and URLconf: the page names the same few lists
    some three hundred times, and each reverse walks the resolver again."""
    return reverse(name)


def inbox_link(viewer: Member, filters: figures.Filters, **extra) -> str:
    """The inbox list behind a figure, as `viewer` sees it, with the same filters and `extra`
    (a status, a window `by`/`since`/`until`, a row's own queue, tag or agent, or the
    `member` whose replies or ratings it lists)."""
    return address("inbox", filter_params(viewer, filters) | extra)


def intents_link(period, filters: figures.Filters, **extra) -> str | None:
    """The Outgoing messages list behind a Gate or follow-up figure, for the period's days;
    None when a queue, agent or tag filter is in use (that list has no such filter)."""
    if filters.queue or filters.agent or filters.tag:
        return None
    days = {"since": period.first_day.isoformat(), "until": period.last_day.isoformat()}
    return address("intents", days | {"number": filters.number and filters.number.pk} | extra)


def messages_link(period, filters: figures.Filters, **extra) -> str:
    """The list of the messages behind a messages figure (`message_list`): the period's days
    and the same filters, and `extra` (a direction, a sending status, a number)."""
    return address(
        "insights-messages",
        {
            "start": period.first_day.isoformat(),
            "end": period.last_day.isoformat(),
            "number": filters.number and filters.number.pk,
            "queue": filters.queue and filters.queue.pk,
            "agent": filters.agent and filters.agent.pk,
            "tag": filters.tag and filters.tag.pk,
        }
        | extra,
    )


def ratings_link(viewer: Member, filters: figures.Filters, period, **extra) -> str:
    """The inbox's rated conversations behind a satisfaction figure: ratings answered in the
    period, of resolutions by the agent filtered on (the figure's agent is the one who
    resolved, not today's assignee; tags do not narrow it)."""
    params = filter_params(viewer, filters) | {
        "status": "any",
        "operator": None,
        "tag": None,
        "rating": "any",
        "by": "rated",
        "since": period.first_day.isoformat(),
        "until": period.last_day.isoformat(),
        "member": filters.agent and filters.agent.pk,
    }
    return address("inbox", params | extra)


def delta(now, before) -> dict | None:
    if now is None or before is None:
        return None
    return {"change": now - before, "up": now > before, "down": now < before}


COUNT, DURATION, PERCENT = "count", "duration", "percent"


def cards(member, filters, period, current: dict, previous: dict) -> list[dict]:
    """The KPI cards: each figure against the previous period, with the list behind it."""
    days = {"since": period.first_day.isoformat(), "until": period.last_day.isoformat()}

    def inbox(status: str, by: str) -> str:
        return inbox_link(member, filters, status=status, by=by, **days)

    made = [
        ("opened", _("Conversations opened"), COUNT, None, inbox("any", "opened")),
        ("resolved", _("Conversations resolved"), COUNT, None, inbox("resolved", "resolved")),
        ("inbound", _("Messages in"), COUNT, None, messages_link(period, filters, direction="in")),
        (
            "outbound",
            _("Messages out"),
            COUNT,
            None,
            messages_link(period, filters, direction="out"),
        ),
        (
            "first_response_median",
            _("First response (median)"),
            DURATION,
            "first_response_p90",
            inbox("any", "responded"),
        ),
        (
            "resolution_median",
            _("Resolution (median)"),
            DURATION,
            "resolution_p90",
            inbox("resolved", "resolved"),
        ),
        ("sla_first_pct", _("First replies on time"), PERCENT, None, inbox("any", "responded")),
        ("sla_resolution_pct", _("Resolved on time"), PERCENT, None, inbox("resolved", "resolved")),
    ]
    return [
        {
            "key": key,
            "label": label,
            "kind": kind,
            "value": current[key],
            "previous": previous[key],
            "delta": delta(current[key], previous[key]),
            "p90": p90 and current[p90],
            "link": link,
        }
        for key, label, kind, p90, link in made
    ]


def gate_rows(period, filters, gate: list[dict]) -> list[dict]:
    """The Gate's decisions by reason, each with the messages it decided that way and its
    reason in the reader's language (the Gate stores the English words it marked for
    translation; one filled in with values stays as stored)."""
    return [
        row
        | {
            "words": _(row["example"]) if row["example"] else "",
            "link": intents_link(
                period, filters, verdict=row["verdict"], reason=row["reason_code"] or ""
            ),
        }
        for row in gate
    ]


FOLLOWUP_REASONS = dict(FollowUp.CancelReason.choices)


def followup_rows(period, filters, followups: dict) -> dict:
    """The follow-ups due in the period with the lists behind them."""

    def link(**extra):
        return intents_link(period, filters, origin="automation", by="due", **extra)

    stopped = [
        {"reason": FOLLOWUP_REASONS[code], "count": n, "link": link(stopped=code)}
        for code, n in followups["stopped_by_reason"].items()
        if n
    ]
    return {
        "sent": followups["sent"],
        "sent_link": link(status="sent", followups="live"),
        "blocked": followups["blocked"],
        "blocked_link": link(status="blocked", followups="live"),
        "failed": followups["failed"],
        "failed_link": link(status="failed", followups="live"),
        "waiting": followups["waiting"],
        "waiting_link": link(followups="waiting"),
        "due": followups["due"],
        "due_link": link(),
        "stopped": stopped,
    }


@operator_view
def insights(request):
    org, member = request.org, request.member
    errors: dict[str, str] = {}
    choice, period = read_period(org, request.GET, errors)
    filters = read_filters(request, errors)
    before = period.previous(org)
    data = figures.all_figures(org, period.start, period.end, filters)
    previous = figures.headline(org, before.start, before.end, filters)
    current = figures.headline_of(data)
    days = {"since": period.first_day.isoformat(), "until": period.last_day.isoformat()}
    for row in data["queues"]:
        if row["queue_id"] is not None:
            row["links"] = {
                "opened": inbox_link(
                    member, filters, queue=row["queue_id"], status="any", by="opened", **days
                ),
                "resolved": inbox_link(
                    member, filters, queue=row["queue_id"], status="resolved", by="resolved", **days
                ),
                "open": inbox_link(member, filters, queue=row["queue_id"], status="active"),
            }
    for row in data["tags"]:
        row["links"] = {
            "opened": inbox_link(
                member, filters, tag=row["tag_id"], status="any", by="opened", **days
            ),
            "resolved": inbox_link(
                member, filters, tag=row["tag_id"], status="resolved", by="resolved", **days
            ),
            "open": inbox_link(member, filters, tag=row["tag_id"], status="active"),
        }
    for row in data["agents"]:
        row["link"] = inbox_link(member, filters, operator=row["member_id"], status="active")
        row["handled_link"] = inbox_link(
            member, filters, status="any", by="replied", member=row["member_id"], **days
        )
        row["csat_link"] = ratings_link(member, filters, period, member=row["member_id"])
    for row in data["numbers"]:
        row["link"] = inbox_link(member, filters, number=row["number_id"], status="any")
        row["sent_link"] = messages_link(
            period, filters, number=row["number_id"], direction="out", status="sent"
        )
        row["failed_link"] = messages_link(
            period, filters, number=row["number_id"], direction="out", status="failed"
        )
        row["held_link"] = intents_link(period, filters, verdict="held", number=row["number_id"])
        row["chart"] = charts.health_bars(row["health"])
        row["chart"]["marks"] = charts.health_marks(row["chart"])
    heat = charts.heat_rows(data["heatmap"])
    customers = messages_link(period, filters, direction="in")
    for weekday, row in enumerate(heat, start=1):
        for cell in row["hours"]:
            cell["link"] = cell["count"] and f"{customers}&weekday={weekday}&hour={cell['hour']}"
    bars = charts.day_bars(data["per_day"])
    for shown, day in zip(bars["days"], data["per_day"], strict=True):
        one_day = periods.local_period(org, day["day"], day["day"])
        shown["links"] = {
            way: messages_link(one_day, filters, direction=way) for way in ("in", "out")
        }
    context = {
        "choice": choice,
        "period": period,
        "before": before,
        "errors": errors,
        "filters": filters,
        "cards": cards(member, filters, period, current, previous),
        "data": data,
        "gate": gate_rows(period, filters, data["gate"]),
        "followups": followup_rows(period, filters, data["followups"]),
        "bars": bars,
        "bar_marks": charts.bar_marks(bars),
        "heat": heat,
        "heat_body": charts.heat_body(heat),
        "queue_bars": charts.queue_bars(data["queues"]),
        "backlog_link": inbox_link(member, filters, status="active"),
        "csat_link": ratings_link(member, filters, period),
        "reopened_link": inbox_link(member, filters, status="any", by="reopened", **days),
        "times_links": {
            "first_response": inbox_link(member, filters, status="any", by="responded", **days),
            "resolution": inbox_link(member, filters, status="resolved", by="resolved", **days),
        },
        "assistant": assistant_figures.assistant(org, period.start, period.end)
        if member.supervises
        else None,
        "assistant_links": {
            "answers": address("settings-assistant-activity", {"kind": "reply"}),
            "handoffs": address("settings-assistant-activity", {"outcome": "handed_off"}),
            "rated": address("settings-assistant-activity", {"rating": "good"}),
        },
        "max_days": periods.MAX_DAYS,
        "numbers": choices(scoped(org, Number), "name", filters.number),
        "queues": choices(scoped(org, Queue), "name", filters.queue) if member.supervises else [],
        "agents": choices(scoped(org, Member).filter(is_active=True), "display_name", filters.agent)
        if member.supervises
        else [],
        "tags": choices(scoped(org, Tag), "name", filters.tag),
        "export_fields": export_fields(period, filters),
        "export_kinds": [(k, label) for k, label in Export.Kind.choices if k != Export.Kind.AUDIT],
    }
    return render(request, "insights/insights.html", context)


def choices(rows, name: str, chosen) -> list[tuple[int, str, bool]]:
    """A filter's list: each row's key and `name`, in order of it, and whether it is the one
    `chosen`. Read as values, not models: the page lists every number, queue, member and tag."""
    chosen_pk = chosen and chosen.pk
    return [
        (pk, label, pk == chosen_pk) for pk, label in rows.order_by(name).values_list("pk", name)
    ]


def export_fields(period: periods.Period, filters: figures.Filters) -> list[tuple[str, object]]:
    """The period and filters shown, as the export form's hidden fields."""
    return [
        ("start", period.first_day.isoformat()),
        ("end", period.last_day.isoformat()),
        ("number", filters.number and filters.number.pk),
        ("queue", filters.queue and filters.queue.pk),
        ("agent", filters.agent and filters.agent.pk),
        ("tag", filters.tag and filters.tag.pk),
    ]


DIRECTIONS = {"in": Message.Direction.INBOUND, "out": Message.Direction.OUTBOUND}
# A number's figures: sent (accepted by WhatsApp, whatever came after) and failed.
SENDING = {"sent": figures.SENT, "failed": [Message.Status.FAILED]}
MESSAGES_PAGE = 100
MAX_MESSAGE_PAGES = 50
# The count says "10000+" past this: an exact count of a long period costs a long read.
MESSAGES_COUNT_CAP = 10_000


def heat_slot(params) -> tuple[int, int] | None:
    """The heatmap cell a list is for: ISO weekday 1–7 and hour 0–23, both or neither."""
    if "weekday" not in params and "hour" not in params:
        return None
    weekday, hour = number(params.get("weekday"), most=7), whole(params.get("hour"), most=23)
    if weekday is None or hour is None:
        raise Refused(_("Choose a weekday from 1 to 7 and an hour from 0 to 23."), field="hour")
    return weekday, hour


@operator_view
def message_list(request):
    """The messages behind Insights' messages figures (in, out, per day, a heatmap cell's
    weekday and hour, a number's sent and failed): the period's days (`start`, `end`) under the same filters, read by the figures'
    own query (`figures.messages`), newest first, a page at a time. A value the page cannot
    use is refused (400), not guessed."""
    org, params = request.org, request.GET
    direction, status = params.get("direction", ""), params.get("status", "")
    if direction and direction not in DIRECTIONS:
        raise Refused(_("Choose messages in or out."), field="direction")
    if status and status not in SENDING:
        raise Refused(_("Choose sent or failed messages."), field="status")
    page = 1
    if "page" in params:
        page = number(params["page"], most=MAX_MESSAGE_PAGES)
        if page is None:
            raise Refused(
                _("Choose a page from 1 to %(n)s.") % {"n": MAX_MESSAGE_PAGES}, field="page"
            )
    errors: dict[str, str] = {}
    days = {"period": "custom", "start": params.get("start"), "end": params.get("end")}
    _choice, period = read_period(org, days, errors)
    filters = read_filters(request, errors)
    if errors:
        raise Refused(next(iter(errors.values())))
    rows = figures.messages(org, period.start, period.end, filters)
    slot = heat_slot(params)
    if slot is not None:  # a heatmap cell: its local weekday and hour in every week
        zone = ZoneInfo(org.time_zone)
        rows = rows.annotate(
            weekday=ExtractIsoWeekDay("created_at", tzinfo=zone),
            local_hour=ExtractHour("created_at", tzinfo=zone),
        ).filter(weekday=slot[0], local_hour=slot[1])
    if direction:
        rows = rows.filter(direction=DIRECTIONS[direction])
    if status:
        rows = rows.filter(status__in=SENDING[status])
    found = rows.order_by().values("pk")[: MESSAGES_COUNT_CAP + 1].count()
    start = (page - 1) * MESSAGES_PAGE
    shown = list(
        rows.select_related("conversation__contact", "number", "sender").order_by(
            "-created_at", "-id"
        )[start : start + MESSAGES_PAGE]
    )
    more = found > start + MESSAGES_PAGE and page < MAX_MESSAGE_PAGES
    query = {k: v for k, v in params.items() if k != "page"}
    return render(
        request,
        "insights/messages.html",
        {
            "messages_shown": shown,
            "count": found,
            "capped": found > MESSAGES_COUNT_CAP,
            "direction": direction,
            "status": status,
            "period": period,
            "filters": filters,
            "next_page": more and f"?{urlencode(query | {'page': page + 1})}",
            "previous_page": page > 1 and f"?{urlencode(query | {'page': page - 1})}",
            "back": address(
                "insights",
                {
                    "period": "custom",
                    "start": period.first_day.isoformat(),
                    "end": period.last_day.isoformat(),
                }
                | dict(export_fields(period, filters)[2:]),
            ),
        },
    )
