"""The Insights counts kept incrementally: fold, rebuild (`reading` reads them).

The database appends a delta for every change that moves a count, in the change's own
transaction (triggers.py): ingest never updates a shared counter row, so webhooks for one
organization do not queue behind each other. The workers fold the deltas into hourly, daily
and weekly rows (`fold`, every few seconds); a figure reads the weekly rows of the period's
whole weeks, the daily rows of the days around them, the hourly rows of the hours around
those and the deltas not yet folded (`reading.counts`), so it is exact whatever the fold's lag.
`rebuild` counts an organization's live tables afresh (after a bulk load, or as a repair).
"""

from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from conversa import business_hours as sla
from conversa.accounts.models import Organization
from conversa.insights import rows, triggers
from conversa.insights.models import DailyCount, Delta, Duration, Handled, HourlyCount, WeeklyCount
from conversa.insights.reading import (
    ALL,
    midnight_after,
    midnight_before,
    monday_after,
    monday_before,
)

KEY = "organization_id, hour, metric, number_id, queue_id, agent_id"
FOLD_BATCH = 5000
SETTLE_BATCH = 2000
# (queue, agent) of the rows each delta adds to: its own, and the three sums over them.
ROLLUPS = [("queue_id", "agent_id"), (ALL, "agent_id"), ("queue_id", ALL), (ALL, ALL)]


def fold(batch: int = FOLD_BATCH) -> int:
    """Fold up to `batch` of the oldest deltas into the hourly rows and delete them, in one
    transaction. Folders running at once take disjoint deltas (PostgreSQL: SKIP LOCKED; SQLite
    has one writer at a time), so nothing is counted twice. Returns how many were folded."""
    vendor = triggers.vendor_of(connection)
    with transaction.atomic():
        taken = Delta.objects.order_by("id").values_list("id", flat=True)
        if vendor == "postgresql":
            taken = taken.select_for_update(skip_locked=True)
        ids = list(taken[:batch])
        if not ids:
            return 0
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            for into in rows.SPANS:
                for queue, agent in ROLLUPS:
                    cursor.execute(
                        upsert(queue, agent, "insights_delta", "value", f"d.id IN ({marks})", into),
                        ids,
                    )
            cursor.execute(f"DELETE FROM insights_delta WHERE id IN ({marks})", ids)  # noqa: S608 (constant SQL; values are parameters)
    return len(ids)


def upsert(queue, agent, table: str, column: str, where: str, into: str = "hourly") -> str:
    """Add the rows of `table` (with an hour) matching `where` to the hourly rows, or to the
    daily or weekly ones (`rows.SPANS`), under their own queue and agent or the sums' (ALL). Keys go
    in one order in every folder: two upserting the same rows wait for each other instead of
    deadlocking. Rows of a deleted organization are dropped."""
    q, a = (f"d.{x}" if isinstance(x, str) else str(x) for x in (queue, agent))
    name, time_column, of_hour = rows.SPANS[into]
    target, when = (name, time_column), of_hour(triggers.vendor_of(connection), "d.hour")
    # Grouped and ordered by the columns only: a constant there would name a column by number.
    key = ", ".join(
        ["d.organization_id", when, "d.metric", "d.number_id"]
        + [f"d.{x}" for x in (queue, agent) if isinstance(x, str)]
    )
    columns = f"organization_id, {target[1]}, metric, number_id, queue_id, agent_id"
    return (
        f"INSERT INTO {target[0]} ({columns}, count) "  # noqa: S608 (constant SQL; values are parameters)
        f"SELECT d.organization_id, {when}, d.metric, d.number_id, {q}, {a}, SUM(d.{column}) "
        f"FROM {table} d JOIN accounts_organization o ON o.id = d.organization_id "
        f"WHERE {where} GROUP BY {key} ORDER BY {key} "
        f"ON CONFLICT ({columns}) DO UPDATE SET count = {target[0]}.count + excluded.count"
    )


def fold_all() -> int:
    """Fold until no delta is left and every duration has its business seconds (the worker's
    pass, the tests)."""
    total = 0
    while True:
        while folded := fold():
            total += folded
        settled = 0
        while found := settle():
            settled += found
        if not settled:
            return total
        total += settled  # their seconds' buckets are deltas to fold


def settle(batch: int = SETTLE_BATCH) -> int:
    """Count the business seconds of up to `batch` durations that have none yet. The rows are
    locked first and their organization read after (PostgreSQL: SKIP LOCKED), so a change of
    business hours committed meanwhile waits for this and then empties them again."""
    vendor = triggers.vendor_of(connection)
    with transaction.atomic():
        pending = Duration.objects.filter(seconds__isnull=True).order_by("id")
        if vendor == "postgresql":
            pending = pending.select_for_update(skip_locked=True)
        found = list(pending[:batch])
        if not found:
            return 0
        orgs = Organization.objects.in_bulk({row.organization_id for row in found})
        schedules = {pk: org.sla_schedule() for pk, org in orgs.items()}
        settled = []
        for row in found:
            if row.organization_id in schedules:
                row.seconds = sla.business_seconds(
                    row.started_at, row.ended_at, schedules[row.organization_id]
                )
                settled.append(row)
        Duration.objects.bulk_update(settled, ["seconds"], batch_size=500)
        Duration.objects.filter(
            pk__in=[r.pk for r in found if r.organization_id not in orgs]
        ).delete()
    return len(found)


def durations(
    org: Organization,
    kind: str | None,
    start: datetime,
    end: datetime,
    *,
    number_id: int | None = None,
    queue_id: int | None = None,
    agent_id: int | None = None,
    columns: tuple[str, ...] = ("agent_id",),
    unsettled: bool = False,
) -> list[tuple]:
    """(the `columns`, agent id unless told; business seconds) of the durations of `kind` (any
    when None) ending in [start, end): the stored seconds, and those not settled yet computed here
    (only those with `unsettled`: the others are in the hourly counts' buckets)."""
    found = Duration.objects.filter(organization_id=org.pk, ended_at__gte=start, ended_at__lt=end)
    if kind is not None:
        found = found.filter(kind=kind)
    if unsettled:
        found = found.filter(seconds__isnull=True)
    for column, value in (("number_id", number_id), ("queue_id", queue_id), ("agent_id", agent_id)):
        if value is not None:
            found = found.filter(**{column: value})
    schedule = None
    values = []
    for *keys, seconds, started, ended in found.values_list(
        *columns, "seconds", "started_at", "ended_at"
    ):
        if seconds is None:
            schedule = schedule or org.sla_schedule()
            seconds = sla.business_seconds(started, ended, schedule)
        values.append((*keys, seconds))
    return values


def rebuild_durations(cursor, org: Organization) -> None:
    """The organization's durations written afresh from its conversations, seconds to settle."""
    Duration.objects.filter(organization_id=org.pk).delete()
    for kind, (begin, finish, condition) in triggers.DURATIONS.items():
        cursor.execute(
            "INSERT INTO insights_duration (organization_id, conversation_id, kind, started_at, "  # noqa: S608 (constant SQL; values are parameters)
            "ended_at, number_id, queue_id, agent_id, seconds) "
            f"SELECT c.organization_id, c.id, %s, c.{begin}, c.{finish}, c.number_id, "
            f"{rows.dims('c')}, NULL FROM inbox_conversation c "
            f"WHERE c.organization_id = %s AND {condition.format(c='c')}",
            [kind, org.pk],
        )


def rebuild_handled(cursor, where: str = "1 = 1", params: list | None = None) -> None:
    """The conversations handled (models.Handled) written afresh from the messages matching
    `where` (on `m`, and `x.hour` for the hour; their rows must be gone already): every
    organization's when not narrowed, as the migration that adds them does."""
    vendor = triggers.vendor_of(connection)
    cursor.execute(
        f"INSERT INTO insights_handled (organization_id, {triggers.HANDLED_KEY}, messages) "  # noqa: S608 (constant SQL; values are parameters)
        f"SELECT organization_id, {triggers.HANDLED_KEY}, COUNT(*) FROM (SELECT m.organization_id, "
        "m.conversation_id, m.sender_id, COALESCE(m.number_id, 0) AS number_id, "
        f"{rows.hour(vendor, 'm.created_at')} AS hour FROM inbox_message m "
        f"WHERE {triggers.replying('m')}) x WHERE {where} "
        f"GROUP BY organization_id, {triggers.HANDLED_KEY}",
        params or [],
    )


@contextmanager
def upkeep_off(cursor, vendor: str):
    """The Insights triggers off in this transaction (PostgreSQL; SQLite's have no switch):
    rows a rebuild writes and then counts itself."""
    if vendor != "postgresql":
        yield
        return
    cursor.execute("SELECT current_setting('conversa.insights_upkeep', true)")
    (was,) = cursor.fetchone()
    cursor.execute("SELECT set_config('conversa.insights_upkeep', 'off', true)")
    try:
        yield
    finally:
        cursor.execute("SELECT set_config('conversa.insights_upkeep', %s, true)", [was or "on"])


def lag_seconds(now: datetime | None = None) -> float:
    """The age of the oldest delta not yet folded (0 when none): the aggregate lag metric."""
    oldest = Delta.objects.aggregate(oldest=Min("created_at"))["oldest"]
    if oldest is None:
        return 0.0
    return max(((now or timezone.now()) - oldest).total_seconds(), 0.0)


def rebuild(
    org: Organization,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    counts_only: bool = False,
) -> int:
    """Count the organization's hours in [start, end) (all of them when not given) afresh from
    the live tables, replacing their hourly rows (and the daily and weekly rows of their days
    and weeks) and pending deltas, and its durations and conversations handled (not with
    `counts_only`: a migration adding counts keeps the durations' settled seconds). Returns
    the rows written. The bounds are hour rows, as `reading.read` takes them (local
    wall-clock hours written as UTC: `reading.local_hour` of a moment), not moments.

    Meant for a quiet organization (after a bulk load, or to repair): a change committed while
    it runs may be counted twice or not at all; rebuild again to settle it."""
    vendor = triggers.vendor_of(connection)
    params: list = []
    bounds = ""
    if start is not None:
        bounds += " AND x.hour >= %s"
        params.append(start)
    if end is not None:
        bounds += " AND x.hour < %s"
        params.append(end)
    aliases = ("m", "c", "e", "d", "u", "h")
    mine = {alias: f"{alias}.organization_id = {int(org.pk)}" for alias in aliases}
    union = " UNION ALL ".join([triggers.HEADER, *rows.live(vendor, mine)])
    with transaction.atomic():
        stale = Q(organization_id=org.pk)
        if start is not None:
            stale &= Q(hour__gte=start)
        if end is not None:
            stale &= Q(hour__lt=end)
        HourlyCount.objects.filter(stale).delete()
        with connection.cursor() as cursor:
            if not counts_only:
                rebuild_durations(cursor, org)
                with upkeep_off(cursor, vendor):
                    Handled.objects.filter(stale).delete()
                    rebuild_handled(cursor, f"x.organization_id = {int(org.pk)}{bounds}", params)
            # After the durations and handled rows: what their triggers appended is counted
            # below from the rows themselves.
            Delta.objects.filter(stale).delete()
            cursor.execute(
                f"INSERT INTO insights_hourlycount ({KEY}, count) "  # noqa: S608 (constant SQL; values are parameters)
                f"SELECT {KEY}, SUM(value) FROM ({union}) x WHERE 1 = 1{bounds} "
                f"GROUP BY {KEY} HAVING SUM(value) <> 0",
                params,
            )
            written = cursor.rowcount
            mine = f"d.organization_id = {int(org.pk)} AND d.queue_id >= 0 AND d.agent_id >= 0"
            for queue, agent in ROLLUPS[1:]:
                cursor.execute(
                    upsert(
                        queue,
                        agent,
                        "insights_hourlycount",
                        "count",
                        mine + bounds.replace("x.", "d."),
                    ),
                    params,
                )
            rebuild_days(cursor, org, start, end)
            return written


def rebuild_days(cursor, org: Organization, start: datetime | None, end: datetime | None) -> None:
    """The daily and weekly rows of the local days and weeks the hours [start, end) touch,
    summed afresh from their hourly rows (sums over every queue and agent included)."""
    for model, into, before, after in (
        (DailyCount, "daily", midnight_before, midnight_after),
        (WeeklyCount, "weekly", monday_before, monday_after),
    ):
        time_column = rows.SPANS[into][1]
        spans = Q(organization_id=org.pk)
        bounds, params = "", []
        if start is not None:
            first = before(start)
            spans &= Q(**{f"{time_column}__gte": first.date()})
            bounds += " AND d.hour >= %s"
            params.append(first)
        if end is not None:
            last = after(end)
            spans &= Q(**{f"{time_column}__lt": last.date()})
            bounds += " AND d.hour < %s"
            params.append(last)
        model.objects.filter(spans).delete()
        cursor.execute(
            upsert(
                "queue_id",
                "agent_id",
                "insights_hourlycount",
                "count",
                f"d.organization_id = {int(org.pk)}{bounds}",
                into,
            ),
            params,
        )
