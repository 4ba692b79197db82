"""The retention policy: an organization that sets `retention_days` keeps messages' texts and
files for that many days, then they are deleted (the messages themselves stay, emptied, so
threads show a placeholder and counts stay true; inbox.removal).

`apply` is run by the worker about once an hour (conversa.engine.worker) and by `conversa
apply-retention [--dry-run]`. What goes, per organization whose messages are older than its
period: their bodies, contents and edit histories, their files (deleted from storage), the
texts of the settled sends that made them (MessageIntent), the raw webhook payloads of that
age already applied (ProviderEvent; one not yet applied is kept for re-processing), and the data
of the organization's outbound webhook deliveries of that age already settled, with their
receivers' answers (one still being retried is kept until it settles). Each run
that removed something writes one `retention.applied` entry to the organization's timeline
with the counts. Idempotent: what was removed is not found again.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import MAX_RETENTION_DAYS, Member, Organization
from conversa.accounts.services import record, same_org
from conversa.engine.models import MessageIntent
from conversa.engine.policies import must_administer
from conversa.errors import Refused
from conversa.inbox import removal
from conversa.inbox.models import Message
from conversa.providers.models import ProviderEvent
from conversa.webhooks import outbox
from conversa.webhooks.models import Delivery

# Sends whose text is no longer needed: nothing will send them again.
SETTLED = [MessageIntent.Status.SENT, MessageIntent.Status.FAILED, MessageIntent.Status.BLOCKED]


def set_retention_days(org: Organization, days: int | None, *, acting_member: Member) -> bool:
    """Keep messages' texts and files for `days` (1 to MAX_RETENTION_DAYS), or for ever
    (None). Returns False when it was that already; recorded as
    `organization.retention_changed`. The next run (within the hour) applies it."""
    must_administer(acting_member)
    same_org(acting_member, org.pk)
    if days is not None and not (isinstance(days, int) and 1 <= days <= MAX_RETENTION_DAYS):
        raise Refused(
            gettext("Keep messages from 1 to %(most)s days, or leave it empty to keep them.")
            % {"most": MAX_RETENTION_DAYS},
            field="retention_days",
        )
    if org.retention_days == days:
        return False
    before, org.retention_days = org.retention_days, days
    org.save(update_fields=["retention_days"])
    record(
        org.pk,
        "organization.retention_changed",
        org,
        actor=acting_member,
        retention_days=[before, days],
    )
    return True


def cutoff(org: Organization, now: datetime) -> datetime:
    return now - timedelta(days=org.retention_days)


def apply(*, dry_run: bool = False, now: datetime | None = None) -> dict:
    """Apply every organization's retention period; the totals, as the command prints them.
    With `dry_run`, what would go is counted and nothing is touched or recorded."""
    now = now or timezone.now()
    totals = {"organizations": 0, "messages_emptied": 0, "media_files_deleted": 0}
    totals["bytes_freed"] = 0
    for org in Organization.objects.filter(retention_days__isnull=False).order_by("id"):
        old = Message.objects.filter(organization=org, created_at__lt=cutoff(org, now))
        done = removal.measure(old) if dry_run else apply_to(org, old, now)
        totals["organizations"] += 1
        totals["messages_emptied"] += done.messages
        totals["media_files_deleted"] += done.files
        totals["bytes_freed"] += done.bytes
    return totals


def apply_to(org: Organization, old, now: datetime) -> removal.Removed:
    done = removal.remove(old, Message.Removed.RETENTION)
    before = cutoff(org, now)
    with transaction.atomic():
        sends = (
            MessageIntent.objects.filter(
                organization=org, created_at__lt=before, status__in=SETTLED
            )
            .exclude(body="", content__isnull=True)
            .update(body="", content=None)
        )
        payloads = (
            ProviderEvent.objects.filter(
                organization=org, received_at__lt=before, processed_at__isnull=False
            )
            .exclude(payload={}, event={})
            .update(payload={}, event={})
        )
        # What the organization's webhooks were sent about them: each settled delivery keeps
        # its envelope, not its data (one still being retried waits until it settles).
        deliveries = outbox.empty(
            Delivery.objects.filter(organization=org, created_at__lt=before).exclude(
                status=Delivery.Status.PENDING
            ),
            {"removed": True, "reason": "retention"},
        )
        if done.messages or done.files or sends or payloads or deliveries:
            record(
                org.pk,
                "retention.applied",
                org,
                label="retention",
                days=org.retention_days,
                messages_emptied=done.messages,
                media_files_deleted=done.files,
                bytes_freed=done.bytes,
                sends_emptied=sends,
                webhook_payloads_emptied=payloads,
                webhook_deliveries_emptied=deliveries,
            )
    return done
