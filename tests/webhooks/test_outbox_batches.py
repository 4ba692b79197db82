"""The outbox under the webhook front door's batches: what a batch reads once for all its
events, and what it still reads again in the next batch."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.inbound.services import apply_events
from conversa.providers.base import InboundMessage, ParsedEvent
from conversa.sandbox import simulator
from conversa.webhooks.models import Delivery


def test_a_webhook_batch_reads_the_endpoints_once_and_the_next_batch_again(org, endpoint_of):
    """Inside one batch of webhooks the organization's endpoints are read once for all its
    events; an endpoint added between two batches gets the second one's."""

    def customers(*phones):
        return [
            (
                org.number,
                ParsedEvent(
                    InboundMessage(simulator.new_message_id(), phone, "B", "text", body="Oi"),
                    dedupe_key=f"test:{phone}",
                ),
            )
            for phone in phones
        ]

    first, _ = endpoint_of(org, events=["message.received", "conversation.created"])
    with CaptureQueriesContext(connection) as queries:
        apply_events(customers("5511999990031", "5511999990032"))
    reads = [q for q in queries.captured_queries if 'FROM "webhooks_endpoint"' in q["sql"]]
    assert len(reads) == 1
    assert Delivery.objects.filter(endpoint=first, event_type="message.received").count() == 2
    assert Delivery.objects.filter(endpoint=first, event_type="conversation.created").count() == 2
    second, _ = endpoint_of(org, events=["message.received"])
    apply_events(customers("5511999990033"))
    assert Delivery.objects.filter(endpoint=second).count() == 1
    assert Delivery.objects.filter(endpoint=first, event_type="message.received").count() == 3
