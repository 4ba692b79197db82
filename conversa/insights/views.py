"""The Insights page: KPI cards against the previous period, messages per day, the weekday ×
hour heatmap, the Gate's decisions, and tables per number and per agent, all from `figures`
(the API answers the same). Owners, admins and supervisors choose any filter; an agent sees
their own figures only."""

from datetime import date
from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from conversa.accounts.models import Member
from conversa.accounts.scoping import scoped
from conversa.errors import Refused
from conversa.inbox.models import Queue, Tag
from conversa.insights import charts, figures, periods
from conversa.numbers.models import Number
from conversa.web import number, operator_view

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


def inbox_link(member, filters: figures.Filters, **extra) -> str | None:
    """The inbox list behind a figure, when every filter in use is one the inbox has."""
    if filters.queue is not None:
        return None
    params = {
        "tab": "all" if member.supervises else "mine",
        "number": filters.number and filters.number.pk,
        "operator": filters.agent and filters.agent.pk,
        "tag": filters.tag and filters.tag.pk,
        **extra,
    }
    return f"{reverse('inbox')}?{urlencode({k: v for k, v in params.items() if v})}"


def delta(now, before) -> dict | None:
    if now is None or before is None:
        return None
    return {"change": now - before, "up": now > before, "down": now < before}


@operator_view
def insights(request):
    org, member = request.org, request.member
    errors: dict[str, str] = {}
    choice, period = read_period(org, request.GET, errors)
    filters = read_filters(request, errors)
    before = period.previous(org)
    data = figures.all_figures(org, period.start, period.end, filters)
    previous = figures.headline(org, before.start, before.end, filters)
    current = figures.headline(org, period.start, period.end, filters)
    cards = [
        ("opened", _("Conversations opened"), False),
        ("resolved", _("Conversations resolved"), False),
        ("inbound", _("Messages in"), False),
        ("outbound", _("Messages out"), False),
        ("first_response_median", _("First response (median)"), True),
        ("resolution_median", _("Resolution (median)"), True),
    ]
    context = {
        "choice": choice,
        "period": period,
        "before": before,
        "errors": errors,
        "filters": filters,
        "cards": [
            {
                "key": key,
                "label": label,
                "duration": duration,
                "value": current[key],
                "previous": previous[key],
                "delta": delta(current[key], previous[key]),
            }
            for key, label, duration in cards
        ],
        "data": data,
        "bars": charts.day_bars(data["per_day"]),
        "heat": charts.heat_rows(data["heatmap"]),
        "backlog_link": inbox_link(member, filters, status="active"),
        "max_days": periods.MAX_DAYS,
        "numbers": scoped(org, Number).order_by("name"),
        "queues": scoped(org, Queue).order_by("name") if member.supervises else [],
        "agents": scoped(org, Member).filter(is_active=True).order_by("display_name")
        if member.supervises
        else [],
        "tags": scoped(org, Tag).order_by("name"),
    }
    return render(request, "insights/insights.html", context)
