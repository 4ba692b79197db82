from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import COPIED, Member, Organization, OrgOwned
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number


class MessageIntent(OrgOwned):
    """A request to send, from any origin. Idempotent on (organization, idempotency_key)."""

    class Origin(models.TextChoices):
        CHAT_MANUAL = "chat_manual", _("Chat (manual)")
        AUTOMATION = "automation", _("Automation")
        CAMPAIGN = "campaign", _("Campaign")
        ASSISTANT = "assistant", _("Assistant")
        API = "api", _("API")
        # The automatic answer to a customer's request (an opt-out or opt-in keyword): a
        # reply to what they just wrote, so sent even to someone who opted out.
        CONFIRMATION = "confirmation", _("Automatic confirmation")
        # The satisfaction question after a conversation is resolved (inbox.Survey).
        SURVEY = "survey", _("Satisfaction survey")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        # Not to be sent before `not_before` (a follow-up's due time): its job waits until then.
        SCHEDULED = "scheduled", _("Scheduled")
        DEFERRED = "deferred", _("Deferred")
        BLOCKED = "blocked", _("Blocked")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # No index of its own: the idempotency key's unique index leads with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Null means "any connected number of the organization", resolved by the Gate.
    number = models.ForeignKey(Number, null=True, blank=True, on_delete=models.PROTECT)
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="intents")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="intents"
    )
    origin = models.CharField(max_length=16, choices=Origin.choices)
    body = models.TextField()
    # A pre-approved Cloud API template instead of free text: {name, language, variables}.
    # `body` then holds a readable preview of it for the inbox and the timeline.
    template = models.JSONField(null=True, blank=True)
    # Anything but text or a template: media (an Attachment), a location, contact cards or a
    # reaction, as providers.base.OutboundContent names them ({"kind", ...}). `body` holds the
    # caption or a readable preview.
    content = models.JSONField(null=True, blank=True)
    attachment = models.ForeignKey(
        "inbox.Attachment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A CAMPAIGN intent's campaign: the Gate holds it while the campaign is paused, sends it
    # only within the campaign's dayparts, and its story names the campaign.
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=255)
    # The earliest the engine may send it (its job's first `run_after`); none: at once.
    not_before = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The id of the request (or webhook) that asked for it, on every log line of its life
    # (conversa/logs.py), and that request's trace as a W3C traceparent when tracing is on
    # (conversa/tracing.py), so the job's span joins the request's trace.
    correlation_id = models.CharField(max_length=100, blank=True, default="")
    trace_parent = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Invariant 1: the database, not Python, refuses a second intent with the same key.
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="intent_unique_idempotency_key"
            )
        ]

    @property
    def latest_decision(self) -> "GateDecision | None":
        # Reads the prefetched list when there is one: no query per row on list pages.
        decisions = list(self.decisions.all())
        return decisions[-1] if decisions else None


class GateDecision(OrgOwned):
    """One recorded verdict of the Gate on an intent, with its reason in plain words."""

    class Verdict(models.TextChoices):
        ALLOW = "allow", _("Allow")
        DEFER = "defer", _("Defer")
        BLOCK = "block", _("Block")

    # No index of its own: gate_decision_reason leads with it. A copy of its intent's, which
    # the database checks (COPIED).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, **COPIED
    )
    intent = models.ForeignKey(MessageIntent, on_delete=models.CASCADE, related_name="decisions")
    # The number the decision is about: the intent's own, or the one the Gate picked for it.
    number = models.ForeignKey(
        Number, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    reason_code = models.CharField(max_length=48, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    defer_until = models.DateTimeField(null=True, blank=True)
    facts = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Insights' Gate figure: the newest decision of each verdict and reason in a
            # period, found without reading the period's decisions.
            models.Index(
                fields=["organization", "verdict", "reason_code", "created_at"],
                name="gate_decision_reason",
            )
        ]


class ExecutionJob(OrgOwned):
    """The unit the workers run. Its transitions live in `conversa.engine.jobs` only."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Claimed")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        RETRY_WAIT = "retry_wait", _("Waiting to retry")
        FAILED = "failed", _("Failed")
        DEAD = "dead", _("Dead")
        UNCERTAIN = "uncertain", _("Uncertain")

    # Copies of its intent's, which the database checks (COPIED).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", **COPIED
    )
    intent = models.OneToOneField(MessageIntent, on_delete=models.CASCADE, related_name="job")
    # No index of its own: the (number, contact, id) one leads with it.
    number = models.ForeignKey(
        Number, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+", **COPIED)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="job"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    run_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    worker_id = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["status", "run_after"]),
            models.Index(fields=["number", "contact", "id"]),
            # The Gate's quota count: this number's sends in the current hour and day.
            models.Index(fields=["number", "status", "updated_at"]),
            # The reaper's expired leases.
            models.Index(fields=["status", "lease_until"]),
        ]

    @property
    def reference(self) -> str:
        """What the provider echoes back for this job (sandbox reference, Cloud API
        biz_opaque_callback_data)."""
        return f"job:{self.pk}"


class WorkerHeartbeat(models.Model):
    """A worker's latest sign of life, written by its passes (`engine.liveness`). Global: a
    worker serves every organization. /ready and /metrics read the newest; rows of workers
    long gone are pruned."""

    worker_id = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)
