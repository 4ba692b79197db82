"""The Insights counts kept incrementally (database triggers append deltas, workers fold them):
whatever sequence of events (late statuses, transfers, reopenings, deletions, folds between
them), the counts equal a rebuild from the live tables; folding changes no figure; folders at
once count nothing twice."""

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversa.accounts.models import Member
from conversa.engine.models import GateDecision, MessageIntent
from conversa.inbox import ownership, services, states
from conversa.inbox.models import Conversation, Message, Queue, Tag
from conversa.insights import aggregates, figures, more_figures, reading
from conversa.insights.models import (
    DailyCount,
    Delta,
    Duration,
    Handled,
    HourlyCount,
    WeeklyCount,
)
from tests.insights.test_figures import END, START

# From 1970: the counts of now (open conversations) are kept at its first hour.
EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
KEY = ("hour", "metric", "number_id", "queue_id", "agent_id")


def snapshot(org) -> dict:
    """Every count under every queue and agent (the durations' seconds counted first, as the
    workers do), and every duration (its seconds aside)."""
    settled()
    counts = reading.counts(org, *EVER, by=KEY)
    kept = Duration.objects.filter(organization_id=org.pk).values_list(
        "conversation_id", "kind", "started_at", "ended_at", "number_id", "queue_id", "agent_id"
    )
    handled = Handled.objects.filter(organization_id=org.pk).values_list(
        "conversation_id", "sender_id", "number_id", "hour", "messages"
    )
    return {**counts, "durations": sorted(kept), "handled": sorted(handled)}


def handled_live(org, filters=figures.NONE) -> dict:
    """The conversations each member replied in, counted from the messages themselves."""
    return dict(
        figures.messages(org, *EVER, filters)
        .filter(direction=Message.Direction.OUTBOUND, sender__isnull=False)
        .values("sender_id")
        .annotate(n=Count("conversation_id", distinct=True))
        .values_list("sender_id", "n")
    )


def handled_kept(org, filters=figures.NONE) -> dict:
    return {
        row["member_id"]: row["handled"]
        for row in figures.per_agent(org, *EVER, filters)
        if row["handled"]
    }


def sums_agree(org) -> None:
    """The sums over every queue or agent (read when a figure is not narrowed to one) equal the
    rows they sum."""
    rows = reading.counts(org, *EVER, by=KEY)
    for queue_id, agent_id in [
        (None, None),
        *{(None, k[4]) for k in rows},
        *{(k[3], None) for k in rows},
    ]:
        expected: dict = {}
        for (hour, metric, number, queue, agent), n in rows.items():
            if queue_id in (None, queue) and agent_id in (None, agent):
                key = (hour, metric, number)
                expected[key] = expected.get(key, 0) + n
        summed = reading.counts(
            org, *EVER, by=("hour", "metric", "number_id"), queue_id=queue_id, agent_id=agent_id
        )
        assert summed == {k: n for k, n in expected.items() if n}


def days_agree(org) -> None:
    """The daily and weekly rows (read for a period's whole days and weeks) equal the sums of
    their hours' rows, under each queue and agent and over all of them."""
    for columns in (KEY[1:], ("metric", "number_id")):
        expected: dict = defaultdict(int)
        whole: dict = defaultdict(int)
        for (hour, *key), n in reading.counts(org, *EVER, by=("hour", *columns)).items():
            expected[(hour.date(), *key)] += n
            whole[tuple(key)] += n
        by_day = reading.counts(org, *EVER, by=("day", *columns))
        assert by_day == {key: n for key, n in expected.items() if n}
        # Not grouped by day: the weekly rows of every whole week.
        assert reading.counts(org, *EVER, by=columns) == {k: n for k, n in whole.items() if n}
    if Delta.objects.filter(organization_id=org.pk).exists():
        return  # the rows themselves once every delta is in them
    weekly: dict = defaultdict(int)
    for (hour, *key), n in reading.counts(org, *EVER, by=KEY).items():
        weekly[(hour.date() - timedelta(days=hour.weekday()), *key)] += n
    kept = WeeklyCount.objects.filter(organization_id=org.pk, queue_id__gte=0, agent_id__gte=0)
    assert {
        (week, *key): n for week, *key, n in kept.values_list("week", *KEY[1:], "count") if n
    } == {key: n for key, n in weekly.items() if n}


def conversation_figures(org) -> dict:
    """The figures of conversations read from the counts: open now (all, per agent), the
    SLA's, each tag's."""
    return {
        "open": figures.backlog(org, figures.NONE)["open"],
        "agents": {r["member_id"]: r["open"] for r in figures.per_agent(org, *EVER, figures.NONE)},
        "sla": more_figures.sla_attainment(org, *EVER, figures.NONE),
        "tags": more_figures.per_tag(org, *EVER, figures.NONE),
        "open_tagged": [
            figures.backlog(org, figures.Filters(tag=t))["open"]
            for t in Tag.objects.filter(organization=org).order_by("name", "pk")
        ],
        "queues": [
            {k: v for k, v in row.items() if k != "first_response_median"}
            for row in more_figures.per_queue(org, *EVER, figures.NONE)
        ],
    }


def conversation_figures_live(org) -> dict:
    """The same counted from the conversations themselves."""
    rows = Conversation.objects.filter(organization=org)
    unresolved = rows.exclude(status=Conversation.Status.RESOLVED)
    answered = rows.filter(first_inbound_at__isnull=False, first_response_at__isnull=False)
    resolved = rows.filter(status=Conversation.Status.RESOLVED, resolved_at__isnull=False)

    def sla(done, due_column, at_column):
        targeted = done.filter(**{f"{due_column}__isnull": False})
        met = targeted.filter(**{f"{at_column}__lte": F(due_column)}).count()
        n = targeted.count()
        return {"with_target": n, "met": met, "pct": figures.share(met, n)}

    def counts(narrowed):
        return {
            "opened": narrowed.count(),
            "resolved": narrowed.filter(pk__in=resolved).count(),
            "open": narrowed.filter(pk__in=unresolved).count(),
        }

    agents = dict(
        unresolved.values("assignee_id").annotate(n=Count("id")).values_list("assignee_id", "n")
    )
    queues = []
    for queue in [*Queue.objects.filter(organization=org).order_by("name", "pk"), None]:
        mine = rows.filter(queue=queue)
        first = sla(answered.filter(queue=queue), "first_response_due_at", "first_response_at")
        row = {"queue_id": queue and queue.pk, "name": queue.name if queue else ""}
        row |= counts(mine) | {"sla_pct": first["pct"]}
        if queue is not None or any(v for k, v in row.items() if k in ("opened", "open")):
            queues.append(row)
    return {
        "open": unresolved.count(),
        "agents": {m.pk: agents.get(m.pk, 0) for m in Member.objects.filter(organization=org)},
        "sla": {
            "first": sla(answered, "first_response_due_at", "first_response_at"),
            "resolution": sla(resolved, "resolution_due_at", "resolved_at"),
        },
        "tags": [
            {"tag_id": t.pk, "name": t.name, **counts(rows.filter(tags=t))}
            for t in Tag.objects.filter(organization=org).order_by("name", "pk")
        ],
        "open_tagged": [
            unresolved.filter(tags=t).count()
            for t in Tag.objects.filter(organization=org).order_by("name", "pk")
        ],
        "queues": queues,
    }


def rebuilt(org) -> dict:
    aggregates.rebuild(org)
    assert not Delta.objects.filter(organization_id=org.pk).exists()
    return snapshot(org)


def settled() -> None:
    """The durations' business seconds counted, as the workers do: their buckets are deltas."""
    while aggregates.settle():
        pass


def test_the_day_counts_equal_a_rebuild_folded_or_not(day):
    pending = snapshot(day.org)
    assert pending and HourlyCount.objects.count() == 0
    every = figures.all_figures(day.org, START, END, figures.NONE)
    assert aggregates.fold_all() > 0
    assert Delta.objects.count() == 0
    assert snapshot(day.org) == pending
    assert figures.all_figures(day.org, START, END, figures.NONE) == every
    assert rebuilt(day.org) == pending
    assert figures.all_figures(day.org, START, END, figures.NONE) == every


def test_a_late_status_counts_in_its_messages_hour(day):
    message = Message.objects.get(conversation=day.c2, status=Message.Status.DELIVERED)
    services.advance_status(message, Message.Status.READ)  # read, days later
    row = figures.per_number(day.org, START, END, figures.NONE)[0]
    assert (row["sent"], row["delivered_pct"], row["read_pct"]) == (2, 100.0, 100.0)


def test_a_transfer_moves_the_conversations_counts(day):
    by_b = figures.Filters(agent=day.b)
    assert figures.message_counts(day.org, START, END, by_b) == {"inbound": 1, "outbound": 2}
    Conversation.objects.filter(pk=day.c2.pk).update(assignee=day.a)
    assert figures.message_counts(day.org, START, END, by_b) == {"inbound": 0, "outbound": 0}
    by_a = figures.Filters(agent=day.a)
    assert figures.message_counts(day.org, START, END, by_a) == {"inbound": 3, "outbound": 3}
    assert sum(row["count"] for row in figures.gate_decisions(day.org, START, END, by_a)) == 2
    assert snapshot(day.org) == rebuilt(day.org)


def test_another_organizations_rebuild_leaves_these_counts(day, other_org):
    mine = snapshot(day.org)
    aggregates.rebuild(other_org.org)
    assert snapshot(day.org) == mine
    assert snapshot(other_org.org) == {"durations": [], "handled": []}


STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "write",
                "reply",
                "status",
                "resolve",
                "reopen",
                "transfer",
                "queue",
                "gate",
                "delete",
                "edit",
                "tag",
                "untag",
                "due",
                "fold",
            ]
        ),
        st.integers(0, 3),
        st.sampled_from(
            [
                Message.Status.SENT,
                Message.Status.DELIVERED,
                Message.Status.READ,
                Message.Status.FAILED,
            ]
        ),
    ),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_incremental_counts_equal_a_rebuild(org, steps):
    agents = [org.owner, org.member()]
    queue, _ = Queue.objects.get_or_create(organization=org.org, name="Vendas")
    tags = [Tag.objects.get_or_create(organization=org.org, name=name)[0] for name in "AB"]
    phones = [f"551198888000{n}" for n in range(4)]
    for action, n, status in steps:
        conversation = (
            Conversation.objects.filter(organization=org.org, contact__phone=phones[n])
            .order_by("-id")
            .first()
        )
        if action == "write" or conversation is None:
            org.customer_writes(phones[n])
        elif action == "reply":
            services.new_outbound_message(conversation, "Olá", acting_member=agents[n % 2])
        elif action == "status":
            outbound = Message.objects.filter(
                conversation=conversation, direction=Message.Direction.OUTBOUND
            ).last()
            if outbound is not None:  # any order: a late or out-of-order status included
                services.advance_status(outbound, status)
        elif action == "resolve" and conversation.status != Conversation.Status.RESOLVED:
            states.resolve(conversation, acting_member=org.owner)
        elif action == "reopen" and conversation.status == Conversation.Status.RESOLVED:
            if not Conversation.objects.filter(
                number=conversation.number, contact=conversation.contact
            ).exclude(status=Conversation.Status.RESOLVED):
                states.reopen(conversation, acting_member=org.owner)
        elif action == "transfer":
            ownership.transfer(conversation, acting_member=org.owner, to_member=agents[n % 2])
        elif action == "queue":
            ownership.transfer(conversation, acting_member=org.owner, to_queue=queue)
        elif action == "gate":
            intent = MessageIntent.objects.create(
                organization=org.org,
                contact=conversation.contact,
                conversation=conversation,
                origin=MessageIntent.Origin.API,
                body="Oi",
                idempotency_key=f"k{MessageIntent.objects.count()}",
            )
            GateDecision.objects.create(
                organization=org.org, intent=intent, number=org.number, verdict=status[:5]
            )
        elif action == "delete":  # retention, an erasure, a duplicate echo removed
            Message.objects.filter(pk__in=conversation.messages.order_by("id")[:1]).delete()
        elif action == "edit":  # a reply moved by hand: its hour, its sender, its conversation
            reply = Message.objects.filter(conversation=conversation).order_by("-id")[:1]
            changes = [
                {"created_at": F("created_at") + timedelta(hours=1)},
                {"sender": None},
                {"sender": agents[1], "direction": Message.Direction.OUTBOUND},
                {"conversation": Conversation.objects.filter(organization=org.org).first()},
            ]
            Message.objects.filter(pk__in=reply).update(**changes[n])
        elif action == "tag":
            conversation.tags.add(tags[n % 2])
        elif action == "untag":
            conversation.tags.remove(tags[n % 2])
        elif action == "due":  # SLA targets met or missed, by the first reply and resolution
            due = timezone.now() + timedelta(hours=n - 2)
            Conversation.objects.filter(pk=conversation.pk).update(
                first_response_due_at=due, resolution_due_at=due
            )
        elif action == "fold":
            aggregates.fold(batch=n + 1)
    assert handled_kept(org.org) == handled_live(org.org)
    assert conversation_figures(org.org) == conversation_figures_live(org.org)
    sums_agree(org.org)
    days_agree(org.org)
    before = snapshot(org.org)
    assert before == rebuilt(org.org)
    sums_agree(org.org)
    days_agree(org.org)


def test_durations_are_settled_and_follow_a_change_of_business_hours(day):
    times = figures.response_times(day.org, START, END, figures.NONE)
    aggregates.fold_all()
    assert not Duration.objects.filter(seconds__isnull=True).exists()
    assert figures.response_times(day.org, START, END, figures.NONE) == times
    day.org.business_hours = {}
    day.org.save(update_fields=["business_hours"])
    assert Duration.objects.filter(seconds__isnull=True).count() == 3
    assert (
        figures.response_times(day.org, START, END, figures.NONE)["first_response"]["p90"] == 5400
    )
    aggregates.fold_all()
    assert figures.response_times(day.org, START, END, figures.NONE)["resolution"]["median"] == 7200


def test_rebuild_of_a_range_keeps_the_other_hours(day):
    whole = reading.counts(day.org, *EVER, by=KEY)
    aggregates.fold_all()
    HourlyCount.objects.filter(organization_id=day.org.pk).update(count=99)
    aggregates.rebuild(day.org, START, END)
    after = reading.counts(day.org, *EVER, by=KEY)
    outside = {key: n for key, n in after.items() if not START <= key[0] < END}
    assert outside and all(n == 99 for n in outside.values())
    inside = {key: n for key, n in after.items() if START <= key[0] < END}
    assert inside == {key: n for key, n in whole.items() if START <= key[0] < END}
    # The range's days summed afresh from its hours (the tampered days around it left alone).
    DailyCount.objects.filter(organization_id=day.org.pk).update(count=99)
    aggregates.rebuild(day.org, START, END)
    expected: dict = defaultdict(int)
    for (hour, *key), n in inside.items():
        expected[(hour.date(), *key)] += n
    assert reading.counts(day.org, START, END, by=("day", *KEY[1:])) == expected
    days = DailyCount.objects.filter(organization_id=day.org.pk).values_list("date", "count")
    assert {n for date, n in days if date != START.date()} == {99}
    # And its week's, from its hours (the range in hour rows' terms, local hours, this time:
    # START, 00:00 -03:00 as an instant, is the hour row 03:00).
    WeeklyCount.objects.filter(organization_id=day.org.pk).update(count=99)
    monday = reading.monday_before(reading.local_hour(day.org, START))
    aggregates.rebuild(day.org, monday, reading.local_hour(day.org, END))
    week: dict = defaultdict(int)
    sunday_night = monday + timedelta(days=7)
    for (_, *key), n in reading.read(day.org, monday, sunday_night, by=("hour", *KEY[1:])).items():
        week[tuple(key)] += n
    assert reading.read(day.org, monday, sunday_night, by=KEY[1:]) == week
    weeks = WeeklyCount.objects.filter(organization_id=day.org.pk).values_list("week", "count")
    assert {n for start, n in weeks if start != monday.date()} == {99}


def test_lag_is_the_age_of_the_oldest_pending_delta(day):
    oldest = Delta.objects.order_by("created_at").first().created_at
    assert aggregates.lag_seconds(oldest + timedelta(seconds=42)) == 42
    aggregates.fold_all()
    assert aggregates.lag_seconds() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent folders: PostgreSQL")
def test_folders_at_once_count_nothing_twice(org, transactional_db):
    conversation = org.conversation()
    for n in range(300):
        services.new_outbound_message(conversation, f"{n}", acting_member=org.owner)
    expected = snapshot(org.org)
    pending = Delta.objects.count()
    folded: list[int] = []
    gate = threading.Barrier(4)

    def folder():
        gate.wait()
        while n := aggregates.fold(batch=25):
            folded.append(n)
        connection.close()

    threads = [threading.Thread(target=folder) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(folded) == pending
    assert Delta.objects.count() == 0
    assert snapshot(org.org) == expected


def test_a_worker_pass_folds_the_deltas(day):
    from conversa.engine.worker import Worker

    pending = snapshot(day.org)
    Worker().fold_insights()  # run_once's step (the others need no test's transaction)
    assert not Delta.objects.exists()
    assert not Duration.objects.filter(seconds__isnull=True).exists()
    assert snapshot(day.org) == pending


def test_the_conversations_handled_equal_the_live_count_under_every_filter(day):
    for filters in (
        figures.NONE,
        figures.Filters(number=day.number),
        figures.Filters(agent=day.b),
        figures.Filters(queue=Queue.objects.filter(organization=day.org).first()),
    ):
        assert handled_kept(day.org, filters) == handled_live(day.org, filters)
    assert handled_kept(day.org)
    Message.objects.filter(organization=day.org).delete()
    assert not Handled.objects.filter(organization_id=day.org.pk).exists()


def test_a_tag_is_a_dimension_its_counts_follow_the_tag(day):
    """c4 (open, tagged) counts under its tag; tagging c1 (resolved) adds it there, taking
    the tag off c4 takes it away, and a transfer carries the tag's counts to the new agent."""

    def tag_row(filters=figures.NONE):
        (row,) = more_figures.per_tag(day.org, START, END, filters)
        return {k: row[k] for k in ("opened", "resolved", "open")}

    assert tag_row() == {"opened": 1, "resolved": 0, "open": 1}
    day.c1.tags.add(day.tag)
    assert tag_row() == {"opened": 2, "resolved": 1, "open": 1}
    day.c4.tags.remove(day.tag)
    assert tag_row() == {"opened": 1, "resolved": 1, "open": 0}
    assert figures.backlog(day.org, figures.Filters(tag=day.tag))["open"] == 0
    Conversation.objects.filter(pk=day.c1.pk).update(assignee=day.b)
    assert tag_row(figures.Filters(agent=day.b)) == {"opened": 1, "resolved": 1, "open": 0}
    assert tag_row(figures.Filters(agent=day.a)) == {"opened": 0, "resolved": 0, "open": 0}
    assert snapshot(day.org) == rebuilt(day.org)


def test_conversations_inserted_together_count_as_one_at_a_time(org):
    """A burst of webhooks from new customers inserts their conversations in one statement
    (counted once per statement on PostgreSQL): the counts and durations equal a rebuild, as
    when each was inserted alone, and so do conversations inserted answered and resolved."""
    from conversa.inbound import consequences
    from conversa.providers.base import InboundMessage

    org.customer_writes("5511977770000")  # one alone, for the batch's first lookup to find
    consequences.receive_messages(
        [
            (org.number, InboundMessage(f"B{n}", phone, "Cliente", "text", body="Oi"))
            for n, phone in enumerate(["5511977770000", "5511977770001", "5511977770002"])
        ]
    )
    now = timezone.now()
    contact = Conversation.objects.filter(organization=org.org).first().contact
    Conversation.objects.bulk_create(
        Conversation(
            organization=org.org,
            number=org.number,
            contact=contact,
            status=Conversation.Status.RESOLVED,
            first_inbound_at=now - timedelta(hours=hours + 1),
            first_response_at=now - timedelta(hours=hours),
            resolved_at=now,
            assignee=org.owner,
        )
        for hours in (1, 2)
    )
    assert Conversation.objects.filter(organization=org.org).count() == 5
    assert Duration.objects.filter(organization_id=org.org.pk).count() == 4
    before = snapshot(org.org)
    counted = defaultdict(int)
    for key, n in before.items():
        if isinstance(key, tuple):
            counted[key[1]] += n
    assert counted["opened"] == 5 and counted["resolved"] == 2
    assert before == rebuilt(org.org)
    days_agree(org.org)
