"""Queues and operators' capacity through the API (`inbox/team_api.py`): supervisors only,
within the organization, a refusal naming its field."""

from conversa.accounts.models import Member
from conversa.inbox.models import Conversation, Queue
from tests.inbox.conftest import queue_with_operator


def send(client, method: str, url: str, data=None):
    return getattr(client, method)(url, data or {}, content_type="application/json")


def test_queues_are_created_changed_and_deleted_through_the_api(org):
    ana = org.member()
    client = org.client()
    made = send(
        client,
        "post",
        "/api/queues",
        {"name": "Vendas", "member_ids": [ana.pk], "number_ids": [org.number.pk]},
    )
    assert made.status_code == 201, made.content
    queue = made.json()
    assert queue["member_ids"] == [ana.pk] and queue["distribution"] == "off"
    again = send(client, "post", "/api/queues", {"name": "VENDAS"})
    assert again.status_code == 409 and "exists" in again.json()["detail"]
    changed = send(
        client,
        "put",
        f"/api/queues/{queue['id']}",
        {"name": "Vendas SP", "distribution": "least_load", "resolution_minutes": 240},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["member_ids"] == [] and changed.json()["resolution_minutes"] == 240
    assert client.delete(f"/api/queues/{queue['id']}").status_code == 204
    assert not Queue.objects.filter(pk=queue["id"]).exists()


def test_a_bad_queue_is_refused_on_its_field_and_nothing_is_saved(org, other_org):
    theirs = other_org.member()
    refused = send(org.client(), "post", "/api/queues", {"name": "X", "member_ids": [theirs.pk]})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "members"]
    unknown_rule = send(org.client(), "post", "/api/queues", {"name": "X", "distribution": "?"})
    assert unknown_rule.status_code == 422
    assert not Queue.objects.filter(organization=org.org).exists()


def test_agents_and_other_organizations_cannot_manage_queues_through_the_api(org, other_org):
    queue = Queue.objects.create(organization=org.org, name="Suporte")
    agent = org.client(org.member())
    assert send(agent, "post", "/api/queues", {"name": "Minha"}).status_code == 403
    assert send(agent, "put", f"/api/queues/{queue.pk}", {"name": "Minha"}).status_code == 403
    assert agent.delete(f"/api/queues/{queue.pk}").status_code == 403
    stranger = other_org.client()
    assert send(stranger, "put", f"/api/queues/{queue.pk}", {"name": "Nossa"}).status_code == 404
    assert stranger.delete(f"/api/queues/{queue.pk}").status_code == 404
    queue.refresh_from_db()
    assert queue.name == "Suporte"


def test_more_capacity_through_the_api_takes_what_waits(org, committed):
    queue, ana = queue_with_operator(org, capacity=0)
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
    with committed():
        answer = send(org.client(), "put", f"/api/operators/{ana.pk}/capacity", {"capacity": 3})
    assert answer.status_code == 200, answer.content
    assert answer.json()["capacity"] == 3
    assert Conversation.objects.get(pk=conversation.pk).assignee == ana
    assert Member.objects.get(pk=ana.pk).open_count == 1
    too_many = send(org.client(), "put", f"/api/operators/{ana.pk}/capacity", {"capacity": 501})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["loc"] == ["body", "capacity"]
