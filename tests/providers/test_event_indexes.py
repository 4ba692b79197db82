"""The stored webhooks' index on our job reference: only the events that carry one are in it
(an inbound message, nearly every event, carries none), and an uncertain send's echo is found
through it."""

import pytest
from django.db import connection

from conversa.providers.models import ProviderEvent
from tests.inbox.test_index_writes import indexes_of


def test_the_reference_has_one_index_and_only_for_events_that_carry_one(db):
    on_reference = indexes_of("providers_providerevent", "reference")
    assert on_reference == {"provider_event_reference"}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'provider_event_reference'"
            )
            assert "WHERE (NOT ((reference)::text = ''::text))" in cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_an_uncertain_sends_echo_is_looked_up_through_the_reference_index(org):
    echo = ProviderEvent.objects.filter(number_id=org.number.pk, reference="job-7f3a").exclude(
        provider_message_id=""
    )
    with connection.cursor() as cursor:
        # A test's tables are tiny: only whether the index can serve the lookup is asked here.
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert "provider_event_reference" in echo.explain()
