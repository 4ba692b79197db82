"""Quotas and quiet hours with facts gathered from the database."""

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from conversa.engine import gate, services
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.numbers.models import Number

S = ExecutionJob.Status
Origin = MessageIntent.Origin
# 09:20 in São Paulo, the organizations' default time zone (UTC-3).
NOW = datetime(2026, 11, 24, 12, 20, tzinfo=UTC)
keys = itertools.count(1)


@pytest.fixture
def frozen(monkeypatch):
    """The services read the clock through `timezone.now`: pin it to NOW."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def job(org, status: str, updated_at: datetime, number: Number | None = None):
    """A job of `org` in `status`, last moved at `updated_at`."""
    conversation = org.conversation()
    intent = MessageIntent.objects.create(
        organization=org.org,
        number=number or org.number,
        contact=conversation.contact,
        conversation=conversation,
        origin=Origin.API,
        body="earlier",
        idempotency_key=f"earlier-{next(keys)}",
    )
    return ExecutionJob.objects.create(
        organization=org.org,
        intent=intent,
        number=number or org.number,
        contact=conversation.contact,
        status=status,
        updated_at=updated_at,
    )


def set_quotas(org, hourly: int, daily: int = 1000) -> None:
    org.number.hourly_quota, org.number.daily_quota = hourly, daily
    org.number.save(update_fields=["hourly_quota", "daily_quota"])


def bare_intent(org) -> MessageIntent:
    """An intent written straight to the table: no decision yet, for the Gate to judge."""
    return MessageIntent.objects.create(
        organization=org.org,
        number=org.number,
        contact=org.conversation().contact,
        origin=Origin.API,
        body="x",
        idempotency_key="today",
    )


def new_intent(org, origin: str = Origin.API) -> MessageIntent:
    conversation = org.conversation()
    intent, _ = services.create_intent(
        org.org,
        contact=conversation.contact,
        body="Olá",
        origin=origin,
        idempotency_key=f"new-{next(keys)}",
        conversation=conversation,
    )
    return intent


def test_number_at_its_hourly_quota_is_deferred_to_the_next_hour(org, frozen):
    set_quotas(org, hourly=3)
    for minutes in (1, 10, 19):
        job(org, S.SENT, NOW.replace(minute=0) + timedelta(minutes=minutes))

    intent = new_intent(org)

    decision = intent.decisions.get()
    assert (decision.verdict, decision.reason_code) == (GateDecision.Verdict.DEFER, "hourly_quota")
    assert decision.defer_until == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 10:00 local
    assert decision.facts["sent_this_hour"] == 3
    assert intent.status == MessageIntent.Status.DEFERRED
    assert intent.job.status == S.PENDING
    assert intent.job.run_after == decision.defer_until


def test_one_below_the_hourly_quota_is_allowed(org, frozen):
    set_quotas(org, hourly=3)
    for minutes in (1, 10):
        job(org, S.SENT, NOW.replace(minute=minutes))
    assert new_intent(org).decisions.get().verdict == GateDecision.Verdict.ALLOW


def test_a_send_in_flight_counts_against_the_quota(org, frozen):
    set_quotas(org, hourly=2)
    job(org, S.SENT, NOW - timedelta(minutes=5))
    # Its last move was yesterday: in flight counts whatever its age.
    job(org, S.SENDING, NOW - timedelta(days=1))
    assert new_intent(org).decisions.get().reason_code == "hourly_quota"


def test_a_send_whose_lease_ran_out_counts_against_the_quota(org, frozen):
    """An UNCERTAIN job may have left (a worker's lease expired while sending, on a busy
    machine): four workers on PostgreSQL sent 55 against a quota of 50 while such jobs were
    not counted."""
    set_quotas(org, hourly=1)
    job(org, S.UNCERTAIN, NOW - timedelta(days=1))
    assert new_intent(org).status == MessageIntent.Status.DEFERRED


def test_sends_of_an_earlier_hour_count_only_for_the_day(org):
    set_quotas(org, hourly=2, daily=2)
    job(org, S.SENT, NOW - timedelta(hours=1))
    job(org, S.SENT, NOW - timedelta(hours=2))
    intent = bare_intent(org)
    decision = gate.evaluate(intent, NOW)
    assert (decision.facts["sent_this_hour"], decision.facts["sent_today"]) == (0, 2)
    assert decision.reason_code == "daily_quota"
    assert decision.defer_until == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # local midnight


def test_the_day_is_the_organizations(org):
    # São Paulo's day began at 03:00 UTC; New York's (UTC-5) at 05:00 UTC.
    job(org, S.SENT, datetime(2026, 11, 24, 2, 59, tzinfo=UTC))
    job(org, S.SENT, datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    job(org, S.SENT, datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    intent = bare_intent(org)
    assert gate.evaluate(intent, NOW).facts["sent_today"] == 2
    org.org.time_zone = "America/New_York"
    org.org.save(update_fields=["time_zone"])
    intent.refresh_from_db()
    assert gate.evaluate(intent, NOW).facts["sent_today"] == 1


def test_unsent_jobs_and_other_numbers_do_not_count(org, other_org):
    for status in (S.PENDING, S.CLAIMED, S.RETRY_WAIT, S.FAILED, S.DEAD):
        job(org, status, NOW - timedelta(minutes=1))
    job(other_org, S.SENT, NOW - timedelta(minutes=1))
    job(other_org, S.SENDING, NOW - timedelta(minutes=1))
    intent = bare_intent(org)
    facts = gate.evaluate(intent, NOW).facts
    assert (facts["sent_this_hour"], facts["sent_today"]) == (0, 0)


def test_quiet_hours_defer_an_automation_and_the_facts_are_stored(org, monkeypatch):
    night = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 22:00 in São Paulo
    monkeypatch.setattr(timezone, "now", lambda: night)
    org.org.quiet_hours_start, org.org.quiet_hours_end = time(21, 0), time(8, 0)
    org.org.save(update_fields=["quiet_hours_start", "quiet_hours_end"])

    decision = new_intent(org, Origin.AUTOMATION).decisions.get()

    assert (decision.verdict, decision.reason_code) == (GateDecision.Verdict.DEFER, "quiet_hours")
    assert decision.defer_until == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # 08:00 local
    assert decision.facts["quiet_hours_start"] == "21:00:00"
    assert decision.facts["time_zone"] == "America/Sao_Paulo"


def test_quiet_hours_need_both_ends(org):
    org.org.quiet_hours_start = time(21, 0)
    with pytest.raises(IntegrityError):
        org.org.save(update_fields=["quiet_hours_start"])
