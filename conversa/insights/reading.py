"""The Insights counts read: a period's counts (`counts`, `read`) out of the weekly rows of its
whole local weeks, the daily rows of the whole days around them, the hourly rows of the hours
around those and the deltas not folded yet, so a figure is exact whatever the fold's lag; the
counts of now (`now_counts`); and a page's questions answered from a few wider reads
(`together`). `aggregates` keeps the rows.
"""

from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from conversa.accounts.models import Organization
from conversa.insights import rows, triggers

ALL = -1  # the queue or agent of a sum over every queue or agent (models.HourlyCount)
# The hour the counts of now are kept at (open conversations: rows.NOW).
NOW = datetime(1970, 1, 1, tzinfo=UTC)


# Groupings a daily row cannot give: a period grouped by them reads the hourly rows alone.
HOURLY_ONLY = {"hour", "local_hour"}
# Nor a weekly row: grouped by them, the whole weeks read their days' rows.
DAILY_ONLY = HOURLY_ONLY | {"day", "weekday"}


def local_hour(org: Organization, moment: datetime) -> datetime:
    """The hour row a moment is counted in (rows.hour): its local wall-clock time as UTC. A
    period's local midnights are exact hour rows, whatever the zone's offset (:30, :45)."""
    local = moment.astimezone(ZoneInfo(org.time_zone))
    return local.replace(tzinfo=UTC)


def counts(org: Organization, start: datetime, end: datetime, **narrow) -> dict[tuple, int]:
    """The counts of the moments in [start, end) (`read`): the local hours from the one
    `start` falls in to the one `end` starts."""
    return read(org, local_hour(org, start), local_hour(org, end), **narrow)


@dataclass(frozen=True)
class Reading:
    """One `read`'s question: the counts of the metrics named and of the ones under the
    prefixes, in [start, end) (local hours, as `read` takes them), grouped by `by`, under one
    number, queue and agent (None: all). `together` makes a wider one once for every
    narrower one it answers."""

    start: datetime
    end: datetime
    by: tuple[str, ...]
    metrics: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    number_id: int | None = None
    queue_id: int | None = None
    agent_id: int | None = None

    def answers(self, asked: "Reading") -> bool:
        """Whether `asked`'s counts are among this read's (it names some metrics: else it
        asks for every one)."""
        return (
            (self.start, self.end, self.by) == (asked.start, asked.end, asked.by)
            and (self.number_id, self.queue_id, self.agent_id)
            == (asked.number_id, asked.queue_id, asked.agent_id)
            and bool(asked.metrics or asked.prefixes)
            and all(m in self.metrics or m.startswith(self.prefixes) for m in asked.metrics)
            and all(p.startswith(self.prefixes) for p in asked.prefixes)
        )


# The organization whose figures are read `together`, and its wider reads with what each read
# (by metric: a figure asks for a few of some hundred metrics, not for a pass over every row).
_together: ContextVar[tuple[int, dict[Reading, dict[str, dict] | None]] | None] = ContextVar(
    "together", default=None
)


@contextmanager
def together(org: Organization, wider: Iterable[Reading]):
    """Within the block, a `read` of `org` that one of `wider` answers (the same period,
    grouping and dimensions; metrics it names or counts under a prefix) is filtered out of
    that one's rows, read once at its first use: a page asks some twenty questions of a few
    row ranges, and each statement costs its planning and its pass over the range again."""
    token = _together.set((org.pk, dict.fromkeys(wider)))
    try:
        yield
    finally:
        _together.reset(token)


def read(
    org: Organization,
    start: datetime,
    end: datetime,
    *,
    by: tuple[str, ...],
    metrics: Iterable[str] = (),
    metric_prefix: str | tuple[str, ...] = "",
    number_id: int | None = None,
    queue_id: int | None = None,
    agent_id: int | None = None,
) -> dict[tuple, int]:
    """The counts of the hour rows in [start, end) summed by the columns `by` (of metric,
    hour, number_id, queue_id, agent_id, or the row's local day, ISO weekday and hour of the
    day: "day", "weekday", "local_hour"), narrowed to the dimensions given and to the metrics
    named in `metrics` or starting with a `metric_prefix` (either, when both are given).

    One statement: the weekly rows of the period's whole local weeks, the daily rows of the
    whole days before and after them, the hourly rows of the hours before and after those (a
    range each: together, the planner would scan the table), and the deltas not folded yet,
    each grouped, their sums added here. Written as SQL, not with the ORM: a page reads some
    thirty of these, and building each union of querysets cost more than the database's work
    on it. Inside `together`, from a wider read."""
    metrics = list(metrics)
    prefixes = (metric_prefix,) if isinstance(metric_prefix, str) else tuple(metric_prefix)
    prefixes = tuple(p for p in prefixes if p)
    asked = Reading(start, end, by, frozenset(metrics), prefixes, number_id, queue_id, agent_id)
    planned = _together.get()
    if planned is not None and planned[0] == org.pk and "metric" in by:
        reads = planned[1]
        for wide in reads:
            if wide.answers(asked):
                if reads[wide] is None:
                    reads[wide] = by_metric(statement(org, wide), by.index("metric"))
                found: dict[tuple, int] = {}
                for metric, rows_of in reads[wide].items():
                    if metric in asked.metrics or metric.startswith(prefixes):
                        found |= rows_of
                return found
    return statement(org, asked)


def by_metric(found: dict[tuple, int], at: int) -> dict[str, dict[tuple, int]]:
    """A read's counts by their metric (the key's `at`-th column)."""
    grouped: dict[str, dict[tuple, int]] = defaultdict(dict)
    for key, n in found.items():
        grouped[key[at]][key] = n
    return grouped


def statement(org: Organization, asked: Reading) -> dict[tuple, int]:
    """`read`'s one statement."""
    start, end, by, prefixes = asked.start, asked.end, asked.by, asked.prefixes
    number_id, queue_id, agent_id = asked.number_id, asked.queue_id, asked.agent_id
    metrics = sorted(asked.metrics)
    vendor = triggers.vendor_of(connection)
    shared, shared_params = ["organization_id = %s"], [org.pk]
    named = []  # the metrics named, or starting with a prefix: either
    if metrics:
        if vendor == "postgresql":  # one array parameter, still an index condition
            named.append("metric = ANY(%s)")
            shared_params.append(metrics)
        else:
            named.append(f"metric IN ({', '.join(['%s'] * len(metrics))})")
            shared_params.extend(metrics)
    if prefixes:
        named.extend(f"substr(metric, 1, {len(p)}) = %s" for p in prefixes)
        shared_params.extend(prefixes)
    if named:
        shared.append(named[0] if len(named) == 1 else f"({' OR '.join(named)})")
    for column, value in (("number_id", number_id), ("queue_id", queue_id), ("agent_id", agent_id)):
        if value is not None:
            shared.append(f"{column} = %s")
            shared_params.append(value)
    # The fewest folded rows that hold the answer: each queue's (or agent's) sums over every
    # agent (or queue) when only one of them is grouped by; the sums over both when neither is.
    folded, folded_params = list(shared), list(shared_params)
    for column, value in (("queue_id", queue_id), ("agent_id", agent_id)):
        if column in by:
            folded.append(f"{column} >= 0")
        else:
            folded.append(f"{column} = %s")
            folded_params.append(ALL if value is None else value)
    moment = connection.ops.adapt_datetimefield_value
    hours, days, weeks = [(start, end)], [], []
    first_day, last_day = whole_days(start, end)
    if first_day < last_day and not HOURLY_ONLY & set(by):
        hours, days = [(start, first_day), (last_day, end)], [(first_day, last_day)]
        first_week, last_week = whole_weeks(first_day, last_day)
        if first_week < last_week and not DAILY_ONLY & set(by):
            days, weeks = (
                [(first_day, first_week), (last_week, last_day)],
                [(first_week, last_week)],
            )
    selects, params = [], []

    # PostgreSQL sums a bigint column as a numeric, which the driver reads as a Decimal, some
    # thousands of them a page: a bigint again, read as an int.
    total_of = "CAST(SUM({}) AS bigint)" if vendor == "postgresql" else "SUM({})"

    def source(table: str, value: str, where: list[str], where_params: list, daily=False):
        columns = [grouping(vendor, name, daily) for name in by]
        group = f" GROUP BY {', '.join(str(n + 1) for n in range(len(by)))}" if by else ""
        selects.append(
            f"SELECT {', '.join([*columns, total_of.format(value)])} FROM {table} "  # noqa: S608 (constant SQL; values are parameters)
            f"WHERE {' AND '.join(where)}{group}"
        )
        params.extend(where_params)

    # A range each, as the hours: together, the planner would scan the table.
    for (table, column, _), spans in ((rows.SPANS["weekly"], weeks), (rows.SPANS["daily"], days)):
        for begin, until in spans:
            if begin < until:
                source(
                    table,
                    "count",
                    [*folded, f"{column} >= %s", f"{column} < %s"],
                    [*folded_params, begin.date().isoformat(), until.date().isoformat()],
                    daily=True,
                )
    for begin, until in hours:
        if begin < until:
            source(
                "insights_hourlycount",
                "count",
                [*folded, "hour >= %s", "hour < %s"],
                [*folded_params, moment(begin), moment(until)],
            )
    source(
        "insights_delta",
        "value",
        [*shared, "hour >= %s", "hour < %s"],
        [*shared_params, moment(start), moment(end)],
    )
    total: dict[tuple, int] = defaultdict(int)
    parse = [PARSE.get((vendor, name)) for name in by]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        found = cursor.fetchall()
    if any(parse):
        for *key, n in found:
            total[tuple(f(v) if f else v for f, v in zip(parse, key, strict=True))] += n
    else:  # the common case, without a call per value: a wide read returns thousands of rows
        for row in found:
            total[row[:-1]] += row[-1]
    return {key: n for key, n in total.items() if n}


def grouping(vendor: str, name: str, daily: bool) -> str:
    """The SQL of a `read` grouping on an hourly (or delta) row, or on a daily one (never by
    the hour of the day: HOURLY_ONLY)."""
    if name not in ("day", "weekday", "local_hour"):
        return name
    if name == "day":
        return "date" if daily else rows.local_date(vendor, "hour")
    column = "date" if daily else "hour"
    if vendor == "postgresql":
        field = "ISODOW" if name == "weekday" else "HOUR"
        # An hourly row's hour is a local wall-clock time written as UTC (rows.hour).
        wall = column if daily else f"{column} AT TIME ZONE 'UTC'"
        return f"CAST(EXTRACT({field} FROM {wall}) AS integer)"
    if name == "weekday":
        return f"(CAST(strftime('%%w', {column}) AS integer) + 6) %% 7 + 1"
    return f"CAST(strftime('%%H', {column}) AS integer)"


def utc_hour(value: str | datetime) -> datetime:
    """SQLite's hour: naive (a column it converts) or text (a computed one)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


def local_day(value: str | date) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


PARSE = {("sqlite", "hour"): utc_hour, ("sqlite", "day"): local_day}


def midnight_before(hour: datetime) -> datetime:
    """The local midnight an hour row's day starts at (itself at midnight)."""
    return hour.replace(hour=0, minute=0, second=0, microsecond=0)


def midnight_after(hour: datetime) -> datetime:
    """The first local midnight at or after an hour row (itself at midnight)."""
    midnight = midnight_before(hour)
    return midnight if midnight == hour else midnight + timedelta(days=1)


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The first and last local midnights of the hours [start, end): the whole days between
    them (none when the first is not before the last)."""
    return midnight_after(start), midnight_before(end)


def monday_before(hour: datetime) -> datetime:
    """The local midnight an hour row's week (Monday to Sunday) starts at."""
    return midnight_before(hour) - timedelta(days=hour.weekday())


def monday_after(hour: datetime) -> datetime:
    """The first local Monday midnight at or after an hour row (itself on one)."""
    monday = monday_before(hour)
    return monday if monday == hour else monday + timedelta(days=7)


def whole_weeks(first_day: datetime, last_day: datetime) -> tuple[datetime, datetime]:
    """The first and last local Monday midnights of the days [first_day, last_day): the whole
    weeks between them (none when the first is not before the last)."""
    return monday_after(first_day), monday_before(last_day)


def now_counts(org: Organization, **narrow) -> dict[tuple, int]:
    """The counts of now (`rows.NOW`: open conversations, all of them and per tag), as
    `read` reads a period's."""
    return read(org, NOW, NOW + timedelta(hours=1), **narrow)
