"""The demo's week of history (issue 19): its Insights for the last 7 days are not empty on the
first run, its rows keep the invariants the services keep, it is the same for the same moment,
and loading the demo again changes nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Max, Min, Q
from django.utils import timezone

from conversa import demo, demo_history
from conversa.accounts.models import OperationalEvent
from conversa.crm.models import FollowUp
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox import deadlines
from conversa.inbox.models import Contact, Conversation, Message, Queue, Survey
from conversa.insights import figures, periods
from conversa.numbers import webhooks
from conversa.providers.models import ProviderEvent
from tests.conftest import examples

LIVE = {"Mariana Costa", "João Pereira", "Carla Mendes"}
NEWSLETTER_REPLIES = {"Beatriz Almeida", "Fernanda Rocha", "Camila Barbosa"}


@pytest.fixture
def loaded(db):
    before = timezone.now()
    org = demo.load_demo().organization
    history = Conversation.objects.for_org(org).filter(contact__phone__contains="984")
    return org, history, before


def test_the_last_7_days_show_figures_on_the_first_run(loaded):
    org, _, _ = loaded
    period = periods.preset(org, "7d")
    shown = figures.all_figures(org, period.start, period.end, figures.NONE)
    assert shown["conversations"]["opened"] > 100
    assert shown["conversations"]["resolved"] > 100
    assert shown["conversations"]["reopened"] >= 1
    assert shown["messages"]["inbound"] > 300 and shown["messages"]["outbound"] > 300
    first = shown["times"]["first_response"]
    # Minutes: the demo's clocks count business hours only (a night's wait is not the team's).
    assert 60 < first["median"] <= first["p90"] < 2 * 3600
    assert shown["times"]["resolution"]["count"] > 100
    days_with_messages = [day for day in shown["per_day"] if day["inbound"]]
    assert len(days_with_messages) >= 6
    grid = shown["heatmap"]
    weekday_office = sum(grid[day][hour] for day in range(5) for hour in range(9, 18))
    nights = sum(grid[day][hour] for day in range(7) for hour in (0, 1, 2, 3, 4, 5))
    assert weekday_office > 10 * nights > 0
    [number] = shown["numbers"]
    assert number["sent"] > 300 and number["failed"] > 0
    assert 80 < number["delivered_pct"] < 100 and 60 < number["read_pct"] < number["delivered_pct"]
    agents = {row["name"]: row for row in shown["agents"]}
    for name in ("Ana Souza", "Bruno Lima", "Admin Demo"):
        assert agents[name]["handled"] > 0 and agents[name]["first_response_median"] > 0
    gate = {(row["verdict"], row["reason_code"]): row["count"] for row in shown["gate"]}
    assert gate[("allow", "ok")] > 300 and gate[("defer", "number_not_connected")] >= 1


def test_ratings_follow_ups_and_a_previous_week_to_compare_with(loaded):
    org, _, _ = loaded
    period = periods.preset(org, "7d")
    shown = figures.all_figures(org, period.start, period.end, figures.NONE)
    csat = shown["csat"]
    assert csat["count"] > 50 and 60 < csat["percent_satisfied"] < 95
    assert all(csat["distribution"][n] for n in range(1, 6))
    assert Survey.objects.for_org(org).exclude(comment="").exists()
    assert all(row["csat_count"] for row in shown["agents"])
    followups = shown["followups"]
    assert followups["sent"] >= 3 and followups["stopped"] >= 2 and followups["waiting"] == 0
    assert followups["stopped_by_reason"]["contact_replied"] >= 1
    assert followups["stopped_by_reason"]["left_stage"] >= 1
    # Nothing of the automation's is left to send: loading the demo schedules nothing.
    assert (
        not FollowUp.objects.for_org(org)
        .filter(cancelled_at__isnull=True, intent__status__in=["queued", "scheduled", "deferred"])
        .exists()
    )
    before = period.previous(org)
    previous = figures.headline(org, before.start, before.end, figures.NONE)
    now = figures.headline_of(shown)
    assert 50 < previous["opened"] < now["opened"]
    assert (
        previous["first_response_median"]
        and previous["first_response_median"] != (now["first_response_median"])
    )


def test_the_history_keeps_the_invariants(loaded):
    org, history, before = loaded
    assert history.count() > 150
    # All of it over before the live demo's chats began; the live inbox is as it was.
    assert not history.exclude(status=Conversation.Status.RESOLVED).exists()
    live = Conversation.objects.for_org(org).exclude(status=Conversation.Status.RESOLVED)
    assert set(live.values_list("contact__name", flat=True)) == LIVE | NEWSLETTER_REPLIES
    quiet = before - demo_history.QUIET_BEFORE_NOW
    assert not Message.objects.filter(conversation__in=history, created_at__gte=quiet).exists()
    assert not history.filter(Q(resolved_at__gte=quiet) | Q(last_message_at__gte=quiet)).exists()

    queue = Queue.objects.get(organization=org)
    schedule = org.sla_schedule()
    rows = history.annotate(
        first_message=Min("messages__created_at"),
        last_message=Max("messages__created_at"),
        last_inbound=Max("messages__created_at", filter=Q(messages__direction="in")),
    )
    for c in rows:
        assert c.first_message == c.created_at <= c.opened_at <= c.first_inbound_at
        assert c.first_inbound_at < c.first_response_at <= c.resolved_at
        assert c.first_inbound_at < c.resolved_at
        assert c.last_message == c.last_message_at and c.last_inbound == c.last_inbound_at
        assert c.queue_id == queue.pk and c.assignee_id is not None and c.unread_count == 0
        assert (c.first_response_due_at, c.resolution_due_at) == deadlines.due_times(
            c.opened_at, queue.first_response_minutes, queue.resolution_minutes, schedule
        )
        # The first response is an operator's first message of the cycle.
        first_out = c.messages.filter(direction="out", created_at__gte=c.first_inbound_at).first()
        assert first_out.created_at == c.first_response_at and first_out.sender_id
    messages = Message.objects.filter(conversation__in=history)
    inbound, outbound = messages.filter(direction="in"), messages.filter(direction="out")
    assert not inbound.exclude(status="received").exists()
    assert not inbound.filter(sender__isnull=False).exists()
    # Every reply is an operator's but the survey's question, which the organization asks.
    questions = outbound.filter(body=demo_history.SURVEY_QUESTION)
    assert questions.count() == Survey.objects.for_org(org).count() == history.count()
    assert not outbound.filter(sender__isnull=True).exclude(pk__in=questions).exists()
    failed = outbound.filter(status="failed")
    assert failed.exists() and not failed.filter(Q(error="") | Q(sent_at__isnull=False)).exists()
    left = outbound.exclude(status="failed")
    assert not left.filter(Q(sent_at__isnull=True) | Q(provider_message_id="")).exists()
    for m in left:
        assert m.created_at < m.sent_at
        assert (m.delivered_at is not None) == (m.status in ("delivered", "read"))
        assert (m.read_at is not None) == (m.status == "read")
        if m.delivered_at:
            assert m.sent_at < m.delivered_at <= (m.read_at or m.delivered_at)
    # Every reply went through the engine: an intent, the Gate's decisions, a job, in step.
    jobs = ExecutionJob.objects.filter(message__in=outbound).select_related("intent", "message")
    assert jobs.count() == outbound.count()
    for job in jobs:
        sent = job.message.status != "failed"
        assert job.status == ("sent" if sent else "failed")
        assert job.intent.status == ("sent" if sent else "failed")
        assert job.intent.created_by_id == job.message.sender_id
        asks = job.message.sender_id is None
        origin = MessageIntent.Origin.SURVEY if asks else MessageIntent.Origin.CHAT_MANUAL
        assert job.intent.origin == origin
        assert job.provider_message_id == job.message.provider_message_id
        verdicts = list(job.intent.decisions.values_list("verdict", flat=True))
        assert verdicts[-1] == "allow" and set(verdicts[:-1]) <= {"defer"}
    held = GateDecision.objects.filter(intent__conversation__in=history, verdict="defer")
    for decision in held.select_related("intent__job__message"):
        message = decision.intent.job.message
        assert decision.created_at == message.created_at < decision.defer_until < message.sent_at
        # Nothing in its conversation happened before it left.
        later = message.conversation.messages.filter(created_at__gt=message.created_at)
        assert not later.filter(created_at__lt=message.sent_at).exists()
    # The timeline: a resolution per cycle, at the conversation's resolution for the last one.
    events = OperationalEvent.objects.for_org(org).filter(
        object_type="conversation", object_id__in=history.values("pk")
    )
    reopened = events.filter(verb="conversation.reopened")
    assert reopened.count() == demo_history.REOPENED
    assert events.filter(verb="conversation.transferred").count() == demo_history.TRANSFERRED
    assert events.filter(verb="conversation.resolved").count() == history.count() + (
        demo_history.REOPENED
    )
    last_resolved = (
        events.filter(verb="conversation.resolved")
        .values("object_id")
        .annotate(at=Max("created_at"))
    )
    resolved_at = dict(history.values_list("pk", "resolved_at"))
    assert all(row["at"] == resolved_at[row["object_id"]] for row in last_resolved)
    for event in reopened:
        assert resolved_at[event.object_id] > event.created_at
    # Each customer once, known by their phone as the inbox knows them.
    contacts = Contact.objects.filter(conversations__in=history)
    assert contacts.count() == contacts.distinct().count() == history.count()
    assert not contacts.filter(identities__isnull=True).exists()


def test_the_history_is_the_same_for_the_same_moment(loaded):
    org, history, _ = loaded
    number, queue = history.first().number, Queue.objects.get(organization=org)
    moment = datetime(2026, 6, 3, 15, 0, tzinfo=ZoneInfo(org.time_zone))

    def shown(rows):
        return [(m.direction, m.body, m.created_at, m.status) for m in rows.messages]

    first = demo_history.plan(org, number, queue, now=moment)
    assert shown(first) == shown(demo_history.plan(org, number, queue, now=moment))
    assert [c.name for c in first.contacts] == [
        c.name for c in demo_history.plan(org, number, queue, now=moment).contacts
    ]


@pytest.mark.parametrize(
    "moment",
    [(2026, 12, 7, 0, 30), (2026, 12, 7, 9, 15), (2026, 12, 9, 15, 0), (2026, 12, 12, 23, 50)],
    ids=["monday-just-after-midnight", "monday-morning", "wednesday", "saturday-night"],
)
def test_the_last_7_days_are_busier_than_the_7_before_at_any_hour(loaded, moment):
    """Insights' "7 days" are today so far and the 6 before: loaded on a Monday morning, the
    week had its Monday still to come while the week before had its whole Monday."""
    org, history, _ = loaded
    number, queue = history.first().number, Queue.objects.get(organization=org)
    zone = ZoneInfo(org.time_zone)
    now = datetime(*moment, tzinfo=zone)
    today = now.date()
    opened = [
        c.created_at.astimezone(zone).date()
        for c in demo_history.plan(org, number, queue, now=now).conversations
    ]
    last = sum(1 for day in opened if (today - day).days < 7)
    before = sum(1 for day in opened if 7 <= (today - day).days < 14)
    assert 0 < before < last


def test_every_moment_of_a_fortnight_plans_a_week_that_keeps_the_invariants(loaded):
    """The history is drawn from the day's seed and cut at `now`: whatever the day and the
    hour, its counted events are all there (none of the reopened or transferred ones ends
    after the quiet hour), one reopening falls in the last 7 days, customers wrote at night
    and gave every score, and a reply was held while the number was down and left before
    anything after it was said."""
    org, history, _ = loaded
    number, queue = history.first().number, Queue.objects.get(organization=org)
    zone = ZoneInfo(org.time_zone)
    count = examples(36, in_full_on="sqlite")
    step = timedelta(days=14) / count + timedelta(minutes=7)  # every day, at every hour
    moments = [datetime(2026, 12, 7, 0, 5, tzinfo=zone) + k * step for k in range(count)]
    # And one whose draw gave no 1 in the last 7 days, one whose gave no held reply (before
    # the week made sure of them).
    extra = [datetime(2026, 12, 19, 14, 9, tzinfo=zone), datetime(2026, 12, 7, 12, 42, tzinfo=zone)]
    for now in [*moments, *extra]:
        rows = demo_history.plan(org, number, queue, now=now)
        verbs = [verb for _, verb, *_ in rows.events]
        assert verbs.count("conversation.reopened") == demo_history.REOPENED, now
        assert verbs.count("conversation.transferred") == demo_history.TRANSFERRED, now
        first_day = now.date() - timedelta(days=6)
        assert any(
            verb == "conversation.reopened" and at.astimezone(zone).date() >= first_day
            for _, verb, _, _, at, _ in rows.events
        ), now
        answers = [s for s in rows.surveys if s.rating]
        scores = {s.rating for s in answers if s.answered_at.astimezone(zone).date() >= first_day}
        assert scores == {1, 2, 3, 4, 5}, now
        week = [m for m in rows.messages if m.created_at.astimezone(zone).date() >= first_day]
        assert any(m.direction == "in" and m.created_at.astimezone(zone).hour < 6 for m in week)
        held = [message for message, decisions, _ in rows.sends if decisions[0][0] == "defer"]
        assert held, now
        for message in held:
            assert not [
                m
                for m in rows.messages
                if m.conversation is message.conversation
                and message.created_at < m.created_at < message.sent_at
            ], (now, message.body)


def test_loading_the_demo_again_changes_nothing(loaded):
    org, history, _ = loaded
    counted = (Conversation, Message, MessageIntent, GateDecision, ExecutionJob, OperationalEvent)
    before = [model.objects.count() for model in counted]
    assert demo.load_demo().created is False
    assert [model.objects.count() for model in counted] == before
    assert history.count() > 150


def test_the_number_looks_healthy_after_the_week(loaded):
    # The week's replies' statuses came back: its webhooks are not silent (numbers.webhooks).
    org, history, _ = loaded
    number = history.first().number
    assert webhooks.webhook_problems([number], timezone.now()) == {number.pk: ""}


def test_every_send_of_the_last_days_heard_back_whatever_the_day(loaded):
    """The card's warning reads the latest send against the latest webhook: every send of the
    days whose webhooks are kept has one after it (a follow-up sent on a Sunday, with no
    webhook since, made the card warn on Monday mornings)."""
    org, _, before = loaded
    sent = ExecutionJob.objects.filter(
        organization=org,
        status=ExecutionJob.Status.SENT,
        updated_at__gte=before - timedelta(days=demo_history.WEBHOOK_DAYS - 1),
        updated_at__lt=before,
    )
    assert sent.filter(provider_message_id__startswith="HISTFU").exists()
    for job in sent:
        assert ProviderEvent.objects.filter(
            number=job.number,
            provider_message_id=job.provider_message_id,
            received_at__gte=job.updated_at,
        ).exists(), job.provider_message_id
