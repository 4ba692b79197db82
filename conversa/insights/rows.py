"""What each live row contributes to the Insights counts, written once as SQL and used twice:
by the database triggers that append a delta for every change (triggers.py), and by `rebuild`,
which counts the live tables afresh (aggregates.py). Both sides sharing these definitions is
what makes the incremental counts equal to a rebuild.

A contribution is (organization, hour, metric, number, queue, agent, value): the hour is the
organization's local hour of the moment the figure counts at (a message and its statuses: the
message's creation, so a late status lands in its message's hour; a resolution: the
resolution), kept as its wall-clock time written as if it were UTC (`hour`): a local day is
whole hours in every time zone, :30 and :45 ones too, and a day or weekday is read off the
hour itself. A change of time zone recounts the organization (apps.py). Number,
queue and agent are 0 for none. Queue and agent are the conversation's as it is now, as the
figures always counted them: a transfer moves the conversation's counts from the old queue or
agent to the new (`related`). A message's number is its own, a Gate decision's too. A tag is a
dimension of the conversations' own counts, named in the metric (`tagged`): a conversation with
two tags counts under each, and putting a tag on or taking it off moves its counts.
"""

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

COLUMNS = "organization_id, hour, metric, number_id, queue_id, agent_id, value"

# (metric, condition on a message row `{r}`): an outbound message counts as sent once WhatsApp
# accepted it (and still when delivered or read), as the per-number figure always did.
MESSAGE_METRICS = [
    ("in", "{r}.direction = 'in'"),
    ("out", "{r}.direction = 'out'"),
    ("sent", "{r}.direction = 'out' AND {r}.status IN ('sent', 'delivered', 'read')"),
    ("delivered", "{r}.direction = 'out' AND {r}.status IN ('delivered', 'read')"),
    ("read", "{r}.direction = 'out' AND {r}.status = 'read'"),
    ("failed", "{r}.direction = 'out' AND {r}.status = 'failed'"),
]
REOPENED = "conversation.reopened"


def zone_of(row: str) -> str:
    """The time zone of row `row`'s organization."""
    return f"(SELECT z.time_zone FROM accounts_organization z WHERE z.id = {row}.organization_id)"  # noqa: S608 (constant SQL)


def hour(vendor: str, column: str) -> str:
    """The local hour of `column` (`row.column`) in its row's organization's time zone, as a
    wall-clock time written as UTC. SQLite has no time zones: `local_hour`, registered on
    every connection (apps.py), converts."""
    zone = zone_of(column.rsplit(".", 1)[0])
    if vendor == "postgresql":
        return f"(date_trunc('hour', {column} AT TIME ZONE {zone}) AT TIME ZONE 'UTC')"
    return f"conversa_local_hour({column}, {zone})"


def local_hour(value: str | None, zone: str | None) -> str | None:
    """SQLite's `conversa_local_hour`: a stored UTC time's local hour in `zone`."""
    if value is None or zone is None:
        return None
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(local_zone(zone))
    return moment.strftime("%Y-%m-%d %H:00:00")


@cache
def local_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def day_start(vendor: str, column: str) -> str:
    """The start of the local day of a local hour (`hour`'s)."""
    if vendor == "postgresql":
        return f"(date_trunc('day', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
    return f"strftime('%Y-%m-%d 00:00:00', {column})"


def next_day(vendor: str, column: str) -> str:
    if vendor == "postgresql":
        return f"({day_start(vendor, column)} + interval '1 day')"
    return f"strftime('%Y-%m-%d 00:00:00', {column}, '+1 day')"


def local_date(vendor: str, column: str) -> str:
    """A local hour's day as a date (the daily counts' `date`)."""
    if vendor == "postgresql":
        return f"CAST({column} AT TIME ZONE 'UTC' AS date)"
    return f"date({column})"


def local_week(vendor: str, column: str) -> str:
    """A local hour's week as the date of its Monday (the weekly counts' `week`)."""
    if vendor == "postgresql":
        return f"CAST(date_trunc('week', {column} AT TIME ZONE 'UTC') AS date)"
    return f"date({column}, 'weekday 0', '-6 days')"  # the Sunday ending its week, less six days


# The rows the fold keeps and a period is read from: (table, its time column, that column's
# SQL for a local hour `column`).
SPANS = {
    "hourly": ("insights_hourlycount", "hour", lambda vendor, column: column),
    "daily": ("insights_dailycount", "date", local_date),
    "weekly": ("insights_weeklycount", "week", local_week),
}


def day_text(vendor: str, column: str) -> str:
    """A local hour's day as YYYY-MM-DD (the handled counts' metric names)."""
    if vendor == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"strftime('%Y-%m-%d', {column})"


def dims(c: str) -> str:
    return f"COALESCE({c}.queue_id, 0), COALESCE({c}.assignee_id, 0)"


def message(vendor: str, m: str, c: str, sign: str, tail: str) -> str:
    """A message `m`'s counts under conversation `c`: its direction and, outbound, each status
    level it reached. `tail` joins the metrics `k` in: see `metrics_on`."""
    return (
        f"SELECT {m}.organization_id, {hour(vendor, m + '.created_at')}, k.metric, "  # noqa: S608 (constant SQL; values are parameters)
        f"{m}.number_id, {dims(c)}, {sign} FROM {tail}"
    )


def metrics_on(m: str) -> str:
    names = " UNION ALL ".join(f"SELECT '{name}' AS metric" for name, _ in MESSAGE_METRICS)
    match = " OR ".join(
        f"(k.metric = '{name}' AND {condition.format(r=m)})" for name, condition in MESSAGE_METRICS
    )
    return f"({names}) k ON ({match})"


# (metric, column of its hour or None for `NOW`, condition on a conversation row `{c}`): a
# conversation's own counts. Resolved: when resolved and still resolved (its last resolution
# counts). The SLA's: first replies and resolutions of conversations with a target, and those
# done by the due time (the first reply measured from the customer's first message, as the first
# response time is). Open: unresolved now, counted at `NOW`, not at an hour of a period.
FIRST_DUE = (
    "{c}.first_inbound_at IS NOT NULL AND {c}.first_response_at IS NOT NULL "
    "AND {c}.first_response_due_at IS NOT NULL"
)
RESOLUTION_DUE = (
    "{c}.status = 'resolved' AND {c}.resolved_at IS NOT NULL AND {c}.resolution_due_at IS NOT NULL"
)
CONVERSATION_METRICS = [
    ("opened", "created_at", "1 = 1"),
    ("resolved", "resolved_at", "{c}.status = 'resolved' AND {c}.resolved_at IS NOT NULL"),
    ("sla_first", "first_response_at", FIRST_DUE),
    (
        "sla_first_met",
        "first_response_at",
        FIRST_DUE + " AND {c}.first_response_at <= {c}.first_response_due_at",
    ),
    ("sla_resolution", "resolved_at", RESOLUTION_DUE),
    (
        "sla_resolution_met",
        "resolved_at",
        RESOLUTION_DUE + " AND {c}.resolved_at <= {c}.resolution_due_at",
    ),
    ("open", None, "{c}.status <> 'resolved'"),
]
# A tag's counts (`tagged`): the conversations tagged with it now, as the per-tag table counts.
TAG_METRICS = ("opened", "resolved", "open")
# The hour of the counts of now (open conversations): before any period (periods start in 2000).
NOW = "1970-01-01 00:00:00"


def now_hour(vendor: str) -> str:
    if vendor == "postgresql":
        return f"CAST('{NOW}+00' AS timestamptz)"
    return f"'{NOW}'"


def _hour_of(vendor: str, c: str, column: str | None) -> str:
    return now_hour(vendor) if column is None else hour(vendor, f"{c}.{column}")


def conversation(vendor: str, c: str, sign: str, source: str = "", where: str = "1 = 1") -> str:
    """A conversation's own counts (`CONVERSATION_METRICS`) under its number, queue and agent."""
    columns = f"{c}.number_id, {dims(c)}, {sign}"
    return " UNION ALL ".join(
        f"SELECT {c}.organization_id, {_hour_of(vendor, c, column)}, '{metric}', {columns}"
        f"{source} WHERE {condition.format(c=c)} AND {where}"
        for metric, column, condition in CONVERSATION_METRICS
    )


def tagged(vendor: str, c: str, t: str, sign: str, tail: str) -> str:
    """Conversation `c`'s counts under each of its tags (`t`, a row of the conversations' tags
    with `tail`'s FROM and WHERE), the tag in the metric: `tag:<tag id>:<metric>`."""
    return " UNION ALL ".join(
        f"SELECT {c}.organization_id, {_hour_of(vendor, c, column)}, "  # noqa: S608 (constant SQL)
        f"'tag:' || {t}.tag_id || ':{metric}', {c}.number_id, {dims(c)}, {sign} "
        f"FROM {tail} AND {condition.format(c=c)}"
        for metric, column, condition in CONVERSATION_METRICS
        if metric in TAG_METRICS
    )


def reopened(vendor: str, e: str, c: str, sign: str, tail: str) -> str:
    """A reopening (its timeline's event) under its conversation's number, queue and agent."""
    return (
        f"SELECT {e}.organization_id, {hour(vendor, e + '.created_at')}, 'reopened', "  # noqa: S608 (constant SQL; values are parameters)
        f"{c}.number_id, {dims(c)}, {sign} FROM {tail}"
    )


def reopening(e: str) -> str:
    return f"{e}.verb = '{REOPENED}' AND {e}.object_type = 'conversation'"


def decision(vendor: str, d: str, c: str, sign: str, tail: str) -> str:
    """A Gate decision by verdict and reason code, under its own number and its intent's
    conversation's queue and agent (none when the intent has no conversation)."""
    return (
        f"SELECT {d}.organization_id, {hour(vendor, d + '.created_at')}, "  # noqa: S608 (constant SQL; values are parameters)
        f"'gate:' || {d}.verdict || ':' || {d}.reason_code, COALESCE({d}.number_id, 0), "
        f"{dims(c)}, {sign} FROM {tail}"
    )


def related(vendor: str, c: str, sign: str) -> list[str]:
    """Everything counted under conversation `c`'s queue and agent besides its own counts: its
    messages, reopenings and Gate decisions (moved when a transfer changes them)."""
    of_conversation = (
        "SELECT gi.id FROM engine_messageintent gi "  # noqa: S608 (constant SQL)
        f"WHERE gi.conversation_id = {c}.id"
    )
    # On PostgreSQL, as an array first, so that each decision is found by its intent's index:
    # planned once for every row (a trigger's generic plan), a join was free to scan every
    # decision instead, and did (a campaign's intents have no conversation, which skews the
    # estimate), for each conversation deleted or transferred.
    intents = (
        f"= ANY(ARRAY({of_conversation}))" if vendor == "postgresql" else f"IN ({of_conversation})"
    )
    return [
        message(
            vendor,
            "rm",
            c,
            sign,
            f"inbox_message rm JOIN {metrics_on('rm')} WHERE rm.conversation_id = {c}.id",
        ),
        reopened(
            vendor,
            "e",
            c,
            sign,
            "accounts_operationalevent e WHERE "
            f"e.organization_id = {c}.organization_id AND e.object_id = {c}.id AND {reopening('e')}",
        ),
        decision(vendor, "d", c, sign, f"engine_gatedecision d WHERE d.intent_id {intents}"),
    ]


def live(vendor: str, where: dict[str, str]) -> list[str]:
    """Every contribution of the live tables, `where[table alias]` narrowing each table (an
    organization, a period): what `rebuild` counts."""
    return [
        message(
            vendor,
            "m",
            "c",
            "1",
            "inbox_message m JOIN inbox_conversation c "
            f"ON c.id = m.conversation_id JOIN {metrics_on('m')} WHERE {where['m']}",
        ),
        conversation(vendor, "c", "1", " FROM inbox_conversation c", where["c"]),
        tagged(
            vendor,
            "c",
            "t",
            "1",
            "inbox_conversation c JOIN inbox_conversation_tags t "
            f"ON t.conversation_id = c.id WHERE {where['c']}",
        ),
        reopened(
            vendor,
            "e",
            "c",
            "1",
            "accounts_operationalevent e JOIN inbox_conversation c "
            f"ON c.id = e.object_id WHERE {reopening('e')} AND {where['e']}",
        ),
        decision(
            vendor,
            "d",
            "gc",
            "1",
            "engine_gatedecision d JOIN engine_messageintent gi "
            "ON gi.id = d.intent_id LEFT JOIN inbox_conversation gc "
            f"ON gc.id = gi.conversation_id WHERE {where['d']}",
        ),
        duration(vendor, "u", "1", " FROM insights_duration u", where["u"]),
        handled_days(vendor, where["h"]),
    ]


# The first response and resolution times in buckets of business seconds (the lower bound of
# each; the last has none): `<kind>:<bucket>` counts a bucket's durations and `<kind>:s<bucket>`
# sums their seconds, so a percentile is interpolated in its bucket around the bucket's mean
# (durations.bucket_summary), exact when the bucket holds one duration.
DURATION_BOUNDS = (
    0, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 28800,
    43200, 57600, 86400, 129600, 172800, 259200, 345600, 432000, 604800, 864000, 1209600,
    1814400, 2592000,
)  # fmt: skip
DURATION_METRICS = {"first_response": "frt", "resolution": "res"}


def bucket(column: str) -> str:
    whens = " ".join(f"WHEN {column} < {hi} THEN {b}" for b, hi in enumerate(DURATION_BOUNDS[1:]))
    return f"CASE {whens} ELSE {len(DURATION_BOUNDS) - 1} END"


def duration(vendor: str, u: str, sign: str, source: str = "", where: str = "1 = 1") -> str:
    """A duration `u` (insights_duration) whose business seconds are settled, in its kind's
    buckets (`DURATION_BOUNDS`) at the local hour it ended, under its number, queue and agent."""
    kind = "CASE {u}.kind " + " ".join(
        f"WHEN '{name}' THEN '{short}'" for name, short in DURATION_METRICS.items()
    )
    kind = kind.format(u=u) + " END"
    integer = "BIGINT" if vendor == "postgresql" else "INTEGER"
    head = f"SELECT {u}.organization_id, {hour(vendor, u + '.ended_at')}, {kind} || ':' || "
    tail = f", {u}.number_id, {u}.queue_id, {u}.agent_id"
    condition = f"{source} WHERE {u}.seconds IS NOT NULL AND {where}"
    b = bucket(f"{u}.seconds")
    return (
        f"{head}{b}{tail}, {sign}{condition} UNION ALL "
        f"{head}'s' || {b}{tail}, {sign} * CAST(ROUND({u}.seconds) AS {integer}){condition}"
    )


# The conversations a member handled (replied in), counted so that any period of whole local
# days sums them: each (conversation, member) counts once on each local day they replied, at
# the day's start, as `handled:<the day of their reply before, or nothing>` under agent = the
# member (no number or queue). A period's count is the sum of those whose day before is not in
# it (figures.handled_counts): the conversations' first replies in the period.
HANDLED = "handled:"


def handled_days(vendor: str, where: str) -> str:
    """The handled counts of the live rows (`models.Handled`, alias h, narrowed by `where`)."""
    return (
        "SELECT organization_id, day, '" + HANDLED + "' || COALESCE(prev, ''), 0, 0, "  # noqa: S608 (constant SQL)
        "sender_id, 1 FROM (SELECT organization_id, sender_id, day, LAG(day_name) OVER "
        "(PARTITION BY conversation_id, sender_id ORDER BY day_name) AS prev FROM "
        "(SELECT DISTINCT h.organization_id, h.conversation_id, h.sender_id, "
        f"{day_start(vendor, 'h.hour')} AS day, {day_text(vendor, 'h.hour')} AS day_name "
        f"FROM insights_handled h WHERE {where}) y) z"
    )
