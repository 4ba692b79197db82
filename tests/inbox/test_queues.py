"""Queues and operators' capacity: the services that create, change and delete them (every
refusal before anything is saved, every change in the history), for owners, admins and
supervisors, within the organization. The settings pages are in test_queue_pages.py, the API
in test_queues_api.py."""

import pytest

from conversa.accounts.models import OperationalEvent
from conversa.errors import Refused
from conversa.inbox import deadlines, queues
from conversa.inbox.models import Conversation, Queue
from conversa.numbers.models import Number


def events(verb: str) -> list[OperationalEvent]:
    return list(OperationalEvent.objects.filter(verb=verb))


def number_of(org, n: int = 2) -> Number:
    return Number.objects.create(
        organization=org.org,
        name=f"Extra {n}",
        provider=Number.Provider.SANDBOX,
        provider_name=f"extra-{org.org.pk}-{n}",
        phone_number=f"551190000{org.org.pk:02d}{n:02d}",
    )


# Services


def test_a_queue_is_created_with_members_numbers_rule_and_targets(org):
    ana = org.member()
    queue = queues.create_queue(
        org.org,
        acting_member=org.owner,
        name="  Suporte   N1 ",
        member_ids=[ana.pk, org.owner.pk],
        number_ids=[org.number.pk],
        distribution=Queue.Distribution.LEAST_LOAD,
        first_response_minutes=30,
        resolution_minutes=480,
    )
    queue.refresh_from_db()
    assert queue.name == "Suporte N1"
    assert set(queue.members.all()) == {ana, org.owner}
    assert list(queue.numbers.all()) == [org.number]
    assert queue.distribution == Queue.Distribution.LEAST_LOAD
    assert (queue.first_response_minutes, queue.resolution_minutes) == (30, 480)
    [created] = events("queue.created")
    assert created.actor == org.owner and created.object_id == queue.pk
    assert created.data["member_ids"] == sorted([ana.pk, org.owner.pk])
    assert len(events("queue.sla_changed")) == 1


def test_a_queue_without_targets_records_no_sla_change(org):
    queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    assert not events("queue.sla_changed")
    assert Queue.objects.get().first_response_minutes is None


def test_new_conversations_of_its_number_get_its_due_times(org):
    queues.create_queue(
        org.org,
        acting_member=org.owner,
        name="Vendas",
        number_ids=[org.number.pk],
        first_response_minutes=15,
    )
    conversation = org.conversation()
    assert conversation.queue.name == "Vendas"
    assert conversation.first_response_due_at is not None
    assert conversation.resolution_due_at is None


@pytest.mark.parametrize("name", ["Vendas", "vendas", " VENDAS "])
def test_a_taken_name_in_any_case_is_refused_with_409(org, name):
    queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    with pytest.raises(Refused) as refused:
        queues.create_queue(org.org, acting_member=org.owner, name=name)
    assert (refused.value.field, refused.value.status) == ("name", 409)
    assert "exists" in str(refused.value)
    assert Queue.objects.count() == 1


def test_the_same_name_is_fine_in_another_organization(org, other_org):
    queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    queues.create_queue(other_org.org, acting_member=other_org.owner, name="Vendas")
    assert Queue.objects.count() == 2


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"distribution": "random"}, "distribution"),
        ({"first_response_minutes": 0}, "first_response_minutes"),
        ({"resolution_minutes": -5}, "resolution_minutes"),
    ],
)
def test_invalid_fields_are_refused_and_nothing_is_saved(org, fields, field):
    with pytest.raises(Refused) as refused:
        queues.create_queue(org.org, acting_member=org.owner, **{"name": "Vendas", **fields})
    assert refused.value.field == field
    assert not Queue.objects.exists() and not events("queue.created")


def test_another_organizations_member_or_number_is_refused(org, other_org):
    theirs = other_org.member()
    with pytest.raises(Refused) as refused:
        queues.create_queue(org.org, acting_member=org.owner, name="Vendas", member_ids=[theirs.pk])
    assert refused.value.field == "members"
    with pytest.raises(Refused) as refused:
        queues.create_queue(
            org.org, acting_member=org.owner, name="Vendas", number_ids=[other_org.number.pk]
        )
    assert refused.value.field == "numbers"
    assert not Queue.objects.exists()


def test_agents_may_not_manage_queues_or_capacity(org):
    agent = org.member()
    with pytest.raises(Refused) as refused:
        queues.create_queue(org.org, acting_member=agent, name="Vendas")
    assert refused.value.status == 403
    queue = queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    with pytest.raises(Refused):
        queues.update_queue(
            queue,
            acting_member=agent,
            name="X",
            member_ids=[],
            number_ids=[],
            distribution="off",
            first_response_minutes=None,
            resolution_minutes=None,
        )
    with pytest.raises(Refused):
        queues.delete_queue(queue, acting_member=agent)
    with pytest.raises(Refused):
        queues.set_capacity(agent, 3, acting_member=agent)


def test_another_organizations_supervisor_cannot_touch_a_queue(org, other_org):
    queue = queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    with pytest.raises(Refused) as refused:
        queues.delete_queue(queue, acting_member=other_org.owner)
    assert refused.value.status == 404
    with pytest.raises(Refused):
        queues.set_capacity(org.owner, 3, acting_member=other_org.owner)
    assert Queue.objects.filter(pk=queue.pk).exists()


def update(queue, acting_member, **fields):
    current = {
        "name": queue.name,
        "member_ids": list(queue.members.values_list("pk", flat=True)),
        "number_ids": list(queue.numbers.values_list("pk", flat=True)),
        "distribution": queue.distribution,
        "first_response_minutes": queue.first_response_minutes,
        "resolution_minutes": queue.resolution_minutes,
    }
    return queues.update_queue(queue, acting_member=acting_member, **{**current, **fields})


def test_an_update_records_what_changed_with_the_previous_values(org, published_events, committed):
    ana, bruno = org.member(), org.member()
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", member_ids=[ana.pk]
    )
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
    with committed():
        changes = update(
            queue,
            org.owner,
            name="Vendas B2B",
            member_ids=[bruno.pk],
            number_ids=[org.number.pk],
            distribution=Queue.Distribution.ROUND_ROBIN,
        )
    queue.refresh_from_db()
    assert queue.name == "Vendas B2B" and queue.distribution == "round_robin"
    assert list(queue.members.all()) == [bruno]
    assert list(queue.numbers.all()) == [org.number]
    [changed] = events("queue.changed")
    assert (
        changed.data
        == changes
        == {
            "name": ["Vendas", "Vendas B2B"],
            "distribution": ["off", "round_robin"],
            "members_added": [bruno.pk],
            "members_removed": [ana.pk],
            "numbers_added": [org.number.pk],
        }
    )
    # The thread head shows the queue's name, and the Queue tab its members' conversations.
    assert published_events == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]


def test_an_update_that_changes_nothing_records_and_announces_nothing(
    org, published_events, committed
):
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", first_response_minutes=10
    )
    with committed():
        assert update(queue, org.owner) == {}
    assert not events("queue.changed") and len(events("queue.sla_changed")) == 1
    assert published_events == []


def test_changing_only_the_numbers_or_the_rule_announces_nothing(org, published_events, committed):
    queue = queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    Conversation.objects.filter(pk=org.conversation().pk).update(queue=queue)
    with committed():
        update(queue, org.owner, number_ids=[org.number.pk], distribution="least_load")
    assert published_events == []


def test_new_targets_recompute_the_due_times_of_open_conversations(org):
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", number_ids=[org.number.pk]
    )
    conversation = org.conversation()
    assert conversation.first_response_due_at is None
    update(queue, org.owner, first_response_minutes=60, resolution_minutes=120)
    conversation.refresh_from_db()
    # Counted in the organization's business hours from when it opened.
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == (
        deadlines.due_times(conversation.opened_at, 60, 120, org.org.sla_schedule())
    )
    assert conversation.first_response_due_at < conversation.resolution_due_at
    [sla_changed] = events("queue.sla_changed")
    assert sla_changed.data == {"first_response_minutes": 60, "resolution_minutes": 120}
    update(queue, org.owner, first_response_minutes=None, resolution_minutes=None)
    conversation.refresh_from_db()
    assert conversation.first_response_due_at is None and conversation.resolution_due_at is None


def test_a_refused_update_saves_nothing(org):
    ana = org.member()
    queues.create_queue(org.org, acting_member=org.owner, name="Financeiro")
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", member_ids=[ana.pk]
    )
    with pytest.raises(Refused):
        update(queue, org.owner, name="financeiro", member_ids=[], first_response_minutes=5)
    with pytest.raises(Refused):
        update(queue, org.owner, member_ids=[], first_response_minutes=0)
    queue.refresh_from_db()
    assert queue.name == "Vendas" and list(queue.members.all()) == [ana]
    assert queue.first_response_minutes is None and not events("queue.changed")


def test_renaming_to_its_own_name_in_another_case_is_fine(org):
    queue = queues.create_queue(org.org, acting_member=org.owner, name="vendas")
    update(queue, org.owner, name="Vendas")
    assert Queue.objects.get().name == "Vendas"


def test_a_deleted_queues_conversations_stay_in_no_queue_without_due_times(
    org, published_events, committed
):
    queue = queues.create_queue(
        org.org,
        acting_member=org.owner,
        name="Vendas",
        number_ids=[org.number.pk],
        first_response_minutes=1,
    )
    queue_id = queue.pk
    conversation = org.conversation()
    resolved = org.conversation("5511999990002")
    Conversation.objects.filter(pk=resolved.pk).update(status=Conversation.Status.RESOLVED)
    assert conversation.first_response_due_at is not None
    with committed():
        assert queues.delete_queue(queue, acting_member=org.owner) == 1
    conversation.refresh_from_db()
    assert conversation.queue is None and conversation.first_response_due_at is None
    assert Conversation.objects.filter(pk=resolved.pk, queue=None).exists()
    assert not Queue.objects.exists()
    [deleted] = events("queue.deleted")
    assert deleted.data == {"name": "Vendas", "held": 1} and deleted.object_id == queue_id
    assert published_events == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]
    # The number's next conversation lands in no queue.
    assert org.conversation("5511999990003").queue is None


def test_capacity_is_set_recorded_and_announced(org, published_events, committed):
    ana = org.member()
    with committed():
        assert queues.set_capacity(ana, 3, acting_member=org.owner) is True
    ana.refresh_from_db()
    assert ana.capacity == 3
    [changed] = events("member.capacity_changed")
    assert changed.data == {"capacity": 3, "previous": 10} and changed.object_id == ana.pk
    assert published_events == [(org.org.pk, {"type": "OPERATOR_STATUS", "member_ids": [ana.pk]})]
    assert queues.set_capacity(ana, 3, acting_member=org.owner) is False
    assert len(events("member.capacity_changed")) == 1


@pytest.mark.parametrize("capacity", [-1, queues.MAX_CAPACITY + 1, "3"])
def test_a_capacity_out_of_range_is_refused(org, capacity):
    ana = org.member()
    with pytest.raises(Refused) as refused:
        queues.set_capacity(ana, capacity, acting_member=org.owner)
    assert refused.value.field == "capacity"
    ana.refresh_from_db()
    assert ana.capacity == 10
