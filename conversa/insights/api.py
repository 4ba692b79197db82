"""The Insights API: the page's figures as JSON, from the same functions (`figures`), for a
period of local days compared with the previous one of equal length. An agent's token or
session sees their own figures only; another organization's number, queue, member or tag is
a 404. The answer's shape is documented field by field in the OpenAPI (`InsightsOut`)."""

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from conversa.bounds import Id
from conversa.insights import assistant_figures, figures, periods

router = Router(tags=["insights"])

Seconds = Field(None, description="Seconds (business seconds when the organization has hours)")


class InsightsPeriod(Schema):
    start: date = Field(description="First local day, included")
    end: date = Field(description="Last local day, included")
    days: int | None = Field(None, description="Number of days")


class InsightsFilters(Schema):
    number_id: int | None
    queue_id: int | None
    agent_id: int | None = Field(description="An agent's own id when an agent asks")
    tag_id: int | None


class InsightsConversations(Schema):
    opened: int = Field(description="New conversations started in the period")
    reopened: int = Field(description="Resolved conversations that came back in the period")
    resolved: int = Field(description="Resolved in the period and still resolved")


class InsightsMessages(Schema):
    inbound: int = Field(description="Messages from customers")
    outbound: int = Field(description="Messages sent by the business")


class InsightsDurations(Schema):
    count: int = Field(description="Conversations measured")
    median: float | None = Seconds
    p90: float | None = Field(None, description="90th percentile (nearest rank), seconds")


class InsightsTimes(Schema):
    first_response: InsightsDurations = Field(description="Customer's first message → first reply")
    resolution: InsightsDurations = Field(description="Customer's first message → resolution")
    business_hours: bool = Field(description="Counted in business hours (else around the clock)")


class InsightsAttained(Schema):
    with_target: int = Field(description="Conversations whose queue had an SLA target")
    met: int = Field(description="Of those, done by the due time")
    pct: float | None = Field(None, description="met / with_target × 100; null without targets")


class InsightsSla(Schema):
    first: InsightsAttained = Field(description="First replies given in the period")
    resolution: InsightsAttained = Field(description="Resolutions in the period")


class InsightsWaiting(Schema):
    conversation_id: int
    contact: str
    since: datetime = Field(description="The customer's first unanswered message")


class InsightsBacklog(Schema):
    open: int = Field(description="Conversations not resolved now, whatever the period")
    oldest_waiting: InsightsWaiting | None


class InsightsGateRow(Schema):
    verdict: Literal["allow", "defer", "block"]
    reason_code: str
    count: int = Field(description="Decisions in the period")
    example: str = Field(description="One of the reasons, in words")


class InsightsFollowups(Schema):
    due: int = Field(description="Follow-up steps due in the period")
    sent: int
    blocked: int = Field(description="Refused by the Gate")
    failed: int
    stopped: int = Field(description="Cancelled before sending")
    waiting: int = Field(description="Still to be sent")
    stopped_by_reason: dict[str, int] = Field(description="Cancelled, by reason code")


class InsightsDay(Schema):
    day: date
    inbound: int
    outbound: int


class InsightsHealthDay(Schema):
    day: date
    score: int | None = Field(None, description="0–100; null on a day with no activity")


class InsightsNumber(Schema):
    number_id: int
    name: str
    sent: int = Field(description="Accepted by WhatsApp")
    delivered_pct: float | None
    read_pct: float | None
    failed: int
    held: int = Field(description="Deferred or blocked by the Gate")
    health: list[InsightsHealthDay]


class InsightsAgent(Schema):
    member_id: int
    name: str
    handled: int = Field(description="Conversations they sent a message in")
    first_response_median: float | None = Seconds
    resolution_median: float | None = Seconds
    open: int = Field(description="Assigned to them and not resolved, now")
    capacity: int = Field(description="Most open conversations distribution gives them")
    csat_count: int
    csat_pct: float | None = Field(None, description="Ratings of 4 or 5, as a percentage")


class InsightsQueue(Schema):
    queue_id: int | None = Field(description="Null: conversations in no queue")
    name: str
    opened: int
    resolved: int
    open: int
    first_response_median: float | None = Seconds
    sla_pct: float | None = Field(None, description="First replies by the due time, %")


class InsightsTag(Schema):
    tag_id: int
    name: str
    opened: int
    resolved: int
    open: int


class InsightsCsat(Schema):
    count: int
    average: float | None
    distribution: dict[int, int] = Field(description="Rating 1–5 → answers")
    percent_satisfied: float | None


class InsightsFigures(Schema):
    conversations: InsightsConversations
    messages: InsightsMessages
    times: InsightsTimes
    sla: InsightsSla
    backlog: InsightsBacklog
    gate: list[InsightsGateRow]
    followups: InsightsFollowups
    per_day: list[InsightsDay]
    heatmap: list[list[int]] = Field(description="7 local weekdays (Monday first) × 24 hours")
    numbers: list[InsightsNumber]
    agents: list[InsightsAgent]
    queues: list[InsightsQueue]
    tags: list[InsightsTag]
    csat: InsightsCsat


class InsightsAssistantReason(Schema):
    reason: str = Field(description="Why it handed the conversation over, in words")
    count: int


class InsightsAssistantDay(Schema):
    day: date
    tokens: int
    cost: float | None = Field(None, description="US dollars, estimated; null: no price set")


class InsightsAssistant(Schema):
    answers_sent: int = Field(description="Replies sent to customers through the Gate")
    handoffs: int = Field(description="Times it handed a conversation to the team")
    handoff_reasons: list[InsightsAssistantReason] = Field(description="Most frequent first")
    rated: int = Field(description="Its outputs of the period that people rated")
    rated_good: int
    good_pct: float | None
    tokens: int
    cost: float | None = Field(None, description="US dollars, estimated; null: no price set")
    per_day: list[InsightsAssistantDay] = Field(description="Each local day of the period")


class InsightsHeadline(Schema):
    opened: int
    resolved: int
    inbound: int
    outbound: int
    first_response_median: float | None
    first_response_p90: float | None
    resolution_median: float | None
    resolution_p90: float | None
    sla_first_pct: float | None
    sla_resolution_pct: float | None


class InsightsOut(Schema):
    period: InsightsPeriod
    previous_period: InsightsPeriod
    filters: InsightsFilters
    figures: InsightsFigures
    previous: InsightsHeadline = Field(description="The previous period's headline figures")
    assistant: InsightsAssistant | None = Field(
        None,
        description="The assistant's figures, the organization's whole whatever the filters "
        "(owners, admins and supervisors; null for agents)",
    )


@router.get("/insights", response=InsightsOut)
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
    otherwise; `start` and `end` are local days, both included, at most 366 apart) and the
    headline figures of the previous period of equal length."""
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
        "assistant": assistant_figures.assistant(org, chosen.start, chosen.end)
        if request.member.supervises
        else None,
    }
