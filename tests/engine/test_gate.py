from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversa.engine import gate
from conversa.engine.models import MessageIntent

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
Origin = MessageIntent.Origin


def facts(**overrides) -> gate.Facts:
    base = dict(
        now=NOW,
        sending_paused=False,
        number_status="connected",
        number_paused=False,
        number_cooldown_until=None,
        contact_blocked=False,
        contact_opted_out=False,
        # A campaign's recipient has agreed to marketing unless a test says otherwise.
        contact_marketing_consent=True,
        time_zone="America/Sao_Paulo",
        quiet_hours_start=None,
        quiet_hours_end=None,
        sent_this_hour=0,
        sent_today=0,
        hourly_quota=200,
        daily_quota=1000,
    )
    return gate.Facts(**{**base, **overrides})


def local(tz: str, *args, fold: int = 0) -> datetime:
    """An aware UTC datetime from a wall time in `tz`."""
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def test_everything_fine_allows():
    assert gate.decide(Origin.CHAT_MANUAL, facts()).verdict == gate.ALLOW


def test_blocked_contact_is_blocked_for_every_origin():
    for origin in Origin.values:
        verdict = gate.decide(origin, facts(contact_blocked=True))
        assert (verdict.verdict, verdict.reason_code) == (gate.BLOCK, "contact_blocked")


@pytest.mark.parametrize("origin", [Origin.AUTOMATION, Origin.CAMPAIGN])
def test_opted_out_contact_gets_no_automation_or_campaign(origin):
    verdict = gate.decide(origin, facts(contact_opted_out=True))
    assert (verdict.verdict, verdict.reason_code) == (gate.BLOCK, "contact_opted_out")


def test_campaign_without_marketing_consent_is_refused_in_words():
    verdict = gate.decide(Origin.CAMPAIGN, facts(contact_marketing_consent=False))
    assert (verdict.verdict, verdict.reason_code) == (gate.BLOCK, "no_marketing_consent")
    assert verdict.reason == "The contact has not agreed to marketing messages"


@pytest.mark.parametrize(
    "origin", [Origin.CHAT_MANUAL, Origin.AUTOMATION, Origin.API, Origin.CONFIRMATION]
)
def test_only_campaigns_need_marketing_consent(origin):
    assert gate.decide(origin, facts(contact_marketing_consent=False)).verdict == gate.ALLOW


def test_opted_out_outranks_missing_consent():
    verdict = gate.decide(
        Origin.CAMPAIGN, facts(contact_opted_out=True, contact_marketing_consent=False)
    )
    assert verdict.reason_code == "contact_opted_out"


def test_a_confirmation_reaches_an_opted_out_contact_even_in_quiet_hours():
    night = dict(quiet_hours_start=time(0, 0), quiet_hours_end=time(23, 59))
    verdict = gate.decide(Origin.CONFIRMATION, facts(contact_opted_out=True, **night))
    assert verdict.verdict == gate.ALLOW


def test_opted_out_contact_can_still_get_a_manual_reply():
    assert gate.decide(Origin.CHAT_MANUAL, facts(contact_opted_out=True)).verdict == gate.ALLOW


def test_disconnected_number_defers():
    verdict = gate.decide(Origin.CHAT_MANUAL, facts(number_status="disconnected"))
    assert verdict.verdict == gate.DEFER
    assert verdict.reason_code == "number_not_connected"
    assert verdict.defer_until > NOW


def test_paused_number_defers():
    assert gate.decide(Origin.API, facts(number_paused=True)).reason_code == "number_paused"


def test_cooldown_defers_until_it_ends():
    until = NOW + timedelta(minutes=5)
    verdict = gate.decide(Origin.API, facts(number_cooldown_until=until))
    assert (verdict.verdict, verdict.defer_until) == (gate.DEFER, until)


def test_kill_switch_defers_everything():
    verdict = gate.decide(Origin.CHAT_MANUAL, facts(sending_paused=True))
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "org_paused")


def test_block_wins_over_defer():
    verdict = gate.decide(
        Origin.CAMPAIGN, facts(contact_opted_out=True, number_status="connecting")
    )
    assert verdict.verdict == gate.BLOCK


# Quotas. NOW is 09:00 in São Paulo (UTC-3).


def test_hourly_quota_reached_defers_to_the_next_local_hour():
    verdict = gate.decide(Origin.API, facts(sent_this_hour=200, sent_today=200))
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "hourly_quota")
    assert verdict.defer_until == local("America/Sao_Paulo", 2026, 11, 24, 10, 0)
    assert verdict.reason


def test_under_the_hourly_quota_allows():
    assert gate.decide(Origin.API, facts(sent_this_hour=199)).verdict == gate.ALLOW


def test_daily_quota_reached_defers_to_local_midnight():
    verdict = gate.decide(Origin.CAMPAIGN, facts(sent_today=1000))
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "daily_quota")
    assert verdict.defer_until == local("America/Sao_Paulo", 2026, 11, 25, 0, 0)
    assert verdict.defer_until == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def test_daily_quota_wins_when_both_are_spent():
    verdict = gate.decide(Origin.API, facts(sent_this_hour=200, sent_today=1000))
    assert verdict.reason_code == "daily_quota"


def test_quotas_apply_to_manual_replies_too():
    verdict = gate.decide(Origin.CHAT_MANUAL, facts(sent_this_hour=5, hourly_quota=5))
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "hourly_quota")


def test_zero_quota_means_unlimited():
    busy = facts(sent_this_hour=10_000, sent_today=10_000, hourly_quota=0, daily_quota=0)
    assert gate.decide(Origin.CAMPAIGN, busy).verdict == gate.ALLOW


def test_hourly_quota_follows_a_half_hour_time_zone():
    # 12:00 UTC is 17:30 in Kolkata: its clock hour ends at 18:00 local, 12:30 UTC.
    verdict = gate.decide(
        Origin.API, facts(time_zone="Asia/Kolkata", sent_this_hour=1, hourly_quota=1)
    )
    assert verdict.defer_until == datetime(2026, 11, 24, 12, 30, tzinfo=UTC)


def test_daily_quota_on_a_dst_day_ends_at_local_midnight():
    # 2026-11-01 in New York has 25 hours: midnight EDT to midnight EST.
    now = local("America/New_York", 2026, 11, 1, 22, 0)
    verdict = gate.decide(
        Origin.API, facts(now=now, time_zone="America/New_York", sent_today=1, daily_quota=1)
    )
    assert verdict.defer_until == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)


def test_quota_waits_for_a_blocked_contact_to_be_refused_first():
    verdict = gate.decide(Origin.API, facts(contact_blocked=True, sent_today=1000))
    assert verdict.verdict == gate.BLOCK


# Quiet hours.

NIGHT = dict(quiet_hours_start=time(21, 0), quiet_hours_end=time(8, 0))


@pytest.mark.parametrize("origin", [o for o in Origin.values if o not in gate.QUIET_EXEMPT_ORIGINS])
def test_quiet_hours_defer_automated_origins_to_the_end_of_the_window(origin):
    now = local("America/Sao_Paulo", 2026, 11, 24, 22, 15)
    verdict = gate.decide(origin, facts(now=now, **NIGHT))
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "quiet_hours")
    assert verdict.defer_until == local("America/Sao_Paulo", 2026, 11, 25, 8, 0)
    assert verdict.reason


def test_quiet_hours_after_midnight_end_the_same_morning():
    now = local("America/Sao_Paulo", 2026, 11, 24, 3, 0)
    verdict = gate.decide(Origin.CAMPAIGN, facts(now=now, **NIGHT))
    assert verdict.defer_until == local("America/Sao_Paulo", 2026, 11, 24, 8, 0)


def test_manual_replies_ignore_quiet_hours():
    now = local("America/Sao_Paulo", 2026, 11, 24, 23, 0)
    assert gate.decide(Origin.CHAT_MANUAL, facts(now=now, **NIGHT)).verdict == gate.ALLOW


@pytest.mark.parametrize("hour", [8, 12, 20])
def test_outside_quiet_hours_allows(hour):
    now = local("America/Sao_Paulo", 2026, 11, 24, hour, 0)
    assert gate.decide(Origin.AUTOMATION, facts(now=now, **NIGHT)).verdict == gate.ALLOW


def test_quiet_hours_at_start_time_defer():
    now = local("America/Sao_Paulo", 2026, 11, 24, 21, 0)
    assert gate.decide(Origin.AUTOMATION, facts(now=now, **NIGHT)).reason_code == "quiet_hours"


def test_quiet_hours_within_one_day():
    lunch = dict(quiet_hours_start=time(12, 0), quiet_hours_end=time(13, 30))
    verdict = gate.decide(Origin.API, facts(now=NOW + timedelta(hours=3), **lunch))
    assert verdict.defer_until == local("America/Sao_Paulo", 2026, 11, 24, 13, 30)


def test_equal_start_and_end_or_no_times_mean_no_quiet_hours():
    same = dict(quiet_hours_start=time(9, 0), quiet_hours_end=time(9, 0))
    assert gate.decide(Origin.CAMPAIGN, facts(**same)).verdict == gate.ALLOW
    assert gate.decide(Origin.CAMPAIGN, facts()).verdict == gate.ALLOW


def test_quiet_hours_use_the_organizations_time_zone():
    # 12:00 UTC: 09:00 in São Paulo (allowed), 07:00 in New York (quiet until 08:00 EST).
    assert gate.decide(Origin.API, facts(**NIGHT)).verdict == gate.ALLOW
    verdict = gate.decide(Origin.API, facts(time_zone="America/New_York", **NIGHT))
    assert verdict.defer_until == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)


def test_quiet_hours_ending_in_the_skipped_dst_hour_end_at_the_jump():
    # New York, 2027-03-14: 02:00 EST jumps to 03:00 EDT, so 02:30 never happens.
    window = dict(quiet_hours_start=time(21, 0), quiet_hours_end=time(2, 30))
    now = local("America/New_York", 2027, 3, 14, 1, 45)
    verdict = gate.decide(Origin.API, facts(now=now, time_zone="America/New_York", **window))
    assert verdict.defer_until == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT


@pytest.mark.parametrize("fold", [0, 1])
def test_quiet_hours_ending_in_the_repeated_dst_hour_end_at_the_next_reading(fold):
    # New York, 2026-11-01: 01:00-02:00 happens twice (EDT, then EST). At 01:10 on the
    # second pass the clock is back inside the window until it reads 01:30 again.
    window = dict(quiet_hours_start=time(21, 0), quiet_hours_end=time(1, 30))
    now = local("America/New_York", 2026, 11, 1, 1, 10, fold=fold)
    verdict = gate.decide(Origin.API, facts(now=now, time_zone="America/New_York", **window))
    assert verdict.defer_until == local("America/New_York", 2026, 11, 1, 1, 30, fold=fold)
    assert verdict.defer_until - now == timedelta(minutes=20)


def test_quota_is_checked_before_quiet_hours():
    now = local("America/Sao_Paulo", 2026, 11, 24, 22, 15)
    verdict = gate.decide(Origin.API, facts(now=now, sent_today=1000, **NIGHT))
    assert verdict.reason_code == "daily_quota"


def test_dst_change_that_carries_the_clock_out_of_quiet_hours_ends_them():
    # New York, 2026-11-01: at 02:00 EDT the clock goes back to 01:00 EST, before 01:45.
    window = dict(quiet_hours_start=time(1, 45), quiet_hours_end=time(3, 0))
    now = local("America/New_York", 2026, 11, 1, 1, 50)
    verdict = gate.decide(Origin.API, facts(now=now, time_zone="America/New_York", **window))
    assert verdict.defer_until == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST


def test_allowed_minutes_skipped_by_dst_wait_for_the_next_day():
    # Lisbon, 2027-03-28: 01:00 jumps to 02:00, so 01:15-01:30 (the only allowed minutes) is
    # skipped; the next allowed minute is 01:15 the day after.
    window = dict(quiet_hours_start=time(1, 30), quiet_hours_end=time(1, 15))
    now = local("Europe/Lisbon", 2027, 3, 28, 0, 50)
    verdict = gate.decide(Origin.API, facts(now=now, time_zone="Europe/Lisbon", **window))
    assert verdict.defer_until == local("Europe/Lisbon", 2027, 3, 29, 1, 15)
