"""Who has a conversation: claim, assign, release, transfer, resolve and reopen, each in the
conversation's history, and operators' open counts always equal to the data."""

import pytest

from conversa.accounts.models import Member, OperationalEvent
from conversa.errors import Conflict, Forbidden
from conversa.inbox import ownership, states
from conversa.inbox.models import Conversation, Queue


def history(conversation) -> list[str]:
    return list(
        OperationalEvent.objects.filter(object_type="conversation", object_id=conversation.pk)
        .order_by("id")
        .values_list("verb", flat=True)
    )


def open_counts_match_the_data(org) -> None:
    for member in Member.objects.filter(organization=org.org):
        live = Conversation.objects.filter(assignee=member).exclude(status="resolved").count()
        assert member.open_count == live, member


def test_the_first_claim_wins_and_the_second_is_told_who_has_it(org):
    conversation = org.conversation()
    ana, bruno = org.member(), org.member()
    ownership.claim(conversation, acting_member=ana)
    with pytest.raises(Conflict, match=f"{ana.display_name} has this") as refused:
        ownership.claim(conversation, acting_member=bruno)
    assert refused.value.holder == ana
    conversation.refresh_from_db()
    assert conversation.assignee == ana and conversation.assigned_at
    assert history(conversation) == ["conversation.assigned"]
    open_counts_match_the_data(org)


def test_operators_claim_only_in_their_queues_supervisors_anywhere(org):
    queue = Queue.objects.create(organization=org.org, name="Suporte")
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
    conversation.refresh_from_db()
    outsider, member = org.member(), org.member()
    queue.members.add(member)
    with pytest.raises(Conflict, match="not in"):
        ownership.claim(conversation, acting_member=outsider)
    ownership.claim(conversation, acting_member=member)
    supervisor = org.member(Member.Role.SUPERVISOR)
    ownership.assign(conversation, supervisor, acting_member=supervisor)
    conversation.refresh_from_db()
    assert conversation.assignee == supervisor


def test_assign_release_transfer_resolve_reopen_keep_history_and_counts(org):
    conversation = org.conversation()
    supervisor = org.member(Member.Role.SUPERVISOR)
    ana, bruno = org.member(), org.member()
    with pytest.raises(Forbidden, match="Only supervisors"):
        ownership.assign(conversation, bruno, acting_member=ana)
    ownership.assign(conversation, ana, acting_member=supervisor)
    with pytest.raises(Forbidden, match="Only its operator"):
        ownership.release(conversation, acting_member=bruno)
    ownership.transfer(conversation, acting_member=ana, to_member=bruno, note="Cliente VIP")
    conversation.refresh_from_db()
    assert conversation.assignee == bruno
    queue = Queue.objects.create(organization=org.org, name="Financeiro")
    ownership.transfer(conversation, acting_member=bruno, to_queue=queue)
    conversation.refresh_from_db()
    assert (conversation.queue, conversation.assignee) == (queue, None)
    ownership.claim(conversation, acting_member=supervisor)
    states.resolve(conversation, acting_member=supervisor, reason="Respondido")
    open_counts_match_the_data(org)
    states.reopen(conversation, acting_member=supervisor, reason="Cliente voltou")
    ownership.release(conversation, acting_member=supervisor)
    assert history(conversation) == [
        "conversation.assigned",
        "conversation.transferred",
        "conversation.transferred",
        "conversation.assigned",
        "conversation.resolved",
        "conversation.reopened",
        "conversation.released",
    ]
    transferred = OperationalEvent.objects.filter(verb="conversation.transferred").first()
    assert transferred.data["note"] == "Cliente VIP"
    for member in Member.objects.filter(organization=org.org):
        member.refresh_from_db()
    open_counts_match_the_data(org)


def test_another_organizations_operator_or_queue_is_refused(org, other_org):
    conversation = org.conversation()
    supervisor = org.member(Member.Role.SUPERVISOR)
    stranger = other_org.member()
    with pytest.raises(Conflict):
        ownership.assign(conversation, stranger, acting_member=supervisor)
    queue = Queue.objects.create(organization=other_org.org, name="Deles")
    with pytest.raises(Conflict):
        ownership.transfer(conversation, acting_member=supervisor, to_queue=queue)


def test_the_api_claims_and_refuses_with_the_holder(org, other_org):
    conversation = org.conversation()
    ana, bruno = org.member(), org.member()
    first = org.client(ana).post(f"/api/conversations/{conversation.pk}/claim")
    assert first.status_code == 200 and first.json()["assignee_id"] == ana.pk
    second = org.client(bruno).post(f"/api/conversations/{conversation.pk}/claim")
    assert second.status_code == 409
    body = second.json()
    assert body["error"] == "conflict"
    assert body["assignee"] == {"id": ana.pk, "name": ana.display_name}
    assert ana.display_name in body["detail"]
    resolved = org.client(ana).post(
        f"/api/conversations/{conversation.pk}/resolve",
        {"reason": "ok"},
        content_type="application/json",
    )
    assert resolved.json()["status"] == "resolved"
    theirs = other_org.conversation()
    assert org.client(ana).post(f"/api/conversations/{theirs.pk}/claim").status_code == 404
    missing = org.client().post(
        f"/api/conversations/{conversation.pk}/transfer", {}, content_type="application/json"
    )
    assert missing.status_code == 409


def test_operators_and_queues_through_the_api(org, other_org):
    ana = org.member()
    queue = Queue.objects.create(organization=org.org, name="Suporte")
    queue.members.add(ana)
    queue.numbers.add(org.number)
    client = org.client(ana)
    me = client.get("/api/operators/me").json()
    assert (me["id"], me["availability"], me["queue_ids"]) == (ana.pk, "offline", [queue.pk])
    online = client.post(
        "/api/operators/me/availability",
        {"availability": "online"},
        content_type="application/json",
    )
    assert online.json()["availability"] == "online"
    wrong = client.post(
        "/api/operators/me/availability", {"availability": "busy"}, content_type="application/json"
    )
    assert wrong.status_code == 422
    listed = client.get("/api/operators").json()
    assert {o["id"] for o in listed} == {org.owner.pk, ana.pk}, "only this organization's"
    queues = client.get("/api/queues").json()
    assert queues == [
        {
            "id": queue.pk,
            "name": "Suporte",
            "distribution": "off",
            "first_response_minutes": None,
            "resolution_minutes": None,
            "member_ids": [ana.pk],
            "number_ids": [org.number.pk],
        }
    ]
    assert other_org.client().get("/api/queues").json() == []
