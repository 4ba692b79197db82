"""When the realtime events of a change leave: after its transaction commits, and a batch's
(a webhook batch, applied by the front door's writer thread) together, in one hop to the
event loop, as the batch ends."""

import pytest
from django.db import transaction

from conversa.inbound import services
from conversa.realtime import events, publisher
from tests.inbound.test_apply_events import parsed
from tests.inbox.test_inbound import upsert


@pytest.fixture
def delivered(monkeypatch) -> list[list[tuple[str, dict]]]:
    """Each hop to the sockets, with what it carried."""
    hops: list[list[tuple[str, dict]]] = []
    monkeypatch.setattr(publisher, "_deliver", lambda sends: hops.append(list(sends)))
    return hops


def test_a_batch_sends_what_it_committed_in_one_hop_as_it_ends(transactional_db, org, delivered):
    with publisher.batch(), transaction.atomic():
        publisher.publish(org.org.pk, events.LeadUpdated(lead_ids=[1]))
        publisher.publish(org.org.pk, events.LeadUpdated(lead_ids=[2]))
        publisher.publish_to_member(org.owner.pk, events.LeadUpdated(lead_ids=[3]))
        assert delivered == []
    assert delivered == [
        [
            (publisher.org_group(org.org.pk), {"type": "LEAD_UPDATED", "lead_ids": [1]}),
            (publisher.org_group(org.org.pk), {"type": "LEAD_UPDATED", "lead_ids": [2]}),
            (publisher.member_group(org.owner.pk), {"type": "LEAD_UPDATED", "lead_ids": [3]}),
        ]
    ]


def test_a_batch_rolled_back_sends_nothing(transactional_db, org, delivered):
    with pytest.raises(ZeroDivisionError), publisher.batch(), transaction.atomic():
        publisher.publish(org.org.pk, events.LeadUpdated(lead_ids=[1]))
        1 / 0  # noqa: B018
    assert delivered == []


def test_outside_a_batch_each_event_leaves_at_its_commit(transactional_db, org, delivered):
    with transaction.atomic():
        publisher.publish(org.org.pk, events.LeadUpdated(lead_ids=[1]))
    with transaction.atomic():
        publisher.publish(org.org.pk, events.LeadUpdated(lead_ids=[2]))
    assert [[payload["lead_ids"] for _, payload in hop] for hop in delivered] == [[[1]], [[2]]]


def test_a_webhook_batch_of_new_customers_reaches_the_sockets_in_one_hop(
    transactional_db, org, delivered
):
    batch = parsed(org.number, upsert("M1"), upsert("M2", phone="5511977776666"))
    assert services.apply_events(batch) == [True, True]
    assert len(delivered) == 1
    assert [payload["type"] for _, payload in delivered[0]] == [
        "CONTACT_UPDATED",
        "CONVERSATION_UPDATED",
        "MESSAGE_RECEIVED",
    ]
