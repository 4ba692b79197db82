"""Outbound webhooks: a customer system's endpoint, one delivery per event per endpoint (the
outbox, written in the transaction that caused the event), and each attempt to send it."""

from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, OrgOwned
from conversa.crypto import EncryptedField

# The previous secret keeps signing this long after a rotation (receivers switch meanwhile).
ROTATION_OVERLAP = timedelta(hours=24)


class Endpoint(OrgOwned):
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Event type names from conversa.webhooks.catalogue; never empty.
    event_types = models.JSONField(default=list)
    secret = EncryptedField()
    previous_secret = EncryptedField(blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # Since when every attempt failed (null: the last one succeeded); a day of it disables.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "enabled"])]

    def secrets(self, now=None) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        for a day after a rotation."""
        now = now or timezone.now()
        found = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            found.append(self.previous_secret)
        return found


class Delivery(OrgOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The `webhook-id`: the same on every attempt, so a receiver can deduplicate.
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    # The exact body that is signed and sent (kept as text so every attempt sends the same bytes).
    body = models.TextField()
    # Deliveries of one conversation go out in order (null: no order to keep).
    conversation_id = models.BigIntegerField(null=True, blank=True)
    # The person the body is about (null: nobody's), so erasing them empties it.
    contact_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's claim: nobody else sends it before this time (a dead worker's claim expires).
    lease_until = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Its three days of retries count from here: when it was made, or replayed.
    retry_from = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # When its data was taken out (the contact erased, or older than the organization keeps
    # messages): the body keeps its envelope, and the answers their status only.
    emptied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            # What retention has still to empty, oldest first.
            models.Index(
                fields=["organization", "created_at"],
                condition=models.Q(emptied_at__isnull=True),
                name="delivery_not_emptied",
            ),
            models.Index(fields=["endpoint", "conversation_id", "status"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="one_delivery_per_event")
        ]


class Attempt(OrgOwned):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    started_at = models.DateTimeField(default=timezone.now)
    # The receiver's HTTP status (null: no answer: refused, timed out, unreachable).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    # The first KB of the answer, or why there was none.
    response = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "-started_at"])]
