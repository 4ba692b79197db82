"""Consent as records: each grant and withdrawal kept with its channel and evidence, the
contact's current state the latest of them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import OperationalEvent
from conversa.campaigns import consent
from conversa.campaigns.models import Consent
from conversa.errors import Refused
from conversa.inbox.merge import merge_contacts
from conversa.inbox.models import Contact


def test_a_grant_then_a_withdrawal_are_both_kept_and_the_latest_decides(org):
    contact = org.conversation().contact
    assert not contact.marketing_consent and consent.current(contact) is None
    consent.record_consent(
        contact,
        granted=True,
        channel="web_form",
        evidence="checkbox on /promo",
        acting_member=org.owner,
    )
    assert Contact.objects.get(pk=contact.pk).marketing_consent
    consent.record_consent(contact, granted=False, channel="keyword", evidence="SAIR")
    contact.refresh_from_db()
    assert not contact.marketing_consent
    records = consent.history(contact)
    assert [(r.granted, r.channel, r.evidence) for r in records] == [
        (False, "keyword", "SAIR"),
        (True, "web_form", "checkbox on /promo"),
    ]
    assert records[1].recorded_by == org.owner
    verbs = OperationalEvent.objects.filter(object_type="contact", object_id=contact.pk)
    assert {"consent.granted", "consent.withdrawn"} <= set(verbs.values_list("verb", flat=True))


def test_an_older_record_joins_the_history_without_changing_the_state(org):
    contact = org.conversation().contact
    consent.record_consent(contact, granted=False, channel="agent", acting_member=org.owner)
    last_year = timezone.now() - timedelta(days=365)
    consent.record_consent(contact, granted=True, channel="import", evidence="row 7", at=last_year)
    contact.refresh_from_db()
    assert not contact.marketing_consent
    assert consent.current(contact).channel == "agent"
    assert len(consent.history(contact)) == 2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"channel": "carrier pigeon"}, "unknown consent channel"),
        ({"channel": "api", "evidence": "x" * 2001}, "longer than 2000"),
        ({"channel": "api", "at": timezone.now() + timedelta(days=1)}, "in the future"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_stored(org, kwargs, words):
    contact = org.conversation().contact
    with pytest.raises(Refused, match=words):
        consent.record_consent(contact, granted=True, **kwargs)
    assert not Consent.objects.filter(contact=contact).exists()


def test_merging_keeps_every_record_and_consent_only_if_both_had_it(org):
    keep = org.conversation("5511900000001").contact
    gone = org.conversation("5511900000002").contact
    consent.record_consent(keep, granted=True, channel="import", evidence="row 1")
    merged = merge_contacts(keep=keep, gone=gone, reason="same_person")
    merged.refresh_from_db()
    assert not merged.marketing_consent  # the stricter wins
    assert Consent.objects.filter(contact=merged).count() == 1
