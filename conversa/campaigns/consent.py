"""Consent as records: each grant and withdrawal is a `Consent` row with its channel and
evidence, and the contact's current state (`Contact.marketing_consent`) is the latest of them,
kept in step in the same transaction. Campaigns reach only contacts whose latest marketing
record is a grant (the Gate refuses a CAMPAIGN send to anyone else)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.accounts.services import record
from conversa.bulk import insert_new
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
    key: str = "",
) -> Consent:
    """Record that `contact` granted (or withdrew) consent to marketing messages, through
    `channel`, with `evidence` (the words they sent, the file row, the form): one new record.

    1. The contact's row is locked, so two records for one person apply in order.
    2. The record is written, and audited (`consent.granted` / `consent.withdrawn`).
    3. The contact's current state becomes the latest record's: a record dated before the
       latest one (an import of an old list) is kept in the history but changes nothing.
    With a `key` (an imported row's), a record already made under it is returned unchanged:
    reading the same source again records nothing twice."""
    if channel not in Consent.Channel.values:
        raise Refused(f"unknown consent channel: {channel}")
    if len(evidence) > EVIDENCE_LIMIT:
        raise Refused(f"the evidence is longer than {EVIDENCE_LIMIT} characters")
    at = at or timezone.now()
    if at > timezone.now():
        raise Refused("consent cannot be recorded in the future")
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    done = Consent.objects.filter(organization_id=locked.organization_id, key=key or None)
    if key and (found := done.first()):
        return found
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
        key=key or None,
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


@dataclass(frozen=True)
class Grant:
    """One record for `record_consents`: what `record_consent` takes for one contact."""

    contact_id: int
    granted: bool
    evidence: str
    at: datetime
    key: str


@transaction.atomic
def record_consents(
    org_id: int,
    grants: list[Grant],
    *,
    channel: str,
    source: models.Model,
    acting_member: Member | None = None,
) -> int:
    """`record_consent` for many contacts at once (an import's batch), in a few statements:
    the records whose key is new are inserted, then each contact touched takes the state of
    its latest record. The audit gets one entry on `source` (the import) with the counts: each
    record already names who recorded it, when, how and on what evidence. Returns how many
    records were new."""
    if channel not in Consent.Channel.values:
        raise Refused(f"unknown consent channel: {channel}")
    now = timezone.now()
    rows = [
        Consent(
            organization_id=org_id,
            contact_id=grant.contact_id,
            purpose=Consent.Purpose.MARKETING,
            granted=grant.granted,
            channel=channel,
            evidence=grant.evidence[:EVIDENCE_LIMIT],
            recorded_at=min(grant.at, now),
            recorded_by=acting_member,
            key=grant.key,
        )
        for grant in grants
    ]
    inserted = insert_new(rows, ["organization", "key"])
    if not inserted:
        return 0
    touched = sorted({c.contact_id for c in inserted})
    # Locked in id order, as record_consent locks one: records for one person apply in order.
    list(Contact.objects.select_for_update().filter(pk__in=touched).order_by("pk").values("pk"))
    granted = sum(1 for c in inserted if c.granted)
    record(
        org_id,
        "consent.imported",
        source,
        actor=acting_member,
        channel=channel,
        granted=granted,
        withdrawn=len(inserted) - granted,
    )
    latest: dict[int, bool] = {}
    for contact_id, granted in (
        Consent.objects.filter(contact_id__in=touched, purpose=Consent.Purpose.MARKETING)
        .order_by("contact_id", "recorded_at", "id")
        .values_list("contact_id", "granted")
    ):
        latest[contact_id] = granted
    changed = []
    for state in (True, False):
        ids = [pk for pk, granted in latest.items() if granted is state]
        changed += list(
            Contact.objects.filter(pk__in=ids)
            .exclude(marketing_consent=state)
            .values_list("pk", flat=True)
        )
        Contact.objects.filter(pk__in=ids).exclude(marketing_consent=state).update(
            marketing_consent=state
        )
    if changed:
        publisher.publish(org_id, events.ContactUpdated(contact_ids=sorted(changed)))
    return len(inserted)


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
