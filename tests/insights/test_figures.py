"""The Insights figures on a day of known events: each figure exactly, the page and the API
agreeing, tenant isolation, an agent's own figures, and a bounded number of queries."""

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.accounts.models import Member, OperationalEvent
from conversa.engine.models import GateDecision, MessageIntent
from conversa.inbox.models import Contact, Conversation, Message, Tag
from conversa.insights import aggregates, figures, periods
from conversa.insights.figures import Filters

ZONE = ZoneInfo("America/Sao_Paulo")
DAY = date(2026, 6, 1)  # a Monday; business hours Mon–Fri 09:00–18:00 (the default)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


class Day:
    """One day of an organization's inbox, each row written with its own times."""

    def __init__(self, org):
        self.org, self.number = org.org, org.number
        self.org.time_zone = "America/Sao_Paulo"
        self.org.save(update_fields=["time_zone"])
        self.a = org.member()
        self.b = org.member()
        self.tag = Tag.objects.create(organization=self.org, name="VIP")
        self.phones = iter(range(10, 99))

    def conversation(self, created, **fields) -> Conversation:
        contact = Contact.objects.create(
            organization=self.org, phone=f"55119777770{next(self.phones)}", name="Cliente"
        )
        return Conversation.objects.create(
            organization=self.org,
            number=self.number,
            contact=contact,
            created_at=created,
            opened_at=created,
            **fields,
        )

    def message(self, conversation, direction, when, status, sender=None) -> Message:
        return Message.objects.create(
            organization=self.org,
            conversation=conversation,
            number=self.number,
            direction=direction,
            status=status,
            sender=sender,
            created_at=when,
        )

    def event(self, conversation, verb, when) -> None:
        OperationalEvent.objects.create(
            organization=self.org,
            verb=verb,
            object_type="conversation",
            object_id=conversation.pk,
            created_at=when,
        )

    def decision(self, conversation, verdict, reason_code="", reason="") -> None:
        intent = MessageIntent.objects.create(
            organization=self.org,
            contact=conversation.contact,
            conversation=conversation,
            origin=MessageIntent.Origin.AUTOMATION,
            body="Oi",
            idempotency_key=f"k{next(self.phones)}",
        )
        GateDecision.objects.create(
            organization=self.org,
            intent=intent,
            number=self.number,
            verdict=verdict,
            reason_code=reason_code,
            reason=reason,
            created_at=at(15),
        )


IN, OUT = Message.Direction.INBOUND, Message.Direction.OUTBOUND
S = Message.Status


@pytest.fixture
def day(org):
    d = Day(org)
    # c1: the customer writes before opening (08:00), A replies at 09:30 (30 business
    # minutes: the closed hour does not count), resolves at 10:00.
    d.c1 = d.conversation(
        at(8),
        assignee=d.a,
        first_inbound_at=at(8),
        first_response_at=at(9, 30),
        status=Conversation.Status.RESOLVED,
        resolved_at=at(10),
    )
    d.message(d.c1, IN, at(8), S.RECEIVED)
    d.message(d.c1, OUT, at(9, 30), S.READ, sender=d.a)
    d.event(d.c1, "conversation.resolved", at(10))
    # c2: transferred from A to B, who replies 10 minutes after the customer wrote.
    d.c2 = d.conversation(
        at(10), assignee=d.b, first_inbound_at=at(10), first_response_at=at(10, 10)
    )
    d.message(d.c2, IN, at(10), S.RECEIVED)
    d.event(d.c2, "conversation.transferred", at(10, 5))
    d.message(d.c2, OUT, at(10, 10), S.DELIVERED, sender=d.b)
    d.message(d.c2, OUT, at(14), S.FAILED)  # an automation's, failed
    # c3: from the day before, resolved, reopened by the customer at 11:00, no reply yet.
    d.c3 = d.conversation(at(11, day=date(2026, 5, 31)), assignee=d.a)
    d.message(d.c3, IN, at(11, day=date(2026, 5, 31)), S.RECEIVED)  # not in the period
    Conversation.objects.filter(pk=d.c3.pk).update(opened_at=at(11), first_inbound_at=at(11))
    d.message(d.c3, IN, at(11), S.RECEIVED)
    d.event(d.c3, "conversation.reopened", at(11))
    # c4: new, unassigned, tagged, waiting.
    d.c4 = d.conversation(at(12), first_inbound_at=at(12))
    d.c4.tags.add(d.tag)
    d.message(d.c4, IN, at(12), S.RECEIVED)
    d.message(d.c4, IN, at(13), S.RECEIVED)
    d.decision(d.c1, GateDecision.Verdict.ALLOW)
    d.decision(d.c2, GateDecision.Verdict.ALLOW)
    d.decision(d.c4, GateDecision.Verdict.BLOCK, "opted_out", "Opted out")
    d.decision(d.c4, GateDecision.Verdict.DEFER, "quiet_hours", "Quiet")
    return d


START, END = at(0), at(0, day=date(2026, 6, 2))


def test_each_figure_of_the_day(day):
    org, f = day.org, figures.NONE
    assert figures.conversation_counts(org, START, END, f) == {
        "opened": 3,
        "reopened": 1,
        "resolved": 1,
    }
    assert figures.message_counts(org, START, END, f) == {"inbound": 5, "outbound": 3}
    assert figures.response_times(org, START, END, f) == {
        "first_response": {"count": 2, "median": 1200, "p90": 1800},
        "resolution": {"count": 1, "median": 3600, "p90": 3600},
        "business_hours": True,
    }
    backlog = figures.backlog(org, f)
    assert backlog["open"] == 3
    assert backlog["oldest_waiting"]["conversation_id"] == day.c3.pk
    assert figures.gate_decisions(org, START, END, f) == [
        {"verdict": "allow", "reason_code": "", "count": 2, "example": ""},
        {"verdict": "block", "reason_code": "opted_out", "count": 1, "example": "Opted out"},
        {"verdict": "defer", "reason_code": "quiet_hours", "count": 1, "example": "Quiet"},
    ]
    assert figures.messages_per_day(org, START, END, f) == [
        {"day": DAY, "inbound": 5, "outbound": 3}
    ]
    grid = figures.heatmap(org, START, END, f)
    assert [hour for hour, n in enumerate(grid[0]) if n] == [8, 10, 11, 12, 13]
    assert sum(map(sum, grid)) == 5
    assert figures.per_number(org, START, END, f) == [
        {
            "number_id": day.number.pk,
            "name": str(day.number),
            "sent": 2,
            "delivered_pct": 100.0,
            "read_pct": 50.0,
            "failed": 1,
        }
    ]
    agents = {row["member_id"]: row for row in figures.per_agent(org, START, END, f)}
    assert agents[day.a.pk] | {"name": ""} == {
        "member_id": day.a.pk,
        "name": "",
        "handled": 1,
        "first_response_median": 1800,
        "resolution_median": 3600,
        "open": 1,
    }
    assert (agents[day.b.pk]["handled"], agents[day.b.pk]["first_response_median"]) == (1, 600)
    assert (agents[day.b.pk]["resolution_median"], agents[day.b.pk]["open"]) == (None, 1)


def test_always_open_counts_wall_clock_time(day):
    day.org.business_hours = {}
    day.org.save(update_fields=["business_hours"])
    times = figures.response_times(day.org, START, END, figures.NONE)
    assert times["first_response"]["p90"] == 5400  # 08:00 → 09:30
    assert times["resolution"]["median"] == 7200
    assert times["business_hours"] is False


def test_filters_narrow_to_conversations(day):
    org = day.org
    by_tag = Filters(tag=day.tag)
    assert figures.message_counts(org, START, END, by_tag) == {"inbound": 2, "outbound": 0}
    assert figures.backlog(org, by_tag)["open"] == 1
    by_a = Filters(agent=day.a)
    assert figures.conversation_counts(org, START, END, by_a) == {
        "opened": 1,
        "reopened": 1,
        "resolved": 1,
    }
    assert [row["member_id"] for row in figures.per_agent(org, START, END, by_a)] == [day.a.pk]


def test_previous_period_has_equal_length(org):
    period = periods.local_period(org.org, date(2026, 6, 1), date(2026, 6, 7))
    before = period.previous(org.org)
    assert (before.first_day, before.last_day, before.days) == (
        date(2026, 5, 25),
        date(2026, 5, 31),
        7,
    )


def test_page_and_api_show_the_same_numbers(day, client):
    client.force_login(Member.objects.get(organization=day.org, role="owner").user)
    answer = client.get("/api/insights?start=2026-06-01&end=2026-06-01").json()
    data = answer["figures"]
    assert data["conversations"] == {"opened": 3, "reopened": 1, "resolved": 1}
    assert data["messages"] == {"inbound": 5, "outbound": 3}
    assert data["times"]["first_response"] == {"count": 2, "median": 1200, "p90": 1800}
    assert data["backlog"]["open"] == 3
    # The previous period is the day before: c3 was created then, with one message in.
    assert answer["previous"]["opened"] == 1
    assert answer["previous"]["inbound"] == 1
    page = client.get("/insights/?period=custom&start=2026-06-01&end=2026-06-01")
    assert page.status_code == 200
    kpis = {card["key"]: card["value"] for card in page.context["cards"]}
    cards = {k: v for k, v in answer["previous"].items() if not k.endswith("_p90")}
    assert kpis == cards | {
        "opened": 3,
        "resolved": 1,
        "inbound": 5,
        "outbound": 3,
        "first_response_median": 1200,
        "resolution_median": 3600,
        "sla_first_pct": None,  # no queue has a target
        "sla_resolution_pct": None,
    }
    p90s = {card["key"]: card["p90"] for card in page.context["cards"] if card["p90"]}
    assert p90s == {"first_response_median": 1800, "resolution_median": 3600}
    # 1 failed of 3 sends (−16.7), 1 block of 4 decisions (−5)
    numbers = [
        {k: v for k, v in row.items() if not k.endswith("link") and k != "chart"}
        for row in page.context["data"]["numbers"]
    ]
    assert numbers == [row | {"health": [{"day": DAY, "score": 78}]} for row in data["numbers"]]
    assert "Insights" in page.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-06-02&end=2026-06-01",  # ends before it starts
        "start=2025-01-01&end=2026-06-01",  # over 366 days
        "start=2026-02-30&end=2026-03-01",  # no such day
        "start=0001-01-01&end=0001-01-02",  # before the calendar this counts on
        "start=9999-12-31&end=9999-12-31",  # in the future
    ],
)
def test_api_refuses_bad_periods(day, client, query):
    client.force_login(Member.objects.get(organization=day.org, role="owner").user)
    response = client.get(f"/api/insights?{query}")
    assert response.status_code == 422, response.content


def test_page_shows_a_form_error_for_a_bad_period(day, client):
    client.force_login(Member.objects.get(organization=day.org, role="owner").user)
    page = client.get("/insights/?period=custom&start=2026-06-02&end=2026-06-01")
    assert page.status_code == 200
    assert "period" in page.context["errors"]


def test_the_filters_in_use_are_the_ones_chosen_in_their_lists(day, client):
    other = Tag.objects.create(organization=day.org, name="Atacado")
    client.force_login(Member.objects.get(organization=day.org, role="owner").user)
    page = client.get(f"/insights/?number={day.number.pk}&agent={day.b.pk}&tag={day.tag.pk}")
    html = page.content.decode()
    chosen = {
        name: re.findall(r'<option value="(\d*)" selected>', select)
        for name, select in re.findall(r'<select name="(\w+)">(.*?)</select>', html)
    }
    assert chosen["number"] == [str(day.number.pk)]
    assert chosen["agent"] == [str(day.b.pk)]
    assert chosen["tag"] == [str(day.tag.pk)]
    assert chosen["queue"] == []  # "All queues", the list's first option, shown as is
    assert f'<option value="{other.pk}">Atacado</option>' in html
    # Named as people see them, in order: the members by name, the tags by name.
    assert html.index(">Atacado<") < html.index(">VIP<")


def test_tenant_isolation(day, other_org, client):
    client.force_login(other_org.owner.user)
    answer = client.get("/api/insights?start=2026-06-01&end=2026-06-01").json()
    assert answer["figures"]["messages"] == {"inbound": 0, "outbound": 0}
    assert answer["figures"]["backlog"]["open"] == 0
    assert client.get(f"/api/insights?number_id={day.number.pk}").status_code == 404
    assert client.get(f"/api/insights?agent_id={day.a.pk}").status_code == 404
    page = client.get(f"/insights/?tag={day.tag.pk}")
    assert page.status_code == 200
    assert "filters" in page.context["errors"]
    assert page.context["filters"].tag is None


def test_an_agent_sees_their_own_figures_only(day, client):
    client.force_login(day.a.user)
    url = f"/api/insights?start=2026-06-01&end=2026-06-01&agent_id={day.b.pk}"
    answer = client.get(url).json()
    assert answer["filters"]["agent_id"] == day.a.pk
    assert answer["figures"]["conversations"] == {"opened": 1, "reopened": 1, "resolved": 1}
    assert [row["member_id"] for row in answer["figures"]["agents"]] == [day.a.pk]
    page = client.get(f"/insights/?period=custom&start=2026-06-01&end=2026-06-01&agent={day.b.pk}")
    assert page.context["filters"].agent == day.a


def test_queries_do_not_grow_with_conversations(day):
    aggregates.fold_all()  # as the workers keep it: durations settled
    with CaptureQueriesContext(connection) as few:
        figures.all_figures(day.org, START, END, figures.NONE)
    for hour in range(14, 18):
        c = day.conversation(at(hour), assignee=day.b, first_inbound_at=at(hour))
        Conversation.objects.filter(pk=c.pk).update(first_response_at=at(hour, 20))
        day.message(c, IN, at(hour), S.RECEIVED)
        day.message(c, OUT, at(hour, 20), S.SENT, sender=day.b)
    aggregates.fold_all()
    with CaptureQueriesContext(connection) as many:
        figures.all_figures(day.org, START, END, figures.NONE)
    assert len(many) == len(few)
    assert len(few) <= 36  # one or two aggregates per figure (33 when written)


def test_page_in_portuguese(day, client):
    client.force_login(Member.objects.get(organization=day.org, role="owner").user)
    page = client.get("/insights/", headers={"accept-language": "pt-BR"}).content.decode()
    assert "Indicadores" in page
    assert "O que os indicadores significam" in page
    # The charts' coordinates keep their decimal point: "12,5" is no length in SVG or CSS.
    drawn = re.findall(r'\b(?:x|y|width|height)="([^"]*)"|(?:left|width): ([^%;"]*)%', page)
    assert drawn and not [value for pair in drawn for value in pair if "," in value]
    assert re.search(r'<rect class="bar-in" x="\d+\.\d+"', page)
