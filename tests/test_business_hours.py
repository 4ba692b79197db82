"""The SLA clock pauses outside business hours: table-driven across a weekend and a holiday.

2026-11-20 is a Friday (Dia da Consciência Negra, a holiday in these cases where named),
2026-11-21/22 the weekend, 2026-11-23 a Monday. Times are São Paulo local (UTC−3).
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversa.business_hours import DEFAULT_HOURS, Schedule, add_business_time, business_seconds

SP = ZoneInfo("America/Sao_Paulo")
HOLIDAY = date(2026, 11, 20)
WEEK = Schedule.from_settings("America/Sao_Paulo", DEFAULT_HOURS)
WEEK_WITH_HOLIDAY = Schedule.from_settings("America/Sao_Paulo", DEFAULT_HOURS, [HOLIDAY])
SPLIT = Schedule.from_settings(
    "America/Sao_Paulo", {"mon": [["08:00", "12:00"], ["13:00", "17:00"]]}
)
ALWAYS = Schedule.from_settings("America/Sao_Paulo", {})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SP)


H = 3600


@pytest.mark.parametrize(
    ("schedule", "start", "end", "hours"),
    [
        (WEEK, at(19, 10), at(19, 12), 2),  # inside one day
        (WEEK, at(19, 17), at(20, 10), 2),  # overnight pauses: 1 h Thu + 1 h Fri
        (WEEK, at(20, 17), at(23, 10), 2),  # the weekend counts nothing
        (WEEK, at(21, 10), at(22, 20), 0),  # all weekend
        (WEEK_WITH_HOLIDAY, at(19, 17), at(23, 10), 2),  # Fri holiday + weekend: 1 h + 1 h
        (WEEK_WITH_HOLIDAY, at(20, 9), at(20, 18), 0),  # the holiday itself
        (WEEK, at(19, 6), at(19, 8), 0),  # before opening
        (WEEK, at(19, 20), at(19, 23), 0),  # after closing
        (SPLIT, at(23, 11), at(23, 14), 2),  # the lunch break pauses the clock
        (ALWAYS, at(21, 10), at(22, 10), 24),  # no schedule: wall-clock time
        (WEEK, at(19, 12), at(19, 10), 0),  # end before start
    ],
)
def test_business_seconds(schedule, start, end, hours):
    assert business_seconds(start, end, schedule) == hours * H


@pytest.mark.parametrize(
    ("schedule", "start", "hours", "deadline"),
    [
        (WEEK, at(19, 10), 2, at(19, 12)),
        (WEEK, at(19, 17), 2, at(20, 10)),  # Thu 17:00 + 2 h → Fri 10:00
        (WEEK, at(20, 17), 2, at(23, 10)),  # Fri 17:00 + 2 h → Mon 10:00
        (WEEK_WITH_HOLIDAY, at(19, 17), 2, at(23, 10)),  # Thu 17:00 + 2 h → Mon 10:00
        (WEEK, at(21, 15), 1, at(23, 10)),  # written on Saturday: starts Monday 09:00
        (WEEK, at(19, 20), 9, at(20, 18)),  # after hours: a whole business day, Friday
        (SPLIT, at(23, 11), 2, at(23, 14)),
        (ALWAYS, at(21, 10), 3, at(21, 13)),
    ],
)
def test_add_business_time(schedule, start, hours, deadline):
    assert add_business_time(start, hours * H, schedule) == deadline


def test_a_deadline_and_the_time_spent_agree():
    start = at(20, 16, 30)
    for minutes in (0, 30, 90, 600, 3000):
        deadline = add_business_time(start, minutes * 60, WEEK_WITH_HOLIDAY)
        assert business_seconds(start, deadline, WEEK_WITH_HOLIDAY) == minutes * 60


def test_a_schedule_without_any_opening_has_no_deadline():
    closed = Schedule.from_settings("America/Sao_Paulo", {"mon": []})
    assert add_business_time(at(19, 10), H, closed) is None
    assert business_seconds(at(19, 10), at(19, 10) + timedelta(days=30), closed) == 0
