"""Every Insights figure on one day of known events, checked exactly, the same through the
figure functions, the API and the page, and each figure's link landing on the rows behind it.

The organization is in New York. Tuesday 2026-03-10 is the day measured; on Sunday 03-08 the
clocks went forward at 02:00 (a 23-hour day) and Monday 03-09 is the organization's holiday.
Its hours: Sunday 00:00–06:00 (the span the clock change falls in) and Monday to Friday
09:00–18:00. So a customer who wrote on Saturday evening and was answered at 09:30 on Tuesday
waited 5.5 business hours: Sunday's 00:00 EST → 06:00 EDT is 5 real hours (6 on the wall
clock), the holiday counts nothing, and 09:00 → 09:30 on Tuesday adds the last half hour.
"""

from datetime import UTC, date, datetime, time
from itertools import count
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from conversa.accounts.models import OperationalEvent
from conversa.crm.models import FollowUp, StageChange
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox import deadlines
from conversa.inbox.models import Contact, Conversation, Message, Queue, Survey, Tag
from conversa.insights import figures, more_figures, periods
from conversa.providers.models import ProviderEvent
from tests.crm.helpers import lead, pipeline, stage

NY = ZoneInfo("America/New_York")
SAT, SUN, MON, TUE, WED = (date(2026, 3, d) for d in (7, 8, 9, 10, 11))
IN, OUT = Message.Direction.INBOUND, Message.Direction.OUTBOUND
S = Message.Status
RESOLVED, OPEN = Conversation.Status.RESOLVED, Conversation.Status.OPEN


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NY)


class Tuesday:
    """The day's rows, each written with its own times (the figures read these columns)."""

    def __init__(self, org):
        self.org, self.number, self.owner = org.org, org.number, org.owner
        self.org.time_zone = "America/New_York"
        self.org.business_hours = {
            "sun": [["00:00", "06:00"]],
            **{d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
        self.org.holidays = [MON.isoformat()]
        self.org.save(update_fields=["time_zone", "business_hours", "holidays"])
        self.schedule = self.org.sla_schedule()
        self.a, self.b = org.member(), org.member()
        self.a.capacity = 2
        self.a.save(update_fields=["capacity"])
        self.sales = Queue.objects.create(
            organization=self.org, name="Sales", first_response_minutes=60, resolution_minutes=240
        )
        self.support = Queue.objects.create(organization=self.org, name="Support")
        self.vip = Tag.objects.create(organization=self.org, name="VIP")
        self.keys = count(1)

    def conversation(self, created, *, queue=None, first_inbound=None, **fields):
        contact = Contact.objects.create(
            organization=self.org, phone=f"1212555{next(self.keys):04d}", name="Customer"
        )
        due_first, due_resolution = (None, None)
        if queue is not None and first_inbound is not None:
            due_first, due_resolution = deadlines.due_times(
                first_inbound,
                queue.first_response_minutes,
                queue.resolution_minutes,
                self.schedule,
            )
        return Conversation.objects.create(
            organization=self.org,
            number=self.number,
            contact=contact,
            queue=queue,
            created_at=created,
            opened_at=created,
            first_inbound_at=first_inbound,
            first_response_due_at=due_first,
            resolution_due_at=due_resolution,
            **fields,
        )

    def message(self, conversation, direction, when, status, sender=None):
        Message.objects.create(
            organization=self.org,
            conversation=conversation,
            number=self.number,
            direction=direction,
            status=status,
            sender=sender,
            created_at=when,
        )

    def event(self, conversation, verb, when):
        OperationalEvent.objects.create(
            organization=self.org,
            verb=verb,
            object_type="conversation",
            object_id=conversation.pk,
            created_at=when,
        )

    def intent(self, contact, conversation=None, origin="automation", status="queued"):
        return MessageIntent.objects.create(
            organization=self.org,
            contact=contact,
            conversation=conversation,
            origin=origin,
            status=status,
            body="Hi",
            idempotency_key=f"k{next(self.keys)}",
        )

    def decision(self, conversation, verdict, code="", reason=""):
        intent = self.intent(conversation.contact, conversation)
        GateDecision.objects.create(
            organization=self.org,
            intent=intent,
            number=self.number,
            verdict=verdict,
            reason_code=code,
            reason=reason,
            created_at=at(TUE, 15),
        )
        return intent

    def survey(self, conversation, agent, rating, answered):
        Survey.objects.create(
            organization=self.org,
            conversation=conversation,
            key=f"s{next(self.keys)}",
            agent=agent,
            queue=conversation.queue,
            number=self.number,
            expires_at=answered,
            rating=rating,
            answered_at=answered,
        )


@pytest.fixture
def day(org):
    d = Tuesday(org)
    # c1 (Sales, A): wrote Saturday 20:00, answered Tuesday 09:30 (5.5 business hours, past
    # the hour's target), resolved 11:00 (7 business hours, past the 4 hours' target).
    d.c1 = d.conversation(
        at(SAT, 20),
        queue=d.sales,
        first_inbound=at(SAT, 20),
        assignee=d.a,
        first_response_at=at(TUE, 9, 30),
        status=RESOLVED,
        resolved_at=at(TUE, 11),
    )
    d.message(d.c1, IN, at(SAT, 20), S.RECEIVED)
    d.message(d.c1, OUT, at(TUE, 9, 30), S.READ, sender=d.a)
    d.event(d.c1, "conversation.resolved", at(TUE, 11))
    d.survey(d.c1, d.a, 5, at(TUE, 11, 30))
    # c2 (Sales, VIP): opened 10:00 by A, transferred to B, answered 10:20, resolved 12:00
    # (rated 2), reopened by the customer at 13:00: a new cycle, answered 13:30 (on time).
    d.c2 = d.conversation(
        at(TUE, 10),
        queue=d.sales,
        first_inbound=at(TUE, 13),
        assignee=d.b,
        first_response_at=at(TUE, 13, 30),
        status=OPEN,
    )
    Conversation.objects.filter(pk=d.c2.pk).update(opened_at=at(TUE, 13))
    d.c2.tags.add(d.vip)
    d.message(d.c2, IN, at(TUE, 10), S.RECEIVED)
    d.event(d.c2, "conversation.transferred", at(TUE, 10, 5))
    d.message(d.c2, OUT, at(TUE, 10, 20), S.DELIVERED, sender=d.b)
    d.event(d.c2, "conversation.resolved", at(TUE, 12))
    d.survey(d.c2, d.b, 2, at(TUE, 12, 30))
    d.message(d.c2, IN, at(TUE, 13), S.RECEIVED)
    d.event(d.c2, "conversation.reopened", at(TUE, 13))
    d.message(d.c2, OUT, at(TUE, 13, 30), S.SENT, sender=d.b)
    # c3 (Support, no target, A): wrote 08:00 before opening, answered 09:15 (15 minutes).
    d.c3 = d.conversation(
        at(TUE, 8),
        queue=d.support,
        first_inbound=at(TUE, 8),
        assignee=d.a,
        first_response_at=at(TUE, 9, 15),
    )
    d.message(d.c3, IN, at(TUE, 8), S.RECEIVED)
    d.message(d.c3, OUT, at(TUE, 9, 15), S.READ, sender=d.a)
    d.message(d.c3, OUT, at(TUE, 14), S.FAILED)  # an automation's
    # c4 (no queue, VIP, unassigned): two messages, no reply yet.
    d.c4 = d.conversation(at(TUE, 16), first_inbound=at(TUE, 16))
    d.c4.tags.add(d.vip)
    d.message(d.c4, IN, at(TUE, 16), S.RECEIVED)
    d.message(d.c4, IN, at(TUE, 17, 30), S.RECEIVED)
    # c5 (Support): wrote on the holiday, still waiting: the one waiting longest.
    d.c5 = d.conversation(at(MON, 11), queue=d.support, first_inbound=at(MON, 11))
    d.message(d.c5, IN, at(MON, 11), S.RECEIVED)
    # The Gate at 15:00: c3's automation allowed, two of c4's held.
    d.decision(d.c3, GateDecision.Verdict.ALLOW)
    d.deferred = d.decision(d.c4, GateDecision.Verdict.DEFER, "quiet_hours", "Quiet hours")
    d.blocked = d.decision(d.c4, GateDecision.Verdict.BLOCK, "opted_out", "The contact opted out")
    # The number dropped once on Tuesday.
    ProviderEvent.objects.create(
        organization=d.org,
        number=d.number,
        kind="ConnectionUpdate",
        dedupe_key="drop-1",
        event={"status": "disconnected", "reason": "connection_lost"},
        payload={},
        received_at=at(TUE, 15, 30),
    )
    # Follow-ups due Tuesday: one sent, two stopped, one blocked, one still to go; one due
    # Wednesday.
    p = pipeline(org)
    the_lead = lead(org, p)
    entered = StageChange.objects.create(
        organization=d.org, lead=the_lead, to_stage=stage(p, "Proposta")
    )
    d.followups = {}
    plan = [
        ("sent", MessageIntent.Status.SENT, "", at(TUE, 9)),
        ("replied", MessageIntent.Status.FAILED, "contact_replied", at(TUE, 10)),
        ("left", MessageIntent.Status.FAILED, "left_stage", at(TUE, 11)),
        ("blocked", MessageIntent.Status.BLOCKED, "", at(TUE, 12)),
        ("waiting", MessageIntent.Status.SCHEDULED, "", at(TUE, 23, 30)),
        ("tomorrow", MessageIntent.Status.SCHEDULED, "", at(WED, 0, 30)),
    ]
    for position, (name, status, reason, due) in enumerate(plan):
        intent = d.intent(the_lead.contact, status=status)
        if status == MessageIntent.Status.SENT:
            ExecutionJob.objects.create(
                organization=d.org,
                intent=intent,
                number=d.number,
                contact=the_lead.contact,
                status=ExecutionJob.Status.SENT,
            )
        d.followups[name] = FollowUp.objects.create(
            organization=d.org,
            lead=the_lead,
            contact=the_lead.contact,
            stage_change=entered,
            position=position,
            intent=intent,
            due_at=due,
            cancelled_at=due if reason else None,
            cancel_reason=reason,
        )
    return d


def tuesday(org):
    return periods.local_period(org, TUE, TUE)


def test_every_figure_exactly(day):
    org, f = day.org, figures.NONE
    period = tuesday(org)
    got = figures.all_figures(org, period.start, period.end, f)
    assert got["conversations"] == {"opened": 3, "reopened": 1, "resolved": 1}
    assert got["messages"] == {"inbound": 5, "outbound": 5}
    # First responses: c3 15 min, c2 30 min (its current cycle), c1 5.5 h across the clock
    # change and the holiday. Resolution: c1, 5.5 h + 1.5 h.
    assert got["times"] == {
        "first_response": {"count": 3, "median": 1800, "p90": 19800},
        "resolution": {"count": 1, "median": 25200, "p90": 25200},
        "business_hours": True,
    }
    assert got["sla"] == {
        "first": {"with_target": 2, "met": 1, "pct": 50.0},
        "resolution": {"with_target": 1, "met": 0, "pct": 0.0},
    }
    assert got["backlog"]["open"] == 4
    assert got["backlog"]["oldest_waiting"]["conversation_id"] == day.c5.pk
    assert got["gate"] == [
        {"verdict": "allow", "reason_code": "", "count": 1, "example": ""},
        {
            "verdict": "block",
            "reason_code": "opted_out",
            "count": 1,
            "example": "The contact opted out",
        },
        {"verdict": "defer", "reason_code": "quiet_hours", "count": 1, "example": "Quiet hours"},
    ]
    assert got["followups"] == {
        "due": 5,
        "sent": 1,
        "blocked": 1,
        "failed": 0,
        "stopped": 2,
        "waiting": 1,
        "stopped_by_reason": {
            "contact_replied": 1,
            "left_stage": 1,
            "opted_out": 0,
            "automation_paused": 0,
            "automation_deleted": 0,
        },
    }
    assert got["per_day"] == [{"day": TUE, "inbound": 5, "outbound": 5}]
    assert [h for h, n in enumerate(got["heatmap"][1]) if n] == [8, 10, 13, 16, 17]
    assert sum(map(sum, got["heatmap"])) == 5
    # 1 of 5 sends failed (−10), 1 drop (−10), 1 block in 3 decisions (−6.7): 73.
    assert got["numbers"] == [
        {
            "number_id": day.number.pk,
            "name": str(day.number),
            "sent": 4,
            "delivered_pct": 75.0,
            "read_pct": 50.0,
            "failed": 1,
            "held": 2,
            "health": [{"day": TUE, "score": 73}],
        }
    ]
    agents = {row["member_id"]: row for row in got["agents"]}
    assert agents[day.a.pk] == {
        "member_id": day.a.pk,
        "name": day.a.display_name,
        "handled": 2,
        "first_response_median": 10350,  # c3 900 and c1 19800
        "resolution_median": 25200,
        "open": 1,
        "capacity": 2,
        "csat_count": 1,
        "csat_pct": 100.0,
    }
    assert agents[day.b.pk] | {"name": ""} == {
        "member_id": day.b.pk,
        "name": "",
        "handled": 1,
        "first_response_median": 1800,
        "resolution_median": None,
        "open": 1,
        "capacity": 10,
        "csat_count": 1,
        "csat_pct": 0.0,
    }
    assert got["queues"] == [
        {
            "queue_id": day.sales.pk,
            "name": "Sales",
            "opened": 1,
            "resolved": 1,
            "open": 1,
            "first_response_median": 10800,  # c1 19800 and c2 1800
            "sla_pct": 50.0,
        },
        {
            "queue_id": day.support.pk,
            "name": "Support",
            "opened": 1,
            "resolved": 0,
            "open": 2,
            "first_response_median": 900,
            "sla_pct": None,
        },
        {
            "queue_id": None,
            "name": "",
            "opened": 1,
            "resolved": 0,
            "open": 1,
            "first_response_median": None,
            "sla_pct": None,
        },
    ]
    assert got["tags"] == [
        {"tag_id": day.vip.pk, "name": "VIP", "opened": 2, "resolved": 0, "open": 2}
    ]
    assert got["csat"] == {
        "count": 2,
        "average": 3.5,
        "distribution": {1: 0, 2: 1, 3: 0, 4: 0, 5: 1},
        "percent_satisfied": 50.0,
    }


def test_the_previous_day_was_the_holiday(day):
    before = tuesday(day.org).previous(day.org)
    assert (before.first_day, before.last_day) == (MON, MON)
    headline = figures.headline(day.org, before.start, before.end, figures.NONE)
    assert (headline["opened"], headline["inbound"], headline["outbound"]) == (1, 1, 0)


def test_the_day_the_clocks_went_forward(day):
    """Sunday is 23 hours long: it starts at 05:00 UTC and ends at 04:00 UTC on Monday; its
    01:30 message is in hour 1 and a 23:30 message (03:30 UTC on Monday) still on Sunday."""
    sunday = periods.local_period(day.org, SUN, SUN)
    assert (sunday.end.astimezone(UTC) - sunday.start.astimezone(UTC)).total_seconds() == 23 * 3600
    day.message(day.c1, IN, at(SUN, 1, 30), S.RECEIVED)  # 06:30 UTC
    day.message(day.c1, IN, at(SUN, 3, 30), S.RECEIVED)  # 07:30 UTC: an hour after 01:30
    day.message(day.c1, IN, at(SUN, 23, 30), S.RECEIVED)
    per_day = figures.messages_per_day(day.org, sunday.start, sunday.end, figures.NONE)
    assert per_day == [{"day": SUN, "inbound": 3, "outbound": 0}]
    grid = figures.heatmap(day.org, sunday.start, sunday.end, figures.NONE)
    assert [h for h, n in enumerate(grid[6]) if n] == [1, 3, 23]
    # Business time across the gap: 01:30 EST → 03:30 EDT is one real hour, and the whole
    # opening (00:00 → 06:00 on the wall) five.
    assert figures.sla.business_seconds(at(SUN, 1, 30), at(SUN, 3, 30), day.schedule) == 3600
    assert figures.sla.business_seconds(at(SAT, 20), at(MON, 20), day.schedule) == 5 * 3600


def test_filters_narrow_every_new_figure(day):
    org = day.org
    period = tuesday(org)
    by_queue = figures.Filters(queue=day.sales)
    assert more_figures.sla_attainment(org, period.start, period.end, by_queue)["first"] == {
        "with_target": 2,
        "met": 1,
        "pct": 50.0,
    }
    assert [
        q["queue_id"] for q in more_figures.per_queue(org, period.start, period.end, by_queue)
    ] == [day.sales.pk]
    by_tag = figures.Filters(tag=day.vip)
    assert more_figures.per_queue(org, period.start, period.end, by_tag)[0]["opened"] == 1
    health = more_figures.number_health(org, period.start, period.end, by_tag)
    assert health[day.number.pk]["held"] == 2  # both holds were c4's, which is VIP
    by_b = figures.Filters(agent=day.b)
    assert more_figures.followups(org, period.start, period.end, by_b)["due"] == 0


def test_the_api_and_the_page_show_the_same_figures(day, client):
    client.force_login(day.owner.user)
    answer = client.get("/api/insights?start=2026-03-10&end=2026-03-10")
    assert answer.status_code == 200
    data = answer.json()["figures"]
    period = tuesday(day.org)
    direct = figures.all_figures(day.org, period.start, period.end, figures.NONE)
    assert data["times"] == direct["times"]
    assert data["sla"] == direct["sla"]
    assert data["followups"] == direct["followups"]
    assert data["queues"] == direct["queues"]
    assert data["tags"] == direct["tags"]
    assert data["numbers"][0]["health"] == [{"day": "2026-03-10", "score": 73}]
    assert data["numbers"][0]["held"] == 2
    assert {a["member_id"]: a["csat_pct"] for a in data["agents"]}[day.a.pk] == 100.0
    assert answer.json()["previous"]["opened"] == 1
    page = client.get("/insights/?period=custom&start=2026-03-10&end=2026-03-10")
    cards = {card["key"]: card for card in page.context["cards"]}
    assert cards["first_response_median"]["value"] == 1800
    assert cards["first_response_median"]["p90"] == 19800
    assert cards["sla_first_pct"]["value"] == 50.0
    assert cards["sla_resolution_pct"]["value"] == 0.0
    assert page.context["data"]["queues"][0]["opened"] == data["queues"][0]["opened"]
    html = page.content.decode()
    assert "5 h 30 min" in html  # c1's wait as the 90th percentile
    assert "Stopped: contact replied" in html


def rows_behind(client, link: str, key: str) -> set[int]:
    page = client.get(link)
    assert page.status_code == 200, link
    return {row.pk for row in page.context[key]}


def test_each_figure_links_to_the_rows_behind_it(day, client):
    client.force_login(day.owner.user)
    page = client.get("/insights/?period=custom&start=2026-03-10&end=2026-03-10")
    cards = {card["key"]: card["link"] for card in page.context["cards"]}
    c = day
    assert urlparse(cards["opened"]).path == "/inbox/"
    assert rows_behind(client, cards["opened"], "conversations") == {c.c2.pk, c.c3.pk, c.c4.pk}
    assert rows_behind(client, cards["resolved"], "conversations") == {c.c1.pk}
    assert rows_behind(client, cards["first_response_median"], "conversations") == {
        c.c1.pk,
        c.c2.pk,
        c.c3.pk,
    }
    assert rows_behind(client, page.context["backlog_link"], "conversations") == {
        c.c2.pk,
        c.c3.pk,
        c.c4.pk,
        c.c5.pk,
    }
    sales, support, _ = page.context["data"]["queues"]
    assert rows_behind(client, sales["links"]["open"], "conversations") == {c.c2.pk}
    assert rows_behind(client, support["links"]["open"], "conversations") == {c.c3.pk, c.c5.pk}
    assert rows_behind(client, sales["links"]["resolved"], "conversations") == {c.c1.pk}
    (vip,) = page.context["data"]["tags"]
    assert rows_behind(client, vip["links"]["opened"], "conversations") == {c.c2.pk, c.c4.pk}
    gate = {(g["verdict"], g["reason_code"]): g["link"] for g in page.context["gate"]}
    assert rows_behind(client, gate[("block", "opted_out")], "intents") == {c.blocked.pk}
    assert rows_behind(client, gate[("defer", "quiet_hours")], "intents") == {c.deferred.pk}
    (number,) = page.context["data"]["numbers"]
    assert rows_behind(client, number["held_link"], "intents") == {c.blocked.pk, c.deferred.pk}
    follow = page.context["followups"]
    intents = {name: f.intent_id for name, f in c.followups.items()}
    assert rows_behind(client, follow["sent_link"], "intents") == {intents["sent"]}
    assert rows_behind(client, follow["due_link"], "intents") == {
        intents[n] for n in ("sent", "replied", "left", "blocked", "waiting")
    }
    assert rows_behind(client, follow["waiting_link"], "intents") == {intents["waiting"]}
    assert rows_behind(client, follow["failed_link"], "intents") == set()  # none failed
    stopped = {s["reason"]: s["link"] for s in follow["stopped"]}
    assert rows_behind(client, stopped["contact replied"], "intents") == {intents["replied"]}
    agents = {a["member_id"]: a["link"] for a in page.context["data"]["agents"]}
    assert rows_behind(client, agents[c.a.pk], "conversations") == {c.c3.pk}


def test_a_link_keeps_the_filters_in_use(day, client):
    client.force_login(day.owner.user)
    url = f"/insights/?period=custom&start=2026-03-10&end=2026-03-10&queue={day.support.pk}"
    page = client.get(url)
    cards = {card["key"]: card["link"] for card in page.context["cards"]}
    assert rows_behind(client, cards["opened"], "conversations") == {day.c3.pk}
    assert all(g["link"] is None for g in page.context["gate"])  # that list has no queue


def test_the_page_in_portuguese(day, client):
    client.force_login(day.owner.user)
    url = "/insights/?period=custom&start=2026-03-10&end=2026-03-10"
    page = client.get(url, headers={"accept-language": "pt-BR"}).content.decode()
    for words in (
        "Primeiras respostas no prazo",
        "Abertas agora",
        "Interrompidos: contato respondeu",
    ):
        assert words in page
