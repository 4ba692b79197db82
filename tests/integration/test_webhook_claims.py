"""Four workers claim the same webhook deliveries at once, each in its own process
(PostgreSQL, `FOR UPDATE SKIP LOCKED`): every delivery is claimed by exactly one of them."""

import os
from pathlib import Path

import pytest
from django.db import connection

from bench.cluster import database_url
from conversa.webhooks import outbox, signing
from conversa.webhooks.models import Delivery, Endpoint
from tests.integration.together import release, spawn

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)


def test_four_processes_claim_each_delivery_once(org, transactional_db):
    endpoint = Endpoint.objects.create(
        organization=org.org,
        url="https://93.184.216.34/hooks",
        event_types=["message.received"],
        secret=signing.new_secret(),
    )
    Delivery.objects.bulk_create(
        Delivery(
            organization=org.org,
            endpoint=endpoint,
            event_id=outbox.new_event_id(),
            event_type="message.received",
            body="{}",
        )
        for _ in range(300)
    )
    script = Path(__file__).with_name("webhook_claim_at.py")
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": ""}
    processes = [spawn([str(script), f"w{n}"], env) for n in range(4)]
    release(processes)
    claimed = [list(map(int, p.communicate(timeout=120)[0].split())) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    everything = [pk for ids in claimed for pk in ids]
    assert len(everything) == len(set(everything)) == 300
    assert sum(1 for ids in claimed if ids) >= 2, "one process took everything: no race shown"
