"""Consent as records: each grant and withdrawal is a `Consent` row with its channel and
evidence, and the contact's current state (`Contact.marketing_consent`) is the latest of them,
kept in step in the same transaction. Campaigns reach only contacts whose latest marketing
record is a grant (the Gate refuses a CAMPAIGN send to anyone else)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.accounts.services import record
from conversa.campaigns.models import Consent
from conversa.errors import Refused
from conversa.inbox.models import Contact
from conversa.realtime import events, publisher

EVIDENCE_LIMIT = 2000


@transaction.atomic
def record_consent(
    contact: Contact,
    *,
    granted: bool,
    channel: str,
    evidence: str = "",
    at: datetime | None = None,
    acting_member: Member | None = None,
) -> Consent:
    """Record that `contact` granted (or withdrew) consent to marketing messages, through
    `channel`, with `evidence` (the words they sent, the file row, the form): one new record.

    1. The contact's row is locked, so two records for one person apply in order.
    2. The record is written, and audited (`consent.granted` / `consent.withdrawn`).
    3. The contact's current state becomes the latest record's: a record dated before the
       latest one (an import of an old list) is kept in the history but changes nothing."""
    if channel not in Consent.Channel.values:
        raise Refused(f"unknown consent channel: {channel}")
    if len(evidence) > EVIDENCE_LIMIT:
        raise Refused(f"the evidence is longer than {EVIDENCE_LIMIT} characters")
    at = at or timezone.now()
    if at > timezone.now():
        raise Refused("consent cannot be recorded in the future")
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    latest = current(locked)
    consent = Consent.objects.create(
        organization_id=locked.organization_id,
        contact=locked,
        purpose=Consent.Purpose.MARKETING,
        granted=granted,
        channel=channel,
        evidence=evidence,
        recorded_at=at,
        recorded_by=acting_member,
    )
    record(
        locked.organization_id,
        "consent.granted" if granted else "consent.withdrawn",
        locked,
        actor=acting_member,
        channel=channel,
    )
    if (latest is None or at >= latest.recorded_at) and locked.marketing_consent != granted:
        Contact.objects.filter(pk=locked.pk).update(marketing_consent=granted)
        publisher.publish(locked.organization_id, events.ContactUpdated(contact_ids=[locked.pk]))
    contact.marketing_consent = (
        granted if latest is None or at >= latest.recorded_at else (locked.marketing_consent)
    )
    return consent


def current(contact: Contact) -> Consent | None:
    """The contact's latest marketing consent record, or None if they never gave or withdrew
    one (no consent)."""
    return (
        Consent.objects.filter(contact=contact, purpose=Consent.Purpose.MARKETING)
        .order_by("-recorded_at", "-id")
        .first()
    )


def history(contact: Contact) -> list[Consent]:
    """Every consent record of the contact, newest first, with who recorded it."""
    return list(
        Consent.objects.filter(contact=contact)
        .select_related("recorded_by")
        .order_by("-recorded_at", "-id")
    )
