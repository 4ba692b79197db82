"""Insights' rows.

- An export: a request for a spreadsheet of one kind of rows over a period, written by a worker
  in the background (insights/exports.py), downloadable until it expires.
- The Insights counts kept as events happen (aggregates.py): append-only deltas written by the
  database in the transaction of each change (triggers.py), folded by the workers into one row per
  organization, local hour, number, queue, agent and metric, and one per local day and one per
  local week beside them.

Ids are plain integers, 0 for none, not foreign keys: a unique key over them must match "no
queue" too (NULLs never conflict), and a delta written while its organization is deleted must
not fail that deletion; the fold drops the deltas of organizations that are gone.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, OrgOwned


class Export(OrgOwned):
    class Kind(models.TextChoices):
        CONVERSATIONS = "conversations", _("Conversations")
        MESSAGES = "messages", _("Messages")
        INTENTS = "intents", _("Sending decisions")
        AGENTS = "agents", _("Per agent")
        AUDIT = "audit", _("Audit log")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Writing")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    requested_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    # Local days of the organization, both included.
    first_day = models.DateField()
    last_day = models.DateField()
    # The filters' ids and codes: {"number_id": 3, "tag_id": 7} or, for the audit log,
    # {"member_id": 2, "verb": "member.invited", "object_type": "member"}.
    filters = models.JSONField(default=dict, blank=True)
    # The requester's language: the file's headers and words are in it.
    language = models.CharField(max_length=8, default="en")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    # Where the file is in the default storage (never served publicly).
    file_path = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "claimed_until"], name="export_due"),
            models.Index(fields=["organization", "-created_at"], name="export_list"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.first_day}–{self.last_day}"

    @property
    def percent(self) -> int:
        if self.status in (self.Status.DONE, self.Status.EXPIRED):
            return 100
        if not self.rows_total:
            return 0
        return min(100, int(100 * self.rows_done / self.rows_total))

    def expired(self, now=None) -> bool:
        """Its file is gone, or past its time (the sweep deletes it soon)."""
        if self.status == self.Status.EXPIRED:
            return True
        now = now or timezone.now()
        return self.status == self.Status.DONE and (
            self.expires_at is not None and self.expires_at <= now
        )


class Counts(models.Model):
    organization_id = models.BigIntegerField()
    # in, out, sent, delivered, read, failed, opened, resolved, reopened, gate:<verdict>:<code>,
    # tag:<id>:<metric>, handled:<day>, frt:<bucket>, res:s<bucket> (rows.py)
    metric = models.CharField(max_length=80)
    number_id = models.BigIntegerField(default=0)
    queue_id = models.BigIntegerField(default=0)
    agent_id = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class Delta(Counts):
    """A change to one count, not yet folded: +1, -1 (a status moved on, a transfer moved a
    conversation's counts to another agent), or more (a batch, a bucket's sum of seconds)."""

    hour = models.DateTimeField()
    value = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization_id", "hour"], name="insights_delta_org_hour")]


class HourlyCount(Counts):
    """The folded count of one metric in one local hour (rows.hour) under one set of dimensions. Besides the rows
    of each queue and agent, the fold keeps their sums: queue -1 is every queue, agent -1 every
    agent, so a figure of the whole organization (or of one queue, or one agent) reads a few
    thousand rows for a month, not one per queue, agent and hour."""

    hour = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        # A figure reads a few metrics of one (queue, agent) row set over a period: the metric
        # in the key, before the hour, so it reads only those (PostgreSQL: the index alone).
        indexes = [
            models.Index(
                fields=["organization_id", "queue_id", "agent_id", "metric", "hour"],
                include=["number_id", "count"],
                name="insights_hourly_metric",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "hour", "metric", "number_id", "queue_id", "agent_id"],
                name="insights_hourly_one_row",
            )
        ]


def spans_meta(column: str, name: str) -> tuple[list, list]:
    """The indexes and the one-row constraint of a table of counts per day or week (`column`),
    its names starting with `name`."""
    return (
        [
            models.Index(
                fields=["organization_id", "queue_id", "agent_id", "metric", column],
                include=["number_id", "count"],
                name=f"{name}_metric",
            ),
            # The per-queue figures (every queue, all agents together: agent -1) in one
            # range; in the index above they lie between every agent's rows, and a month's
            # per-queue read at 100k conversations scanned the whole table (9 ms against 2).
            models.Index(
                fields=["organization_id", "agent_id", "queue_id", "metric", column],
                include=["number_id", "count"],
                name=f"{name}_queue",
            ),
        ],
        [
            models.UniqueConstraint(
                fields=["organization_id", column, "metric", "number_id", "queue_id", "agent_id"],
                name=f"{name}_one_row",
            )
        ],
    )


class DailyCount(Counts):
    """The hourly counts of one local day (the organization's calendar day) summed, kept by the
    same fold: a figure over whole days (a month's KPIs, its tables) reads a row per day, not
    24, and only the hours of a partial first or last day from `HourlyCount`."""

    date = models.DateField()
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes, constraints = spans_meta("date", "insights_daily")


class WeeklyCount(Counts):
    """The daily counts of one local week (Monday to Sunday of the organization's calendar)
    summed, kept by the same fold: a month's figures read four weeks' rows and the days
    around them, not thirty days' (a month's per-agent times were 34,000 daily rows)."""

    week = models.DateField()  # its Monday
    count = models.BigIntegerField(default=0)

    class Meta:
        indexes, constraints = spans_meta("week", "insights_weekly")


class Duration(models.Model):
    """A conversation's first response or resolution time, as the figures count it: kept by the
    database (triggers.py) whenever the conversation's times, state or dimensions change, its
    business seconds filled in by the workers (`aggregates.settle`) so a page never computes
    them for a month of conversations. Empty seconds: not computed yet (the figures compute
    those few), or the organization's business hours changed."""

    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response"
        RESOLUTION = "resolution"

    organization_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    number_id = models.BigIntegerField(default=0)
    queue_id = models.BigIntegerField(default=0)
    agent_id = models.BigIntegerField(default=0)
    seconds = models.FloatField(null=True)

    class Meta:
        indexes = [
            # Carrying what the figures read, so a month's medians read the index alone
            # (PostgreSQL).
            models.Index(
                fields=["organization_id", "kind", "ended_at"],
                include=["seconds", "agent_id", "queue_id", "number_id"],
                name="insights_duration_period",
            ),
            models.Index(
                fields=["organization_id"],
                condition=models.Q(seconds__isnull=True),
                name="insights_duration_unsettled",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "kind"], name="insights_duration_one"
            )
        ]


class Handled(models.Model):
    """The conversations a member replied in, by hour: one row per conversation, sender, number
    (the message's own) and UTC hour of their messages out, with how many there are, kept by
    the database (triggers.py) as messages are written, moved or deleted. The per-agent figure
    counts the distinct conversations of a period's rows, a few per conversation, not the
    period's messages."""

    organization_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()
    sender_id = models.BigIntegerField()
    number_id = models.BigIntegerField(default=0)
    hour = models.DateTimeField()
    messages = models.IntegerField(default=0)

    class Meta:
        # Carrying what the per-agent figure reads (PostgreSQL: the index alone).
        indexes = [
            models.Index(
                fields=["organization_id", "hour"],
                include=["sender_id", "conversation_id", "number_id"],
                name="insights_handled_period",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "sender_id", "number_id", "hour"],
                name="insights_handled_one",
            )
        ]
