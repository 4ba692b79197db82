from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from conversa.accounts.models import OrgOwned
from conversa.numbers.models import Number


class ProviderEvent(OrgOwned):
    """A webhook event as the provider sent it, stored once per (number, dedupe key).

    The unique constraint is what makes a retried, duplicated or reordered webhook change
    nothing the second time. A status update that arrives before the message it is about is
    kept unprocessed and applied when the send is recorded.
    """

    number = models.ForeignKey(Number, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24)
    dedupe_key = models.CharField(max_length=200)
    provider_message_id = models.CharField(max_length=128, blank=True)
    # Our job reference, when the provider echoes it: how an uncertain send is reconciled.
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    # The provider-neutral event (base.py) and the raw payload it came from.
    event = models.JSONField(encoder=DjangoJSONEncoder)
    payload = models.JSONField()
    # Why an Unparsed event could not be read (empty for every other kind).
    reason = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "dedupe_key"], name="provider_event_unique_key"
            )
        ]
        indexes = [
            models.Index(fields=["number", "provider_message_id"]),
            models.Index(fields=["kind", "processed_at"]),
            # Insights' number health: a period's connection changes, not every stored webhook.
            models.Index(
                fields=["organization", "received_at"],
                condition=models.Q(kind="ConnectionUpdate"),
                name="provider_event_connection",
            ),
        ]
