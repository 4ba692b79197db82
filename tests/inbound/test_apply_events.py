"""Many events stored at once (the front door's group commit): each is told apart as new or
seen before, within the batch and across batches, and stored once."""

import json

from conversa.inbound import services
from conversa.inbox.models import Message
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
