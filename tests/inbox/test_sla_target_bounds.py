"""SLA targets are bounded to a year, and a change is all or nothing (issue 16, problem 5):
the queue form, the API and the service refuse a longer one and save nothing; a target stored
before the bound no longer breaks the webhooks that open conversations on its queue."""

import pytest

from conversa.inbox import deadlines
from conversa.inbox.models import Conversation, Queue
from tests.conftest import post_webhook
from tests.inbox.conftest import put

HUGE = 10_000_000_000
YEAR = deadlines.MAX_TARGET_MINUTES


def test_the_api_refuses_a_target_longer_than_a_year_and_saves_nothing(org):
    queue = Queue.objects.create(organization=org.org, name="Vendas", first_response_minutes=30)
    client = org.client()
    for minutes in (HUGE, YEAR + 1, 0, -5):
        answer = put(client, f"/api/queues/{queue.pk}/sla", {"first_response_minutes": minutes})
        assert answer.status_code == 422, (minutes, answer.content)
        answer = put(
            client, f"/api/queues/{queue.pk}", {"name": "Vendas", "resolution_minutes": minutes}
        )
        assert answer.status_code == 422, (minutes, answer.content)
    ok = put(client, f"/api/queues/{queue.pk}/sla", {"first_response_minutes": YEAR})
    assert ok.status_code == 200 and ok.json()["first_response_minutes"] == YEAR
    queue.refresh_from_db()
    assert queue.first_response_minutes == YEAR and queue.resolution_minutes is None


@pytest.mark.parametrize("value", [str(HUGE), str(YEAR + 1), "²", "٣", "1e9", "-1"])
def test_the_queue_form_refuses_a_target_that_is_not_within_a_year(org, value):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    answer = org.client().post(
        f"/inbox/settings/queues/{queue.pk}",
        {"name": "Vendas", "distribution": "off", "first_response_minutes": value},
    )
    assert answer.status_code in (400, 422), answer.status_code
    queue.refresh_from_db()
    assert queue.first_response_minutes is None


def test_the_service_refuses_and_keeps_the_previous_targets(org):
    queue = Queue.objects.create(organization=org.org, name="Vendas", resolution_minutes=60)
    with pytest.raises(deadlines.Refused):
        deadlines.set_queue_targets(
            queue, acting_member=org.owner, first_response_minutes=HUGE, resolution_minutes=60
        )
    queue.refresh_from_db()
    assert queue.first_response_minutes is None and queue.resolution_minutes == 60


def test_a_huge_target_stored_earlier_does_not_break_the_webhook(org, client):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    queue.numbers.add(org.number)
    # The largest a PostgreSQL integer holds; SQLite stored problem 5's 10 billion as well.
    Queue.objects.filter(pk=queue.pk).update(first_response_minutes=2**31 - 1)
    webhook = {
        "event": "messages.upsert",
        "data": {
            "key": {"remoteJid": "5511977770001@s.whatsapp.net", "fromMe": False, "id": "SLA1"},
            "pushName": "Cliente",
            "message": {"conversation": "Oi"},
            "messageTimestamp": 1766816680,
        },
    }
    answer = post_webhook(client, org.number, webhook)
    assert answer.status_code == 200, answer.content
    conversation = Conversation.objects.get(organization=org.org)
    assert conversation.queue_id == queue.pk
    assert conversation.first_response_due_at is None  # past the horizon: no due time
