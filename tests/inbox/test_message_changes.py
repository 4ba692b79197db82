"""Reactions, edits and revokes applied to the message they concern; messages typed on the
business's phone; the echo of a send of ours. Events are built as the parsers make them and
go through the inbound apply path (`inbound.services.apply_events`), as a webhook's do."""

import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from conversa.accounts.models import OperationalEvent
from conversa.engine import jobs
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob
from conversa.inbound import services
from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, ContactIdentity, Conversation, Message
from conversa.providers.base import (
    IdentityUpdate,
    InboundMessage,
    MessageChange,
    ParsedEvent,
    SendResult,
)
from conversa.providers.models import ProviderEvent
from tests.inbox.conftest import queue_with_operator

PHONE = "5511988887777"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def key(event) -> str:
    return type(event).__name__ + ":" + hashlib.sha256(repr(event).encode()).hexdigest()[:40]


def deliver(number, *events, bulk: bool = True) -> list[bool]:
    """The events as one webhook's (bulk), or each alone (the one-at-a-time path)."""
    items = [(number, ParsedEvent(event=e, dedupe_key=key(e), raw={})) for e in events]
    if bulk:
        return services.apply_events(items)
    return [services.apply_event(number, item) for _, item in items]


def customer(
    message_id="M1", body="Oi", minutes=0, phone=PHONE, kind="text", **fields
) -> InboundMessage:
    return InboundMessage(
        provider_message_id=message_id,
        phone=phone,
        name="Maria",
        kind=kind,
        body=body,
        timestamp=at(minutes),
        **fields,
    )


def reaction(target="M1", emoji="👍", minutes=1, from_me=False) -> MessageChange:
    return MessageChange(
        provider_message_id=target,
        change="reaction",
        phone=PHONE,
        emoji=emoji,
        from_me=from_me,
        timestamp=at(minutes),
    )


def edit(target="M1", body="Oi, tudo bem?", minutes=2) -> MessageChange:
    return MessageChange(
        provider_message_id=target, change="edit", phone=PHONE, body=body, timestamp=at(minutes)
    )


def revoke(target="M1", minutes=3) -> MessageChange:
    return MessageChange(
        provider_message_id=target, change="revoke", phone=PHONE, timestamp=at(minutes)
    )


def phone_message(message_id="P1", body="Bom dia, aqui é a loja", minutes=0) -> InboundMessage:
    return InboundMessage(
        provider_message_id=message_id,
        phone=PHONE,
        name="Loja (the business's own name)",
        kind="text",
        body=body,
        timestamp=at(minutes),
        from_me=True,
    )


def message(message_id="M1") -> Message:
    return Message.objects.get(provider_message_id=message_id)


def waiting() -> list[str]:
    return list(
        ProviderEvent.objects.filter(kind="MessageChange", processed_at__isnull=True)
        .order_by("id")
        .values_list("provider_message_id", flat=True)
    )


# Reactions


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_a_reaction_is_shown_on_its_message_and_is_not_a_message(
    org, bulk, published_events, committed
):
    with committed():
        deliver(org.number, customer(), bulk=bulk)
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.RESOLVED, unread_count=0
    )
    published_events.clear()

    with committed():
        assert deliver(org.number, reaction(), bulk=bulk) == [True]

    assert message().reactions == {"customer": "👍"}
    assert Message.objects.count() == 1
    conversation.refresh_from_db()
    # Not a customer's message: nothing unread, the resolved conversation stays resolved.
    assert (conversation.status, conversation.unread_count) == ("resolved", 0)
    assert published_events == [
        (
            org.org.pk,
            {
                "type": "MESSAGE_CHANGED",
                "conversation_ids": [conversation.pk],
                "message_ids": [message().pk],
            },
        )
    ]
    assert waiting() == []


def test_removing_a_reaction_removes_it_and_each_side_has_its_own(org):
    deliver(org.number, customer())
    deliver(org.number, reaction(emoji="👍", minutes=1))
    deliver(org.number, reaction(emoji="❤️", minutes=2, from_me=True))
    assert message().reactions == {"customer": "👍", "business": "❤️"}

    deliver(org.number, reaction(emoji="", minutes=3))

    assert message().reactions == {"business": "❤️"}


def test_the_latest_reaction_wins_whatever_the_order_they_came_in(org):
    deliver(org.number, customer())
    deliver(org.number, reaction(emoji="", minutes=5), reaction(emoji="😂", minutes=4))
    deliver(org.number, reaction(emoji="👍", minutes=1))

    assert message().reactions == {}


def test_a_reaction_to_a_message_of_ours_shows_on_it(org):
    conversation = org.conversation(PHONE)
    ours = inbox.new_outbound_message(conversation, "Seu pedido saiu", acting_member=org.owner)
    inbox.record_sends([(ours, "OUT1")])

    deliver(org.number, reaction(target="OUT1", emoji="🙏"))

    ours.refresh_from_db()
    assert ours.reactions == {"customer": "🙏"}


# Edits and revokes


def test_an_edit_replaces_the_body_and_keeps_the_earlier_text(org):
    deliver(org.number, customer(body="Oi"))

    deliver(org.number, edit(body="Oi, tudo bem?", minutes=2))

    edited = message()
    assert edited.body == "Oi, tudo bem?"
    assert edited.edited_at == at(2)
    assert edited.history == [{"body": "Oi", "at": at(0).isoformat()}]
    assert edited.conversation.unread_count == 1


def test_edits_in_any_order_end_the_same(org):
    deliver(org.number, customer(body="v0"))
    deliver(org.number, edit(body="v2", minutes=2))
    deliver(org.number, edit(body="v1", minutes=1))

    edited = message()
    assert edited.body == "v2"
    assert [entry["body"] for entry in edited.history] == ["v0", "v1"]
    assert edited.edited_at == at(2)


def test_a_revoke_marks_it_deleted_and_keeps_the_body_for_the_audit(org):
    deliver(org.number, customer(body="meu CPF é 123"))

    deliver(org.number, revoke(minutes=3))
    deliver(org.number, revoke(minutes=4))  # said twice (two event shapes): one audit entry

    deleted = message()
    assert deleted.deleted_at == at(3)
    assert deleted.body == "meu CPF é 123"
    assert Message.objects.count() == 1
    verbs = OperationalEvent.objects.filter(object_type="message", object_id=deleted.pk)
    assert list(verbs.values_list("verb", flat=True)) == ["message.deleted"]


# Changes that come before their message


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_changes_before_their_message_wait_and_apply_when_it_is_stored(org, bulk):
    deliver(org.number, reaction(), edit(body="edited"), bulk=bulk)
    assert not Message.objects.exists()
    assert waiting() == ["M1", "M1"]

    deliver(org.number, customer(body="original"), bulk=bulk)

    stored = message()
    assert (stored.body, stored.reactions) == ("edited", {"customer": "👍"})
    assert stored.history == [{"body": "original", "at": at(0).isoformat()}]
    assert waiting() == []
    assert stored.conversation.unread_count == 1


def test_a_change_in_the_same_webhook_as_its_message_applies(org):
    deliver(org.number, reaction(), customer(), customer("M2", phone="5511977776666"))

    assert message().reactions == {"customer": "👍"}
    assert waiting() == []


def test_a_reaction_before_our_send_is_recorded_applies_when_it_is(org):
    conversation = org.conversation(PHONE)
    ours = inbox.new_outbound_message(conversation, "Seu pedido saiu", acting_member=org.owner)
    deliver(org.number, reaction(target="OUT1", emoji="🙏"))
    assert waiting() == ["OUT1"]

    inbox.record_sends([(ours, "OUT1")])
    inbox.apply_early_statuses([(org.number, "OUT1")])

    ours.refresh_from_db()
    assert ours.reactions == {"customer": "🙏"}
    assert waiting() == []


# Content


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_content_and_reply_to_are_stored(org, bulk):
    location = {"latitude": -23.5, "longitude": -46.6, "name": "Loja", "address": "Rua A"}
    deliver(
        org.number,
        customer(kind="location", body="Loja, Rua A", content=location, reply_to="OUT9"),
        bulk=bulk,
    )

    stored = message()
    assert (stored.kind, stored.content, stored.reply_to) == ("location", location, "OUT9")


# Messages typed on the business's phone


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_a_phone_message_is_outbound_sent_from_the_phone(org, bulk, published_events, committed):
    with committed():
        deliver(org.number, customer())
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.RESOLVED, unread_count=0
    )
    published_events.clear()

    with committed():
        assert deliver(org.number, phone_message(minutes=5), bulk=bulk) == [True]

    sent = message("P1")
    assert (sent.direction, sent.status, sent.sent_from_phone) == ("out", "sent", True)
    assert sent.sender is None
    assert sent.conversation_id == conversation.pk
    assert not ExecutionJob.objects.exists()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.unread_count) == ("resolved", 0)
    # The business's own push name is not the customer's.
    assert Contact.objects.get().name == "Maria"
    assert [payload["type"] for _, payload in published_events] == ["MESSAGE_SENT"]


def test_a_phone_message_to_someone_new_starts_their_conversation(org):
    deliver(org.number, phone_message())

    sent = message("P1")
    assert sent.conversation.contact.phone == PHONE
    assert sent.conversation.contact.name == ""
    assert sent.conversation.unread_count == 0


def test_a_phone_message_to_a_linked_id_only_contact(org):
    lid_only = InboundMessage(
        provider_message_id="P2",
        phone="",
        lid="123456789@lid",
        name="",
        kind="text",
        body="oi",
        from_me=True,
    )
    deliver(org.number, lid_only)
    deliver(
        org.number,
        InboundMessage(
            provider_message_id="P3",
            phone="",
            lid="123456789@lid",
            name="",
            kind="text",
            body="de novo",
            from_me=True,
        ),
    )

    assert Contact.objects.count() == 1
    assert ContactIdentity.objects.get().value == "123456789@lid"
    assert Conversation.objects.count() == 1


class Provider:
    def send_text(self, number, phone, body, reference):
        return SendResult(provider_message_id=f"PID-{reference}")


def test_the_echo_of_our_own_send_stores_nothing(org, monkeypatch):
    monkeypatch.setattr(engine, "get_provider", lambda number: Provider())
    engine.reply(org.conversation(PHONE), "Seu pedido saiu", acting_member=org.owner)
    (job_id,) = jobs.claim_batch("w1", 10)
    assert engine.execute_job(job_id, "w1") == ExecutionJob.Status.SENT
    sent_id = ExecutionJob.objects.get(pk=job_id).provider_message_id

    assert deliver(org.number, phone_message(message_id=sent_id, body="Seu pedido saiu")) == [True]

    assert Message.objects.filter(direction="out").count() == 1
    ours = Message.objects.get(provider_message_id=sent_id)
    assert (ours.sender, ours.sent_from_phone) == (org.owner, False)


def test_an_echo_before_our_send_is_recorded_ends_as_one_row(org):
    """The echo's webhook beat the provider's answer to our send: the send takes its place,
    with what the echo gathered meanwhile (a delivery, a reaction)."""
    engine.reply(org.conversation(PHONE), "Seu pedido saiu", acting_member=org.owner)
    (job_id,) = jobs.claim_batch("w1", 10)
    job = ExecutionJob.objects.select_related("message", "number", "intent").get(pk=job_id)
    jobs.transition(job, ExecutionJob.Status.SENDING)
    deliver(org.number, phone_message(message_id="ECHO1", body="Seu pedido saiu"))
    echo = message("ECHO1")
    assert echo.sent_from_phone
    inbox.advance_status(echo, Message.Status.DELIVERED)
    deliver(org.number, reaction(target="ECHO1", emoji="❤️"))

    engine.mark_sent([(job, "ECHO1")])

    ours = message("ECHO1")
    assert ours.pk == job.message_id
    assert (ours.sender, ours.sent_from_phone) == (org.owner, False)
    assert (ours.status, ours.reactions) == ("delivered", {"customer": "❤️"})
    assert Message.objects.filter(direction="out").count() == 1


# Identity


def test_a_number_change_moves_the_contact_to_its_new_number(org):
    deliver(org.number, customer())

    deliver(
        org.number,
        IdentityUpdate(phone=PHONE, new_phone="5511911112222", reason="number_changed"),
    )

    contact = Contact.objects.get()
    assert contact.phone == "5511911112222"
    assert OperationalEvent.objects.filter(verb="contact.number_changed").count() == 1


# Replays


def replay(org, events, rounds=3, seed=0) -> None:
    """Every event three times, shuffled, each alone or in small webhooks."""
    rng = random.Random(seed)
    for _ in range(rounds):
        order = list(events)
        rng.shuffle(order)
        while order:
            size = rng.randint(1, 3)
            deliver(org.number, *order[:size], bulk=rng.random() < 0.5)
            order = order[size:]


@pytest.mark.parametrize("seed", range(4))
def test_replayed_three_times_in_any_order_one_row_each_and_the_same_end(org, seed):
    events = [
        customer("M1", body="v0"),
        reaction("M1", emoji="👍", minutes=1),
        reaction("M1", emoji="😮", minutes=2),
        edit("M1", body="v1", minutes=3),
        edit("M1", body="v2", minutes=4),
        customer("M2", body="apaga isso", minutes=5),
        revoke("M2", minutes=6),
        phone_message("P1", body="da loja", minutes=7),
        reaction("P1", emoji="🙏", minutes=8),
        edit("P1", body="da loja, editado", minutes=9),
    ]
    replay(org, events, seed=seed)

    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == [
        "M1",
        "M2",
        "P1",
    ]
    first = message("M1")
    assert (first.body, first.reactions) == ("v2", {"customer": "😮"})
    assert [entry["body"] for entry in first.history] == ["v0", "v1"]
    assert message("M2").deleted_at == at(6)
    phone = message("P1")
    assert (phone.direction, phone.body, phone.reactions) == (
        "out",
        "da loja, editado",
        {"customer": "🙏"},
    )
    assert Conversation.objects.get().unread_count == 2
    assert ProviderEvent.objects.count() == len(events)
    assert waiting() == []


@pytest.mark.parametrize("echo_first", [True, False], ids=["echo-first", "send-first"])
def test_an_echo_replayed_around_our_send_ends_as_one_row(org, echo_first):
    engine.reply(org.conversation(PHONE), "Seu pedido saiu", acting_member=org.owner)
    (job_id,) = jobs.claim_batch("w1", 10)
    job = ExecutionJob.objects.select_related("message", "number", "intent").get(pk=job_id)
    jobs.transition(job, ExecutionJob.Status.SENDING)
    echo = phone_message(message_id="ECHO2", body="Seu pedido saiu")
    if echo_first:
        replay(org, [echo], rounds=3)
    engine.mark_sent([(job, "ECHO2")])
    replay(org, [echo, reaction("ECHO2", emoji="👍")], rounds=3)

    ours = message("ECHO2")
    assert ours.pk == job.message_id
    assert (ours.status, ours.sent_from_phone, ours.reactions) == (
        "sent",
        False,
        {"customer": "👍"},
    )
    assert Message.objects.filter(direction="out").count() == 1


def test_a_phone_message_is_not_handed_to_an_operator_but_a_customers_is(org):
    queue, operator = queue_with_operator(org, capacity=5)
    queue.numbers.add(org.number)

    deliver(org.number, phone_message())
    assert Conversation.objects.get().assignee_id is None

    deliver(org.number, customer())
    assert Conversation.objects.get().assignee_id == operator.pk


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_a_change_waiting_on_another_number_under_the_same_id_stays_there(org, other_org, bulk):
    """Early changes are read by the message's id alone (`ProviderEventQuerySet.about`): one
    that another number holds under the same id is that number's, whoever stores the id first."""
    deliver(other_org.number, reaction(emoji="😡"), bulk=bulk)
    deliver(org.number, reaction(), bulk=bulk)

    deliver(org.number, customer(), bulk=bulk)

    assert message().reactions == {"customer": "👍"}
    assert waiting() == ["M1"]
    assert ProviderEvent.objects.get(processed_at__isnull=True).number == other_org.number
