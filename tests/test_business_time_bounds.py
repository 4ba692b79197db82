"""`add_business_time` cannot overflow (issue 16, problem 5): whatever the duration, the start
or the schedule, it answers an instant after the start, or None past its horizon."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from conversa.business_hours import (
    HORIZON_DAYS,
    WEEKDAYS,
    Schedule,
    add_business_time,
)

ZONES = ["America/Sao_Paulo", "UTC", "Pacific/Kiritimati", "Australia/Lord_Howe", "Asia/Tehran"]


@st.composite
def schedules(draw) -> Schedule:
    hours = {}
    for day in draw(st.lists(st.sampled_from(WEEKDAYS), unique=True, max_size=7)):
        start = draw(st.integers(0, 22))
        end = draw(st.integers(start + 1, 23))
        hours[day] = [[f"{start:02d}:00", f"{end:02d}:59"]]
    return Schedule.from_settings(draw(st.sampled_from(ZONES)), hours)


durations = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(10_000_000_000 * 60),  # the target of problem 5, in seconds
)
starts = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(start=starts, seconds=durations, schedule=schedules())
def test_any_duration_and_schedule_gives_an_instant_or_none(start, seconds, schedule):
    due = add_business_time(start, seconds, schedule)
    assert due is None or due >= start
    if due is not None:
        assert due - start <= timedelta(days=HORIZON_DAYS + 1)


def test_a_ten_billion_minute_target_is_past_the_horizon():
    always = Schedule.from_settings("UTC", {})
    start = datetime(2026, 12, 5, tzinfo=UTC)
    assert add_business_time(start, 10_000_000_000 * 60, always) is None
    assert add_business_time(start, 60, always) == start + timedelta(minutes=1)
    # Near the end of the calendar a deadline that does not fit is none, not an error.
    assert add_business_time(datetime(9999, 12, 31, 23, tzinfo=UTC), 7200, always) is None
