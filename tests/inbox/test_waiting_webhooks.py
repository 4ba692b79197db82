"""How the webhooks that wait for their message are read: by the message's id, whatever
PostgreSQL's statistics say (`ProviderEventQuerySet.about`)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.inbox import services as inbox
from conversa.providers.models import ProviderEvent
from tests.inbox.test_message_changes import T0, customer, deliver
from tests.plans import index_conditions


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_changes_waiting_for_a_batch_are_found_by_their_message_whatever_the_statistics_say(
    org, other_org
):
    """Statistics that know another number's webhooks but not this one's (a new number's first
    hours) made the read of early changes and statuses scan every webhook the number ever
    received, for every batch and send: each must reach its rows by the message's id."""

    def webhooks(number, n: int) -> None:
        ProviderEvent.objects.bulk_create(
            ProviderEvent(
                organization_id=number.organization_id,
                number=number,
                kind="InboundMessage",
                dedupe_key=f"m{i}",
                provider_message_id=f"{number.pk}-{i}",
                event={},
                payload={},
                processed_at=T0,
            )
            for i in range(n)
        )

    webhooks(other_org.number, 3000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE providers_providerevent")
    webhooks(org.number, 3000)
    with CaptureQueriesContext(connection) as queries:
        deliver(org.number, *(customer(f"N{i}", phone=f"551188{i:07d}") for i in range(16)))
        inbox.apply_early_statuses([(org.number, f"S{i}") for i in range(16)])
    lookups = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and 'FROM "providers_providerevent"' in q["sql"]
        and "processed_at" in q["sql"]
    ]
    assert len(lookups) == 2
    for sql in lookups:
        conditions, plan = index_conditions(sql)
        assert any("provider_message_id" in line for line in conditions), plan
