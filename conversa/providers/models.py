from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from conversa.accounts.models import OrgOwned, OrgQuerySet
from conversa.bulk import fetch, one_of
from conversa.numbers.models import Number


class ProviderEventQuerySet(OrgQuerySet):
    def about(self, keys) -> list["ProviderEvent"]:
        """These events that are about the messages with these (number id, provider message
        id): read by the message's id alone, then matched to its number here. With the number
        in the query too, PostgreSQL, knowing nothing yet of a new number's webhooks, reads
        every one of them through an index that leads with the number."""
        keys = set(keys)
        rows = self.filter(provider_message_id__in=sorted({pid for _, pid in keys}))
        return [row for row in rows if (row.number_id, row.provider_message_id) in keys]


def waiting_about(kind: str, keys) -> set[int]:
    """The ids of the unprocessed events of `kind` about the messages with these (number id,
    provider message id), read as `about` reads them, in a statement written out: every batch
    of webhooks asks (see `bulk.one_of`)."""
    keys = set(keys)
    among, ids = one_of(sorted({pid for _, pid in keys}))
    table = connection.ops.quote_name(ProviderEvent._meta.db_table)
    rows = fetch(
        f"SELECT id, number_id, provider_message_id FROM {table}"  # noqa: S608
        f" WHERE provider_message_id {among} AND kind = %s AND processed_at IS NULL",
        [ids, kind],
    )
    return {pk for pk, number_id, pid in rows if (number_id, pid) in keys}


class ProviderEvent(OrgOwned):
    """A webhook event as the provider sent it, stored once per (number, dedupe key).

    The unique constraint is what makes a retried, duplicated or reordered webhook change
    nothing the second time. A status update that arrives before the message it is about is
    kept unprocessed and applied when the send is recorded.
    """

    # Its unique key leads with it: an index of its own only misled the planner (`about`).
    number = models.ForeignKey(
        Number, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=24)
    dedupe_key = models.CharField(max_length=200)
    provider_message_id = models.CharField(max_length=128, blank=True)
    # Our job reference, when the provider echoes it: how an uncertain send is reconciled.
    reference = models.CharField(max_length=64, blank=True)
    # The provider-neutral event (base.py) and the raw payload it came from.
    event = models.JSONField(encoder=DjangoJSONEncoder)
    payload = models.JSONField()
    # Why an Unparsed event could not be read (empty for every other kind).
    reason = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = ProviderEventQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "dedupe_key"], name="provider_event_unique_key"
            )
        ]
        indexes = [
            # The events about a message (`about`), the message's id first.
            models.Index(fields=["provider_message_id", "number"], name="provider_event_message"),
            # What `conversa reprocess-events` and its page read: processed webhooks (nearly
            # all) are not in it and cost it nothing.
            models.Index(
                fields=["organization", "received_at"],
                condition=models.Q(kind="Unparsed", processed_at__isnull=True),
                name="provider_event_unparsed",
            ),
            # An uncertain send's echo (`engine.reconcile_uncertain`): only the events that carry
            # a reference, so an inbound webhook (nearly every event, with none) is written to
            # no index for it.
            models.Index(
                fields=["reference"],
                condition=~models.Q(reference=""),
                name="provider_event_reference",
            ),
            # Insights' number health: a period's connection changes, not every stored webhook.
            models.Index(
                fields=["organization", "received_at"],
                condition=models.Q(kind="ConnectionUpdate"),
                name="provider_event_connection",
            ),
        ]
