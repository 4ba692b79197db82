"""Properties of the Gate over many generated facts, clocks and time zones."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversa.engine import gate
from conversa.engine.models import MessageIntent

Origin = MessageIntent.Origin
TIME_ZONES = ["America/Sao_Paulo", "America/New_York", "Europe/Lisbon", "UTC", "Asia/Kolkata"]
# What quiet hours hold back: all but an operator's reply and the answer to a keyword.
NON_MANUAL = [o for o in Origin.values if o not in gate.QUIET_EXEMPT_ORIGINS]

FIRST, LAST = datetime(2025, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)


# Santiago and Havana move their clocks around midnight, Lord Howe by half an hour.
QUOTA_TIME_ZONES = [*TIME_ZONES, "America/Santiago", "America/Havana", "Australia/Lord_Howe"]


def dst_changes(time_zone: str) -> list[datetime]:
    """The instants, to the next whole UTC hour, where `time_zone` changes its offset."""
    tz, changes, day = ZoneInfo(time_zone), [], FIRST

    def offset(moment):
        return moment.astimezone(tz).utcoffset()

    while day < LAST:
        if offset(day) != offset(day + timedelta(days=1)):  # a change within this day
            hour = day
            while offset(hour) == offset(day):
                hour += timedelta(hours=1)
            changes.append(hour)
        day += timedelta(days=1)
    return changes


DST_CHANGES = sorted({c for name in QUOTA_TIME_ZONES for c in dst_changes(name)})

# Aware UTC instants over a few years; a good share within hours of a DST change, where
# wall clocks skip or repeat an hour.
instants = st.one_of(
    st.datetimes(
        min_value=FIRST.replace(tzinfo=None),
        max_value=LAST.replace(tzinfo=None),
        timezones=st.just(UTC),
    ),
    st.builds(
        lambda change, minutes: change + timedelta(minutes=minutes),
        st.sampled_from(DST_CHANGES),
        st.integers(-6 * 60, 6 * 60),
    ),
)
# Minute-precision wall times, often in the small hours where DST changes happen.
minutes = st.one_of(
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
    st.builds(time, st.integers(0, 3), st.integers(0, 59)),
)
optional_instants = st.none() | instants
counts = st.integers(0, 2_000)


def any_facts(**fixed) -> st.SearchStrategy[gate.Facts]:
    fields = dict(
        now=instants,
        sending_paused=st.booleans(),
        number_status=st.sampled_from(["created", "connecting", "connected", "disconnected"]),
        number_paused=st.booleans(),
        number_cooldown_until=optional_instants,
        contact_blocked=st.booleans(),
        contact_opted_out=st.booleans(),
        contact_marketing_consent=st.booleans(),
        time_zone=st.sampled_from(TIME_ZONES),
        quiet_hours_start=st.none() | minutes,
        quiet_hours_end=st.none() | minutes,
        sent_this_hour=counts,
        sent_today=counts,
        hourly_quota=counts,
        daily_quota=counts,
    )
    return st.builds(gate.Facts, **{**fields, **{k: st.just(v) for k, v in fixed.items()}})


def quiet_only(now: datetime, time_zone: str, start: time, end: time) -> gate.Facts:
    """Facts where nothing but quiet hours could hold a message back."""
    return gate.Facts(
        now=now,
        sending_paused=False,
        number_status="connected",
        number_paused=False,
        number_cooldown_until=None,
        contact_blocked=False,
        contact_opted_out=False,
        contact_marketing_consent=True,
        time_zone=time_zone,
        quiet_hours_start=start,
        quiet_hours_end=end,
        sent_this_hour=0,
        sent_today=0,
        hourly_quota=0,
        daily_quota=0,
    )


def inside(moment: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    """The window test written again, independently of the Gate's."""
    t = moment.astimezone(tz).time()
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


@settings(max_examples=300, deadline=None)
@given(
    facts=any_facts(contact_opted_out=True),
    origin=st.sampled_from([Origin.AUTOMATION, Origin.CAMPAIGN]),
)
def test_opted_out_contact_never_gets_automation_or_campaign(facts, origin):
    assert gate.decide(origin, facts).verdict != gate.ALLOW


@settings(max_examples=300, deadline=None)
@given(facts=any_facts(contact_marketing_consent=False))
def test_no_campaign_reaches_a_contact_without_marketing_consent(facts):
    assert gate.decide(Origin.CAMPAIGN, facts).verdict == gate.BLOCK


@settings(max_examples=300, deadline=None)
@given(
    now=instants,
    time_zone=st.sampled_from(TIME_ZONES),
    start=minutes,
    end=minutes,
    origin=st.sampled_from(NON_MANUAL),
)
def test_quiet_hours_defer_to_the_first_allowed_minute(now, time_zone, start, end, origin):
    tz = ZoneInfo(time_zone)
    verdict = gate.decide(origin, quiet_only(now, time_zone, start, end))
    if not inside(now, tz, start, end):
        assert verdict.verdict == gate.ALLOW
        return
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "quiet_hours")
    until = verdict.defer_until
    assert until.tzinfo is not None and until.utcoffset() == timedelta(0)
    assert until > now
    assert not inside(until, tz, start, end)
    before = until - timedelta(minutes=1)
    assert before <= now or inside(before, tz, start, end)


@settings(max_examples=300, deadline=None)
@given(
    now=instants,
    time_zone=st.sampled_from(QUOTA_TIME_ZONES),
    origin=st.sampled_from(Origin.values),
    spent=st.sampled_from(["hour", "day"]),
)
def test_quota_defers_to_the_end_of_the_current_local_hour_or_day(now, time_zone, origin, spent):
    tz = ZoneInfo(time_zone)
    facts = quiet_only(now, time_zone, None, None)
    quota = dict(hourly_quota=5, daily_quota=50, sent_this_hour=0, sent_today=0)
    quota["sent_this_hour" if spent == "hour" else "sent_today"] = 50
    verdict = gate.decide(origin, gate.Facts(**{**facts.__dict__, **quota}))
    assert verdict.verdict == gate.DEFER
    until = verdict.defer_until
    assert until.utcoffset() == timedelta(0)
    assert until > now
    if spent == "day":
        assert verdict.reason_code == "daily_quota"
        assert until.astimezone(tz).date() > now.astimezone(tz).date()
        assert (until - timedelta(minutes=1)).astimezone(tz).date() == now.astimezone(tz).date()
    else:
        assert verdict.reason_code == "hourly_quota"
        assert until - now <= timedelta(hours=1)
        assert (until - timedelta(minutes=1)).astimezone(tz).hour == now.astimezone(tz).hour


@pytest.mark.parametrize(
    ("now", "time_zone"),
    [
        # Clocks forward half an hour (02:00 → 02:30): hypothesis found the hour ran past 03:00.
        (datetime(2025, 10, 4, 15, 59, tzinfo=UTC), "Australia/Lord_Howe"),
        # Clocks back half an hour (02:00 → 01:30), in the repeated half hour.
        (datetime(2024, 4, 6, 15, 6, tzinfo=UTC), "Australia/Lord_Howe"),
        # Chatham's clocks go back an hour at 03:45: both passes of the repeated hour.
        (datetime(2024, 4, 6, 13, 21, tzinfo=UTC), "Pacific/Chatham"),
        (datetime(2024, 4, 6, 14, 3, tzinfo=UTC), "Pacific/Chatham"),
        (datetime(2024, 4, 6, 15, 6, tzinfo=UTC), "Pacific/Chatham"),
    ],
)
def test_the_local_hour_around_a_dst_change_holds_now_and_ends_on_the_clock(now, time_zone):
    tz = ZoneInfo(time_zone)
    (start, end), _ = gate.clock_windows(now, tz)
    assert start <= now < end <= now + timedelta(hours=1)
    assert (end - timedelta(minutes=1)).astimezone(tz).hour == now.astimezone(tz).hour
