"""Pending, snoozed, resolved and back: a customer's message makes a conversation OPEN again,
or starts a new one once the reopen window has passed, the same way on both inbound paths."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent
from conversa.engine.worker import Worker
from conversa.errors import Conflict
from conversa.inbound import consequences as inbound
from conversa.inbound import services as providers
from conversa.inbox import ownership, states
from conversa.inbox.models import Conversation
from conversa.providers.base import InboundMessage, ParsedEvent
from conversa.sandbox import simulator

PHONE = "5511999990001"


def history(conversation) -> list[str]:
    return list(
        OperationalEvent.objects.filter(object_type="conversation", object_id=conversation.pk)
        .order_by("id")
        .values_list("verb", flat=True)
    )


def one_at_a_time(org, text="Oi"):
    return org.customer_writes(PHONE, text).conversation


def in_bulk(org, text="Oi"):
    """The webhook front door's path: `apply_events` → `inbound.receive_messages` (the bulk insert)."""
    message_id = simulator.new_message_id()
    event = InboundMessage(message_id, PHONE, "Cliente", "text", text)
    assert providers.apply_events([(org.number, ParsedEvent(event, f"msg:{message_id}"))])
    return org.number.conversations.get(messages__provider_message_id=message_id)


PATHS = pytest.mark.parametrize("customer_writes", [one_at_a_time, in_bulk])


def test_the_bulk_path_is_the_one_under_test(org, monkeypatch):
    """A guard: `in_bulk` must store through `inbound.receive_messages`, not fall back to one at a
    time."""
    org.conversation(PHONE)
    single = []
    original = inbound.receive_message
    monkeypatch.setattr(inbound, "receive_message", lambda *a: single.append(a) or original(*a))
    in_bulk(org)
    assert not single


@PATHS
@pytest.mark.parametrize(
    "put_aside",
    [
        lambda c, acting_member: states.mark_pending(
            c, acting_member=acting_member, reason="Aguardando comprovante"
        ),
        lambda c, acting_member: states.snooze(c, acting_member=acting_member),
        lambda c, acting_member: states.snooze(
            c, acting_member=acting_member, until=timezone.now() + timedelta(days=2)
        ),
    ],
    ids=["pending", "snoozed-until-reply", "snoozed-until-time"],
)
def test_a_customer_message_makes_a_pending_or_snoozed_conversation_open(
    org, customer_writes, put_aside
):
    conversation = org.conversation(PHONE)
    put_aside(conversation, org.owner)
    assert conversation.status in ("pending", "snoozed")
    again = customer_writes(org, "Voltei")
    assert again.pk == conversation.pk
    assert (again.status, again.snoozed_until) == ("open", None)
    assert history(conversation)[-1] == "conversation.woken"


@PATHS
def test_a_message_within_the_window_reopens_the_resolved_conversation(org, customer_writes):
    conversation = org.conversation(PHONE)
    agent = org.member()
    ownership.claim(conversation, acting_member=agent)
    states.resolve(conversation, acting_member=agent, reason="Respondido")
    agent.refresh_from_db()
    assert agent.open_count == 0
    reopened = customer_writes(org, "Mais uma dúvida")
    assert reopened.pk == conversation.pk
    assert (reopened.status, reopened.resolved_at) == ("open", None)
    assert reopened.assignee == agent, "the same operator keeps it"
    agent.refresh_from_db()
    assert agent.open_count == 1, "recounted from the data"
    assert history(conversation)[-2:] == ["conversation.resolved", "conversation.reopened"]


@PATHS
@pytest.mark.parametrize(
    ("window_hours", "resolved_ago", "same"),
    [
        (168, timedelta(days=6, hours=23), True),
        (168, timedelta(days=7, minutes=1), False),
        (1, timedelta(minutes=59), True),
        (1, timedelta(minutes=61), False),
        (0, timedelta(seconds=1), False),
    ],
)
def test_past_the_reopen_window_a_new_conversation_starts(
    org, customer_writes, window_hours, resolved_ago, same
):
    org.org.reopen_window_hours = window_hours
    org.org.save(update_fields=["reopen_window_hours"])
    org.number.organization = org.org  # as the front door reads them together
    conversation = org.conversation(PHONE)
    states.resolve(conversation, acting_member=org.owner)
    Conversation.objects.filter(pk=conversation.pk).update(
        resolved_at=timezone.now() - resolved_ago
    )
    latest = customer_writes(org, "Oi de novo")
    assert (latest.pk == conversation.pk) is same
    assert latest.status == "open"
    conversation.refresh_from_db()
    assert conversation.status == ("open" if same else "resolved")
    assert Conversation.objects.filter(contact=conversation.contact).count() == (1 if same else 2)


@PATHS
def test_a_row_resolved_without_a_time_counts_from_its_last_message(org, customer_writes):
    conversation = org.conversation(PHONE)
    long_ago = timezone.now() - timedelta(days=30)
    Conversation.objects.filter(pk=conversation.pk).update(
        status="resolved", resolved_at=None, last_message_at=long_ago
    )
    assert customer_writes(org).pk != conversation.pk


def test_snoozed_conversations_wake_when_their_time_comes(org):
    soon, later, until_reply = (org.conversation(f"55119999900{n:02d}") for n in (1, 2, 3))
    now = timezone.now()
    states.snooze(soon, acting_member=org.owner, until=now + timedelta(minutes=5))
    states.snooze(later, acting_member=org.owner, until=now + timedelta(hours=5))
    states.snooze(until_reply, acting_member=org.owner)
    assert states.wake_snoozed(now + timedelta(minutes=10)) == 1
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses == {soon.pk: "open", later.pk: "snoozed", until_reply.pk: "snoozed"}
    assert history(soon) == ["conversation.snoozed", "conversation.woken"]
    assert states.wake_snoozed(now + timedelta(minutes=10)) == 0


def test_snoozing_into_the_past_is_refused(org):
    conversation = org.conversation()
    with pytest.raises(Conflict, match="future"):
        states.snooze(conversation, acting_member=org.owner, until=timezone.now() - timedelta(1))
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_priority_changes_are_in_the_history(org):
    conversation = org.conversation()
    states.set_priority(conversation, Conversation.Priority.URGENT, acting_member=org.owner)
    states.set_priority(conversation, Conversation.Priority.URGENT, acting_member=org.owner)
    with pytest.raises(Conflict):
        states.set_priority(conversation, 9, acting_member=org.owner)
    conversation.refresh_from_db()
    assert conversation.priority == Conversation.Priority.URGENT
    assert history(conversation) == ["conversation.priority_changed"]
    changed = OperationalEvent.objects.get(verb="conversation.priority_changed")
    assert changed.data == {"priority": 3, "previous": 1}


def test_a_person_reopening_keeps_the_newer_conversation_rule(org):
    old = org.conversation(PHONE)
    states.resolve(old, acting_member=org.owner)
    Conversation.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(30))
    new = one_at_a_time(org)
    assert new.pk != old.pk
    for change in (states.reopen, states.mark_pending, states.snooze):
        with pytest.raises(Conflict, match="newer open"):
            change(old, acting_member=org.owner)


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def test_states_and_priority_through_the_api(org, other_org):
    conversation = org.conversation()
    agent = org.client(org.member(Member.Role.AGENT))
    url = f"/api/conversations/{conversation.pk}"
    pending = post(agent, f"{url}/pending", {"reason": "Aguardando"})
    assert pending.status_code == 200 and pending.json()["status"] == "pending"
    until = (timezone.now() + timedelta(hours=3)).isoformat()
    snoozed = post(agent, f"{url}/snooze", {"until": until}).json()
    assert snoozed["status"] == "snoozed" and snoozed["snoozed_until"]
    naive = post(agent, f"{url}/snooze", {"until": "2099-01-01T10:00:00"})
    assert naive.status_code == 422 and naive.json()["error"] == "invalid"
    past = post(agent, f"{url}/snooze", {"until": "2000-01-01T10:00:00Z"})
    assert past.status_code == 422 and "future" in past.json()["errors"][0]["msg"]
    assert post(agent, f"{url}/snooze").json()["snoozed_until"] is None
    assert post(agent, f"{url}/priority", {"priority": 2}).json()["priority"] == 2
    assert post(agent, f"{url}/priority", {"priority": 7}).status_code == 422
    resolved = post(agent, f"{url}/resolve", {"reason": "ok"}).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    theirs = other_org.client()
    for action, body in (("pending", {}), ("snooze", {}), ("priority", {"priority": 0})):
        assert post(theirs, f"{url}/{action}", body).status_code == 404
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority) == ("resolved", 2)


def test_the_workers_pass_wakes_what_is_due(transactional_db, org):
    conversation = org.conversation("5511999990077")
    states.snooze(
        conversation, acting_member=org.owner, until=timezone.now() + timedelta(minutes=5)
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        snoozed_until=timezone.now() - timedelta(seconds=1)
    )
    Worker().run_once()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
