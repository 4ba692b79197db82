"""The SLA clock: time counted only within an organization's business hours.

A week schedule (local opening intervals per weekday) and holidays (whole local days off), in
the organization's time zone. Pure functions of their arguments: the conversation's SLA fields
are computed from them, and the table-driven tests exercise them across weekends and holidays.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.utils.translation import gettext

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Mon–Fri 09:00–18:00: what a new organization starts with.
DEFAULT_HOURS = {day: [["09:00", "18:00"]] for day in WEEKDAYS[:5]}


@dataclass(frozen=True)
class Schedule:
    time_zone: str
    # weekday (0 = Monday) → opening intervals as local (start, end) times, start < end.
    hours: dict[int, list[tuple[time, time]]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, time_zone: str, hours: dict, holidays=()) -> "Schedule":
        """From the stored form: {"mon": [["09:00", "18:00"]], …}; an empty dict means
        always open (the clock never pauses)."""
        parsed = {
            WEEKDAYS.index(day): sorted(
                (time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans
            )
            for day, spans in hours.items()
        }
        return cls(time_zone, parsed, frozenset(holidays))

    @property
    def always_open(self) -> bool:
        return not self.hours and not self.holidays

    def open_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening intervals as aware datetimes (none on a holiday)."""
        if day in self.holidays:
            return []
        tz = ZoneInfo(self.time_zone)
        return [
            (utc(datetime.combine(day, start, tz)), utc(datetime.combine(day, end, tz)))
            for start, end in self.hours.get(day.weekday(), [])
        ]


def utc(moment: datetime) -> datetime:
    """The instant in UTC. Python subtracts and adds two datetimes of one time zone by their
    wall clocks: 01:30 to 03:30 on a morning the clocks go forward is two hours to it, one
    hour in fact. In UTC the arithmetic is elapsed time."""
    return moment.astimezone(UTC)


# Far enough to cross any run of holidays; a schedule with no opening at all never ends.
HORIZON_DAYS = 366


def business_seconds(start: datetime, end: datetime, schedule: Schedule) -> float:
    """Seconds of business time between two instants (0 when end ≤ start)."""
    start, end = utc(start), utc(end)
    if end <= start:
        return 0.0
    if schedule.always_open:
        return (end - start).total_seconds()
    tz = ZoneInfo(schedule.time_zone)
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    total = 0.0
    while day <= last:
        for opens, closes in schedule.open_spans(day):
            overlap = min(closes, end) - max(opens, start)
            total += max(overlap.total_seconds(), 0.0)
        day += timedelta(days=1)
    return total


def add_business_time(start: datetime, seconds: float, schedule: Schedule) -> datetime | None:
    """The instant `seconds` of business time after `start` (a deadline), or None when it is
    not within HORIZON_DAYS: the schedule has no opening within a year, or the duration is
    longer than that (a stored target from before targets were bounded, say). Never raises
    for a huge, infinite or NaN duration, nor near the end of the calendar; a negative one
    counts as none."""
    if not seconds > 0:  # negative, zero or NaN
        seconds = 0.0
    if seconds > HORIZON_DAYS * 86400:
        # No schedule opens more than 24 hours a day: this deadline lies past the horizon.
        return None
    try:
        return _add_business_time(start, seconds, schedule)
    except OverflowError:
        return None  # past datetime.max: no deadline this calendar can hold


def _add_business_time(start: datetime, seconds: float, schedule: Schedule) -> datetime | None:
    start = utc(start)
    if schedule.always_open:
        return start + timedelta(seconds=seconds)
    tz = ZoneInfo(schedule.time_zone)
    day = start.astimezone(tz).date()
    left = seconds
    for _ in range(HORIZON_DAYS):
        for opens, closes in schedule.open_spans(day):
            begin = max(opens, start)
            if begin >= closes:
                continue
            available = (closes - begin).total_seconds()
            if left <= available:
                return begin + timedelta(seconds=left)
            left -= available
        day += timedelta(days=1)
    return None


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def schedule_problems(time_zone: str, hours, holidays) -> list[str]:
    """What is wrong with a stored schedule, in words for whoever entered it; empty when it
    is valid. `hours`: {"mon": [["09:00", "18:00"], …], …} with known weekdays and, per day,
    spans "HH:MM" with start < end that do not overlap; `holidays`: ISO dates."""
    found = []
    # The IANA names only: ZoneInfo also reads paths such as "posix/…", which the
    # organization's time zone field refuses to store.
    if time_zone not in known_zones():
        found.append(gettext("Unknown time zone: %(zone)r.") % {"zone": time_zone})
    if not isinstance(hours, dict):
        return [*found, gettext('Business hours are {"mon": [["09:00", "18:00"]], …}.')]
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            found.append(
                gettext("Unknown weekday %(day)r: use %(days)s.")
                % {"day": day, "days": ", ".join(WEEKDAYS)}
            )
            continue
        try:
            parsed = sorted(
                (time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans
            )
        except (TypeError, ValueError):
            found.append(gettext('%(day)s: each span is ["HH:MM", "HH:MM"].') % {"day": day})
            continue
        if any(start >= end for start, end in parsed):
            found.append(
                gettext("%(day)s: a span must end after it starts (same day).") % {"day": day}
            )
        if any(prev[1] > nxt[0] for prev, nxt in zip(parsed, parsed[1:], strict=False)):
            found.append(gettext("%(day)s: spans overlap.") % {"day": day})
    if not isinstance(holidays, list):
        return [*found, gettext('Holidays are a list of dates: ["2026-12-25", …].')]
    for holiday in holidays:
        try:
            date.fromisoformat(holiday)
        except (TypeError, ValueError):
            found.append(gettext("Not a date (YYYY-MM-DD): %(value)r.") % {"value": holiday})
    return found
