"""SLA deadlines: due times stored on conversations from their queue's targets in business
hours, each conversation's clock (ok / at risk / breached, business time left) and breaches
counted per queue.

2026-11-20 is a Friday (a holiday where named), 2026-11-21/22 the weekend, 2026-11-23 a
Monday. Times are São Paulo local (UTC−3), the organization's default time zone.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from conversa.business_hours import DEFAULT_HOURS, Schedule
from conversa.errors import Refused
from conversa.inbound import services as providers
from conversa.inbox import deadlines, ownership, states
from conversa.inbox import services as inbox
from conversa.inbox.models import Conversation, Queue
from conversa.inbox.thread import duration_text
from conversa.providers.base import InboundMessage, ParsedEvent
from conversa.sandbox import simulator

SP = ZoneInfo("America/Sao_Paulo")
WEEK = Schedule.from_settings("America/Sao_Paulo", DEFAULT_HOURS)
WEEK_WITH_HOLIDAY = Schedule.from_settings("America/Sao_Paulo", DEFAULT_HOURS, [date(2026, 11, 20)])
ALWAYS = Schedule.from_settings("America/Sao_Paulo", {})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SP)


@pytest.mark.parametrize(
    ("schedule", "start", "first", "resolution", "first_due", "resolution_due"),
    [
        (WEEK, at(19, 10), 30, 9 * 60, at(19, 10, 30), at(20, 10)),  # overnight
        (WEEK, at(20, 17, 30), 60, None, at(23, 9, 30), None),  # across the weekend
        (WEEK_WITH_HOLIDAY, at(19, 17, 30), 60, None, at(23, 9, 30), None),  # holiday too
        (WEEK, at(21, 12), 15, 60, at(23, 9, 15), at(23, 10)),  # opened on a Saturday
        (WEEK, at(19, 7), 15, None, at(19, 9, 15), None),  # before opening
        (ALWAYS, at(21, 12), 15, 60, at(21, 12, 15), at(21, 13)),  # the clock never pauses
        (WEEK, at(19, 10), None, None, None, None),  # no targets, no dues
    ],
)
def test_due_times_count_business_hours_only(
    schedule, start, first, resolution, first_due, resolution_due
):
    assert deadlines.due_times(start, first, resolution, schedule) == (first_due, resolution_due)


QUEUE_FIRST, QUEUE_RESOLUTION = 30, 8 * 60


@pytest.fixture
def routed(org):
    """The org's number routed to a queue with SLA targets."""
    queue = Queue.objects.create(
        organization=org.org,
        name="Suporte",
        first_response_minutes=QUEUE_FIRST,
        resolution_minutes=QUEUE_RESOLUTION,
    )
    queue.numbers.add(org.number)
    return queue


def one_at_a_time(org, phone):
    return org.customer_writes(phone).conversation


def in_bulk(org, phone):
    message_id = simulator.new_message_id()
    event = InboundMessage(message_id, phone, "Cliente", "text", "Oi")
    providers.apply_events([(org.number, ParsedEvent(event, f"msg:{message_id}"))])
    return org.number.conversations.get(messages__provider_message_id=message_id)


@pytest.mark.parametrize("customer_writes", [one_at_a_time, in_bulk])
def test_a_new_conversation_on_a_routed_number_has_its_due_times(org, routed, customer_writes):
    conversation = customer_writes(org, "5511999990001")
    assert conversation.queue == routed
    assert conversation.opened_at == conversation.created_at
    expected = deadlines.due_times(
        conversation.opened_at, QUEUE_FIRST, QUEUE_RESOLUTION, org.org.sla_schedule()
    )
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == expected
    assert all(expected)
    routed.numbers.clear()
    other = customer_writes(org, "5511999990002")
    assert (other.queue, other.first_response_due_at, other.resolution_due_at) == (
        None,
        None,
        None,
    )


def test_the_first_operator_reply_stops_the_first_response_clock(org, routed):
    conversation = org.conversation()
    inbox.new_outbound_message(conversation, "Mensagem automática", acting_member=None)
    conversation.refresh_from_db()
    assert conversation.first_response_at is None, "automations do not answer for the team"
    first = inbox.new_outbound_message(conversation, "Olá!", acting_member=org.owner)
    inbox.new_outbound_message(conversation, "Mais uma", acting_member=org.owner)
    conversation.refresh_from_db()
    assert conversation.first_response_at == first.created_at


def conversation_with(org, queue, **fields) -> Conversation:
    conversation = org.conversation(f"55119{Conversation.objects.count():08d}")
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue, **fields)
    conversation.refresh_from_db()
    return conversation


@pytest.mark.parametrize(
    ("fields", "now", "expected"),
    [
        # First response due Mon 09:30 (target 30 min).
        ({"first_response_due_at": at(23, 9, 30)}, at(20, 17, 30), ("first_response", "ok", 3600)),
        ({"first_response_due_at": at(23, 9, 30)}, at(20, 17, 55), ("first_response", "ok", 2100)),
        (
            {"first_response_due_at": at(23, 9, 30)},
            at(23, 9, 25),
            ("first_response", "at_risk", 300),
        ),
        ({"first_response_due_at": at(23, 9, 30)}, at(21, 12), ("first_response", "ok", 1800)),
        (
            {"first_response_due_at": at(20, 17, 30)},
            at(23, 9, 30),
            ("first_response", "breached", -3600),
        ),
        # Answered: the resolution clock is the one that runs.
        (
            {
                "first_response_due_at": at(19, 10),
                "first_response_at": at(19, 9, 50),
                "resolution_due_at": at(20, 10),
            },
            at(19, 16),
            ("resolution", "ok", 3 * 3600),
        ),
        # Answered late: no longer running, so not shown as breached.
        (
            {
                "first_response_due_at": at(19, 10),
                "first_response_at": at(19, 11),
                "resolution_due_at": at(19, 17),
            },
            at(19, 16),
            ("resolution", "at_risk", 3600),
        ),
        # Both running: the earlier due is the one shown.
        (
            {"first_response_due_at": at(19, 12), "resolution_due_at": at(19, 11)},
            at(19, 11, 30),
            ("resolution", "breached", -1800),
        ),
        ({"status": "resolved", "resolution_due_at": at(19, 11)}, at(19, 12), None),
        ({}, at(19, 12), None),
    ],
)
def test_each_conversation_shows_its_running_clock(org, routed, fields, now, expected):
    conversation = conversation_with(
        org,
        routed,
        first_response_due_at=fields.pop("first_response_due_at", None),
        resolution_due_at=fields.pop("resolution_due_at", None),
        **fields,
    )
    clock = deadlines.sla_states([conversation], now)[conversation.pk]
    assert (clock and (clock.name, clock.state, clock.seconds_left)) == expected


def test_states_of_a_page_cost_two_queries_whatever_its_length(
    org, routed, django_assert_num_queries
):
    page = [conversation_with(org, routed, first_response_due_at=at(23, 9, 30)) for _ in range(5)]
    with django_assert_num_queries(2):  # the queues' targets, the organizations' schedules
        states = deadlines.sla_states(page, at(20, 17))
    assert {clock.state for clock in states.values()} == {"ok"}


def test_breaches_are_counted_per_queue(org, other_org, routed):
    now = timezone.now()
    past, future = now - timedelta(minutes=1), now + timedelta(hours=1)
    billing = Queue.objects.create(organization=org.org, name="Financeiro")
    conversation_with(org, routed, first_response_due_at=past)  # breached
    conversation_with(org, routed, resolution_due_at=past)  # breached
    conversation_with(org, routed, first_response_due_at=past, first_response_at=past)  # met
    conversation_with(org, routed, resolution_due_at=future)  # ok
    conversation_with(org, routed, resolution_due_at=past, status="resolved")  # done
    conversation_with(org, billing, resolution_due_at=past, status="snoozed")  # still runs
    conversation_with(org, None, first_response_due_at=past)
    theirs = other_org.conversation()
    Conversation.objects.filter(pk=theirs.pk).update(first_response_due_at=past)
    assert deadlines.breached_counts(org.org, now) == {routed.pk: 2, billing.pk: 1, None: 1}
    assert Conversation.objects.filter(Conversation.breached(now)).count() == 5


def test_a_reopened_conversation_starts_a_new_cycle(org, routed):
    conversation = org.conversation()
    inbox.new_outbound_message(conversation, "Olá!", acting_member=org.owner)
    states.resolve(conversation, acting_member=org.owner)
    Conversation.objects.filter(pk=conversation.pk).update(
        opened_at=timezone.now() - timedelta(days=3),
        first_response_due_at=timezone.now() - timedelta(days=3),
        resolution_due_at=timezone.now() - timedelta(days=2),
    )
    reopened = org.customer_writes().conversation
    assert reopened.pk == conversation.pk
    reopened.refresh_from_db()
    assert reopened.first_response_at is None
    assert reopened.opened_at > timezone.now() - timedelta(minutes=1)
    assert (reopened.first_response_due_at, reopened.resolution_due_at) == deadlines.due_times(
        reopened.opened_at, QUEUE_FIRST, QUEUE_RESOLUTION, org.org.sla_schedule()
    )


def test_a_transfer_to_another_queue_takes_its_targets(org, routed):
    conversation = org.conversation()
    urgent = Queue.objects.create(
        organization=org.org, name="Urgente", first_response_minutes=5, resolution_minutes=None
    )
    ownership.transfer(conversation, acting_member=org.owner, to_queue=urgent)
    conversation.refresh_from_db()
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == (
        deadlines.due_times(conversation.opened_at, 5, None, org.org.sla_schedule())
    )


def test_new_targets_and_new_business_hours_recompute_the_due_times(org, routed):
    conversation = org.conversation()
    deadlines.set_queue_targets(
        routed, acting_member=org.owner, first_response_minutes=10, resolution_minutes=None
    )
    conversation.refresh_from_db()
    expected = deadlines.due_times(conversation.opened_at, 10, None, org.org.sla_schedule())
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == expected
    deadlines.set_business_hours(org.org, acting_member=org.owner, hours={}, holidays=[])
    conversation.refresh_from_db()
    assert conversation.first_response_due_at == conversation.opened_at + timedelta(minutes=10)


def test_a_bad_schedule_is_explained_in_the_callers_language(org):
    with translation.override("pt-br"), pytest.raises(Refused) as refused:
        deadlines.set_business_hours(
            org.org,
            acting_member=org.owner,
            hours={"mon": [["18:00", "09:00"]]},
            holidays=["amanhã"],
        )
    assert "precisa terminar depois de começar" in str(refused.value)
    assert "Não é uma data" in str(refused.value)


@pytest.mark.parametrize(
    ("time_zone", "hours", "holidays", "reason"),
    [
        ("Mars/Olympus", {}, [], "Unknown time zone"),
        ("UTC", {"monday": [["09:00", "18:00"]]}, [], "Unknown weekday 'monday'"),
        ("UTC", {"mon": [["18:00", "09:00"]]}, [], "end after it starts"),
        ("UTC", {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}, [], "overlap"),
        ("UTC", {"mon": [["9h", "18h"]]}, [], "HH:MM"),
        ("UTC", {"mon": ["09:00-18:00"]}, [], "HH:MM"),
        ("UTC", {}, ["25/12/2026"], "Not a date"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_changes(org, time_zone, hours, holidays, reason):
    with pytest.raises(Refused, match=reason):
        deadlines.set_business_hours(
            org.org, acting_member=org.owner, hours=hours, holidays=holidays, time_zone=time_zone
        )
    org.org.refresh_from_db()
    assert org.org.business_hours == {d: [list(s) for s in v] for d, v in DEFAULT_HOURS.items()}


def put(client, url, data):
    return client.put(url, data, content_type="application/json")


def test_sla_through_the_api(org, other_org, routed):
    client = org.client()
    conversation = org.conversation()
    clock = client.get(f"/api/conversations/{conversation.pk}/sla").json()
    assert clock["name"] == "first_response" and clock["state"] in ("ok", "at_risk", "breached")
    Conversation.objects.filter(pk=conversation.pk).update(
        first_response_due_at=timezone.now() - timedelta(minutes=1)
    )
    assert client.get("/api/sla/breached").json() == [{"queue_id": routed.pk, "breached": 1}]
    assert other_org.client().get("/api/sla/breached").json() == []
    assert other_org.client().get(f"/api/conversations/{conversation.pk}/sla").status_code == 404

    hours = {"mon": [["08:00", "12:00"], ["13:00", "17:00"]]}
    changed = put(
        client,
        "/api/business-hours",
        {"time_zone": "America/Recife", "hours": hours, "holidays": ["2026-12-25"]},
    )
    assert changed.status_code == 200
    assert changed.json() == {
        "time_zone": "America/Recife",
        "hours": hours,
        "holidays": ["2026-12-25"],
    }
    bad = put(
        client, "/api/business-hours", {"time_zone": "UTC", "hours": {"xx": []}, "holidays": []}
    )
    assert bad.status_code == 422 and "Unknown weekday" in bad.json()["errors"][0]["msg"]
    agent = put(
        org.client(org.member()),
        "/api/business-hours",
        {"time_zone": "UTC", "hours": {}, "holidays": []},
    )
    assert agent.status_code == 403
    assert client.get("/api/business-hours").json()["time_zone"] == "America/Recife"

    targets = put(
        client,
        f"/api/queues/{routed.pk}/sla",
        {"first_response_minutes": 15, "resolution_minutes": None},
    )
    assert targets.status_code == 200
    assert (targets.json()["first_response_minutes"], targets.json()["resolution_minutes"]) == (
        15,
        None,
    )
    assert (
        put(client, f"/api/queues/{routed.pk}/sla", {"first_response_minutes": 0}).status_code
        == 422
    )
    theirs = put(other_org.client(), f"/api/queues/{routed.pk}/sla", {"first_response_minutes": 1})
    assert theirs.status_code == 404


def test_a_conversation_the_business_started_has_no_clock_until_the_customer_writes(org, routed):
    """Issue 17: a follow-up or an API send opening a conversation showed "First response:
    breached 0 min ago" next to "The customer has not written yet". Its clocks start at the
    customer's first message: nothing runs, nothing is breached, before."""
    from conversa.engine import services as engine
    from conversa.inbox import thread

    contact = inbox.upsert_contact(org.org, "5511999990077", "Cliente")
    intent, _ = engine.create_intent(
        org.org,
        contact=contact,
        body="Sua proposta chegou",
        origin="api",
        idempotency_key="started-by-us",
        number=org.number,
    )
    conversation = intent.conversation
    conversation.refresh_from_db()
    assert conversation.first_inbound_at is None
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == (None, None)
    later = timezone.now() + timedelta(days=30)
    assert thread.sla_clocks(conversation, later) == []
    assert deadlines.sla_states([conversation], later)[conversation.pk] is None
    assert not Conversation.objects.filter(Conversation.breached(later)).exists()
    # An operator writing first is not a response to anyone: it stops no clock.
    inbox.new_outbound_message(conversation, "Olá, tudo bem?", acting_member=org.owner)
    # No change either when the schedule's change recomputes the due times.
    deadlines.recompute(Conversation.objects.filter(pk=conversation.pk))
    conversation.refresh_from_db()
    assert conversation.first_response_at is None
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == (None, None)

    message = org.customer_writes("5511999990077", "Oi, recebi")
    conversation.refresh_from_db()
    assert message.conversation_id == conversation.pk
    assert conversation.first_inbound_at is not None
    expected = deadlines.due_times(
        conversation.first_inbound_at, QUEUE_FIRST, QUEUE_RESOLUTION, org.org.sla_schedule()
    )
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == expected
    # Another message of the customer does not restart it; a recompute keeps it.
    first_inbound = conversation.first_inbound_at
    org.customer_writes("5511999990077", "Alguém aí?")
    deadlines.recompute(Conversation.objects.filter(pk=conversation.pk))
    conversation.refresh_from_db()
    assert conversation.first_inbound_at == first_inbound
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == expected
    assert [c.name for c in thread.sla_clocks(conversation)] == ["first_response", "resolution"]
    reply = inbox.new_outbound_message(conversation, "Oi! Posso ajudar?", acting_member=org.owner)
    conversation.refresh_from_db()
    assert conversation.first_response_at == reply.created_at


def test_a_conversation_an_operator_reopens_waits_for_the_customer(org, routed):
    conversation = org.conversation("5511999990078")
    states.resolve(conversation, acting_member=org.owner)
    states.reopen(conversation, acting_member=org.owner)
    conversation.refresh_from_db()
    assert conversation.first_inbound_at is None
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == (None, None)
    org.customer_writes("5511999990078")
    conversation.refresh_from_db()
    assert conversation.first_response_due_at and conversation.resolution_due_at


def test_a_duration_under_a_minute_is_said_in_words_not_zero():
    assert duration_text(59) == "less than a minute"
    assert duration_text(60) == "1 min"
    assert duration_text(3 * 3600 + 300) == "3 h 5 min"
    with translation.override("pt-br"):
        assert duration_text(0) == "menos de um minuto"
