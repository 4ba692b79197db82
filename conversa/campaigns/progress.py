"""What became of a campaign: counts for its page (live) and its report, its numbers' holds, the
counts over time, and the per-recipient rows of its export. Read from the engine's records (the
jobs, the Gate's decisions, the messages' statuses): the campaign keeps no counters of its own
that could drift from what happened. A few grouped queries whatever the audience's size."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone
from django.utils.translation import gettext

from conversa.campaigns.models import Campaign, CampaignRecipient
from conversa.crm import followups
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox.models import Message
from conversa.numbers.models import CONNECTION_REASONS, Number

J = ExecutionJob.Status
M = Message.Status
Skip = CampaignRecipient.Skip
# The Gate's refusals of a campaign message, as the skip reasons a person reads.
GATE_SKIPS = {
    "no_marketing_consent": Skip.NO_CONSENT,
    "contact_opted_out": Skip.OPTED_OUT,
    "contact_blocked": Skip.BLOCKED,
    "no_phone": Skip.INVALID_NUMBER,
    "outside_window": Skip.OUTSIDE_WINDOW,
}
CANCELLED = "campaign cancelled"
# Messages cancelled before sending, by why: the campaign's cancel, or the person's opt-out.
CANCELS = {CANCELLED: "cancelled", followups.OPTED_OUT: Skip.OPTED_OUT}
WAITING = {J.PENDING, J.RETRY_WAIT, J.CLAIMED, J.SENDING}
REACHED = {M.SENT: 1, M.DELIVERED: 2, M.READ: 3}


@dataclass
class Progress:
    recipients: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    replied: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def done_percent(self) -> int:
        if not self.recipients:
            return 0
        return int(100 * (self.recipients - self.queued) / self.recipients)

    def skipped_in_words(self) -> list[tuple[str, int]]:
        labels = dict(Skip.choices)
        return [(str(labels.get(code, code)), n) for code, n in sorted(self.skipped.items())]

    def as_dict(self) -> dict:
        return {
            "recipients": self.recipients,
            "queued": self.queued,
            "sent": self.sent,
            "delivered": self.delivered,
            "read": self.read,
            "replied": self.replied,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "skipped": dict(self.skipped),
        }


def recipients(campaign: Campaign):
    return CampaignRecipient.objects.filter(
        organization_id=campaign.organization_id, campaign=campaign
    )


def progress(campaign: Campaign) -> Progress:
    """The campaign's counts now. Sent, delivered and read are a funnel (a read message was
    delivered and sent); a message the Gate refused before sending counts as skipped with its
    reason (someone who opted out mid-campaign), one cancelled with the campaign as cancelled."""
    found = Progress()
    everyone = recipients(campaign)
    skipped = Counter(
        dict(everyone.exclude(skip_reason="").values_list("skip_reason").annotate(n=Count("pk")))
    )
    refused = Counter()
    for code, n in (
        GateDecision.objects.filter(
            organization_id=campaign.organization_id,
            intent__campaign=campaign,
            verdict=GateDecision.Verdict.BLOCK,
        )
        .values_list("reason_code")
        .annotate(n=Count("intent", distinct=True))
    ):
        refused[GATE_SKIPS.get(code, "")] += n
    rows = (
        everyone.filter(intent__isnull=False)
        .values_list(
            "intent__job__status", "intent__job__message__status", "intent__job__last_error"
        )
        .annotate(n=Count("pk"))
    )
    failed = 0
    found.recipients = everyone.count()
    for job_status, message_status, error, n in rows:
        if job_status in WAITING:
            found.queued += n
        elif job_status == J.FAILED and CANCELS.get(error) == "cancelled":
            found.cancelled += n
        elif job_status == J.FAILED and error in CANCELS:
            skipped[CANCELS[error]] += n
        elif job_status == J.SENT or message_status in REACHED:
            level = REACHED.get(message_status, 1)
            found.sent += n
            found.delivered += n if level >= 2 else 0
            found.read += n if level >= 3 else 0
        else:
            failed += n  # failed, dead, uncertain, or refused by the Gate (no job or failed)
    gate_skips = {code: n for code, n in refused.items() if code}
    found.failed = max(0, failed - sum(gate_skips.values()))
    skipped.update(gate_skips)
    found.skipped = dict(skipped)
    found.replied = everyone.filter(replied_at__isnull=False).count()
    return found


@dataclass(frozen=True)
class NumberShare:
    number: Number
    waiting: int
    hold: str  # why its share waits, in words ("" when it is free to send)


def number_shares(campaign: Campaign) -> list[NumberShare]:
    """Each sending number's messages still waiting, and what holds them: a number WhatsApp
    refused, disconnected or paused keeps its share (it is never moved to another number)."""
    waiting = dict(
        ExecutionJob.objects.filter(
            organization_id=campaign.organization_id,
            intent__campaign=campaign,
            status__in=list(WAITING),
        )
        .values_list("number_id")
        .annotate(n=Count("pk"))
    )
    now = timezone.now()
    shares = []
    for number in campaign.numbers.order_by("pk"):
        shares.append(NumberShare(number, waiting.get(number.pk, 0), hold_of(number, now)))
    return shares


def hold_of(number: Number, now: datetime) -> str:
    if number.status == Number.Status.REMOVED:
        return gettext("Removed: its messages will not be sent.")
    if number.paused:
        return gettext("Paused: its messages wait until it is resumed.")
    if number.status != Number.Status.CONNECTED:
        reason = CONNECTION_REASONS.get(number.connection_reason)
        if reason:  # banned, suspended, logged out…: what WhatsApp said, in its words
            return gettext("%(reason)s: its messages wait for this number.") % {"reason": reason[0]}
        return gettext("Not connected: its messages wait until it is connected again.")
    if number.cooldown_until and number.cooldown_until > now:
        return gettext(
            "WhatsApp refused recent messages: its messages wait until the number cools down."
        )
    return ""


def over_time(campaign: Campaign) -> list[dict]:
    """Per hour (the organization's clock): messages sent, delivered and read, and replies."""
    messages = Message.objects.filter(
        organization_id=campaign.organization_id, job__intent__campaign=campaign
    )
    series: dict[datetime, dict] = {}

    def add(rows, key):
        for hour, n in rows:
            if hour is not None:
                series.setdefault(hour, {"sent": 0, "delivered": 0, "read": 0, "replied": 0})
                series[hour][key] = n

    # A funnel, as the counts are: a message read without a delivery receipt was delivered,
    # at the latest when it was read.
    steps = {
        "sent": Coalesce("sent_at", "delivered_at", "read_at"),
        "delivered": Coalesce("delivered_at", "read_at"),
        "read": F("read_at"),
    }
    for key, at in steps.items():
        add(
            messages.annotate(at=at)
            .filter(at__isnull=False)
            .annotate(hour=TruncHour("at"))
            .values_list("hour")
            .annotate(n=Count("pk")),
            key,
        )
    add(
        recipients(campaign)
        .filter(replied_at__isnull=False)
        .annotate(hour=TruncHour("replied_at"))
        .values_list("hour")
        .annotate(n=Count("pk")),
        "replied",
    )
    return [{"hour": hour, **counts} for hour, counts in sorted(series.items())]


EXPORT_COLUMNS = [
    "name",
    "phone",
    "sent_from",
    "outcome",
    "sent_at",
    "delivered_at",
    "read_at",
    "replied_at",
]


def outcome(row: dict) -> str:
    if row["skip_reason"]:
        return str(dict(Skip.choices).get(row["skip_reason"], row["skip_reason"]))
    job_status, message_status = row["intent__job__status"], row["intent__job__message__status"]
    if job_status in WAITING:
        return gettext("Waiting")
    if message_status == M.READ:
        return gettext("Read")
    if message_status == M.DELIVERED:
        return gettext("Delivered")
    if job_status == J.SENT or message_status == M.SENT:
        return gettext("Sent")
    if row["intent__job__last_error"] == CANCELLED:
        return gettext("Cancelled")
    if row["intent__status"] == MessageIntent.Status.BLOCKED or job_status == J.FAILED:
        return gettext("Not sent: %(why)s") % {
            "why": row["intent__job__last_error"] or gettext("refused")
        }
    return gettext("Failed")


# What a recipient's row is read from (export_records, and the API's list of recipients).
RECIPIENT_VALUES = (
    "pk",
    "contact_id",
    "contact__name",
    "contact__phone",
    "number_id",
    "number__name",
    "skip_reason",
    "intent__status",
    "intent__job__status",
    "intent__job__last_error",
    "intent__job__message__status",
    "intent__job__message__sent_at",
    "intent__job__message__delivered_at",
    "intent__job__message__read_at",
    "added_at",
    "replied_at",
)


def recipient_values(campaign: Campaign):
    """The campaign's recipients in the order they were added, as RECIPIENT_VALUES dicts."""
    return recipients(campaign).order_by("pk").values(*RECIPIENT_VALUES)


def export_records(campaign: Campaign) -> Iterator[list]:
    """One row per recipient in EXPORT_COLUMNS' order, its times as they are stored (aware,
    or None), read in chunks (a 100,000-person campaign is not held in memory)."""
    for row in recipient_values(campaign).iterator(chunk_size=2000):
        yield [
            row["contact__name"],
            row["contact__phone"] and f"+{row['contact__phone']}",
            row["number__name"] or "",
            outcome(row),
            row["intent__job__message__sent_at"],
            row["intent__job__message__delivered_at"],
            row["intent__job__message__read_at"],
            row["replied_at"],
        ]
