"""The Insights API: the page's figures as JSON, from the same functions (`figures`), for a
period of local days compared with the previous one of equal length. An agent's token or
session sees their own figures only; another organization's number, queue, member or tag is
a 404."""

from datetime import date
from typing import Literal

from django.http import HttpRequest
from ninja import Router

from conversa.bounds import Id
from conversa.insights import figures, periods

router = Router(tags=["insights"])


@router.get("/insights")
def insights(
    request: HttpRequest,
    period: Literal["today", "7d", "30d", ""] = "",
    start: date | None = None,
    end: date | None = None,
    number_id: Id | None = None,
    queue_id: Id | None = None,
    agent_id: Id | None = None,
    tag_id: Id | None = None,
):
    """Every figure of the period (the last 7 days unless `period` or `start` and `end` say
    otherwise; `start` and `end` are local days, both included, at most 366 apart) and the headline figures of the previous period of equal length."""
    org = request.org
    if start or end:
        chosen = periods.custom(org, start or end, end or start)
    else:
        chosen = periods.preset(org, period or "7d")
    filters = periods.filters_for(
        org,
        request.member,
        number_id=number_id,
        queue_id=queue_id,
        agent_id=agent_id,
        tag_id=tag_id,
    )
    before = chosen.previous(org)
    return {
        "period": {"start": chosen.first_day, "end": chosen.last_day, "days": chosen.days},
        "previous_period": {"start": before.first_day, "end": before.last_day},
        "filters": {
            "number_id": filters.number and filters.number.pk,
            "queue_id": filters.queue and filters.queue.pk,
            "agent_id": filters.agent and filters.agent.pk,
            "tag_id": filters.tag and filters.tag.pk,
        },
        "figures": figures.all_figures(org, chosen.start, chosen.end, filters),
        "previous": figures.headline(org, before.start, before.end, filters),
    }
