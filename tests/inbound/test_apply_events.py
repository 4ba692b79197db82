"""Many events stored at once (the front door's group commit): each is told apart as new or
seen before, within the batch and across batches, and stored once."""

import json

from conversa.inbound import services
from conversa.inbox import contacts
from conversa.inbox.models import Contact, Message
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent
from tests.inbox.test_inbound import status_update, upsert


def parsed(number, *payloads):
    headers = {SECRET_HEADER: number.webhook_secret}
    return [
        (number, item)
        for payload in payloads
        for item in services.read_webhook(number, headers, json.dumps(payload).encode())
    ]


def test_repeats_within_and_across_batches_are_stored_once(org):
    number = org.number
    first = services.apply_events(parsed(number, upsert("M1"), upsert("M2", phone="5511977776666")))
    assert first == [True, True]
    again = services.apply_events(
        parsed(number, upsert("M3"), upsert("M1"), upsert("M3"), status_update("NOPE", "READ"))
    )
    assert again == [True, False, False, True]
    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == [
        "M1",
        "M2",
        "M3",
    ]
    assert ProviderEvent.objects.filter(number=number).count() == 4
    # The early status waits, unprocessed, for the send it is about; the messages are applied.
    assert ProviderEvent.objects.filter(processed_at__isnull=True).count() == 1


def test_two_numbers_may_share_a_dedupe_key(org, other_org):
    batch = parsed(org.number, upsert("SAME")) + parsed(other_org.number, upsert("SAME"))
    assert services.apply_events(batch) == [True, True]
    assert Message.objects.filter(provider_message_id="SAME").count() == 2


def test_nothing_to_apply_touches_nothing(org, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert services.apply_events([]) == []


def test_a_customer_stored_by_another_process_meanwhile_is_found_one_at_a_time(org, monkeypatch):
    """The batch looked for its senders before another process committed one of them: its
    insert of that contact conflicts (IntegrityError), and the batch is applied again one
    message at a time, which finds the contact. Each message is stored once, on it."""
    number = org.number
    batch = parsed(number, upsert("LATE1"), upsert("LATE2", phone="5511977776666"))
    meanwhile = Contact.objects.create(organization=org.org, phone="5511988887777", name="Maria")
    looked_up, lookups = contacts.phone_owners, []

    def before_the_commit_once(wanted):
        lookups.append(wanted)
        return {} if len(lookups) == 1 else looked_up(wanted)

    monkeypatch.setattr(contacts, "phone_owners", before_the_commit_once)
    one_at_a_time = []
    apply_event = services.apply_event
    monkeypatch.setattr(
        services, "apply_event", lambda *args: one_at_a_time.append(args) or apply_event(*args)
    )
    assert services.apply_events(batch) == [True, True]
    assert len(one_at_a_time) == 2  # the bulk insert gave way
    assert Contact.objects.filter(organization=org.org, phone=meanwhile.phone).count() == 1
    assert Message.objects.get(provider_message_id="LATE1").conversation.contact_id == meanwhile.pk
    assert Message.objects.filter(provider_message_id__in=["LATE1", "LATE2"]).count() == 2
    assert ProviderEvent.objects.filter(number=number).count() == 2
