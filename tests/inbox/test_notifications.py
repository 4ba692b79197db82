"""Notifications (conversa/inbox/notifications.py): a conversation handed to me, a customer's
message in one of mine, a mention of me in a note. Each reaches my own sockets only (never a
colleague's, never another organization's), unless I turned it off; the title's unread count
counts them until I open the conversation."""

import pytest

from conversa.accounts.models import Member
from conversa.inbox import notes, ownership, presence
from conversa.inbox.models import Mention, Queue
from conversa.realtime import publisher
from tests.inbox.conftest import history

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """Every group send after commit, as (group, payload): organizations' and members'."""
    heard: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        publisher, "_send_to", lambda group, payload: heard.append((group, payload))
    )
    return heard


def notices(sent, member: Member) -> list[dict]:
    return [p for g, p in sent if g == publisher.member_group(member.pk)]


def every_notice(sent) -> list[tuple[str, dict]]:
    return [(g, p) for g, p in sent if p["type"].startswith("NOTIFY_")]


def distributing_queue(org) -> tuple[Queue, Member]:
    queue = Queue.objects.create(
        organization=org.org, name="Suporte", distribution=Queue.Distribution.ROUND_ROBIN
    )
    queue.numbers.add(org.number)
    agent = org.member()
    queue.members.add(agent)
    Member.objects.filter(pk=agent.pk).update(availability="online")
    return queue, agent


def test_a_conversation_handed_to_me_notifies_me_alone(org, other_org, sent, committed):
    _, agent = distributing_queue(org)
    colleague = org.member()
    with committed():
        conversation = org.conversation("5511922223333")
    assert notices(sent, agent) == [
        {"type": "NOTIFY_ASSIGNED", "conversation_ids": [conversation.pk]}
    ]
    assert every_notice(sent) == [(f"member.{agent.pk}", notices(sent, agent)[0])]
    assert notices(sent, colleague) == [] and notices(sent, org.owner) == []
    assert not any(g == f"org.{other_org.org.pk}" for g, _ in sent)


def test_a_message_in_my_conversation_notifies_me_and_not_its_first_handing(org, sent, committed):
    _, agent = distributing_queue(org)
    with committed():
        conversation = org.conversation("5511922224444")
    sent.clear()
    with committed():
        org.customer_writes("5511922224444", "mais uma coisa")
    assert notices(sent, agent) == [
        {"type": "NOTIFY_MESSAGE", "conversation_ids": [conversation.pk]}
    ]


def test_claiming_notifies_nobody_and_a_supervisors_assignment_notifies_the_assignee(
    org, sent, committed
):
    agent = org.member()
    conversation = org.conversation("5511922225555")
    with committed():
        ownership.claim(conversation, acting_member=agent)
    assert every_notice(sent) == []
    other = org.member()
    with committed():
        ownership.assign(conversation, other, acting_member=org.owner)
    assert every_notice(sent) == [
        (f"member.{other.pk}", {"type": "NOTIFY_ASSIGNED", "conversation_ids": [conversation.pk]})
    ]


def test_each_kind_can_be_turned_off(org, sent, committed):
    _, agent = distributing_queue(org)
    presence.set_preferences(
        agent, acting_member=agent, notify_assigned=False, notify_messages=False
    )
    with committed():
        org.conversation("5511922226666")
        org.customer_writes("5511922226666", "de novo")
    assert every_notice(sent) == []


def test_a_mention_is_stored_and_notifies_whoever_it_names(org, other_org, sent, committed):
    ana = org.member(Member.Role.SUPERVISOR)
    Member.objects.filter(pk=ana.pk).update(display_name="Ana Souza")
    anabel = org.member(Member.Role.SUPERVISOR)
    Member.objects.filter(pk=anabel.pk).update(display_name="Ana")
    namesake = other_org.member(Member.Role.SUPERVISOR)
    Member.objects.filter(pk=namesake.pk).update(display_name="Ana Souza")
    conversation = org.conversation("5511922227777")
    with committed():
        note = notes.add_note(
            conversation, "@ana souza, pode ver? e-mail bob@ana.com", acting_member=org.owner
        )
    assert list(Mention.objects.filter(note=note).values_list("member_id", flat=True)) == [ana.pk]
    assert every_notice(sent) == [
        (f"member.{ana.pk}", {"type": "NOTIFY_MENTION", "conversation_ids": [conversation.pk]})
    ]


def test_a_mention_skips_the_author_and_an_agent_outside_the_conversations_queue(org, committed):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    queue.numbers.add(org.number)
    outsider, insider = org.member(), org.member()
    queue.members.add(insider)
    conversation = org.conversation("5511922228888")
    assert conversation.queue_id == queue.pk
    text = f"@{outsider.display_name} @{insider.display_name} @{org.owner.display_name}"
    note = notes.add_note(conversation, text, acting_member=org.owner)
    assert list(Mention.objects.filter(note=note).values_list("member_id", flat=True)) == [
        insider.pk
    ]


def test_the_unread_count_counts_my_unread_conversations_and_mentions_until_opened(org):
    _, agent = distributing_queue(org)
    client = org.client(agent)
    assert client.get("/inbox/unread").json() == {"unread": 0, "sound": True}
    conversation = org.conversation("5511922229999")
    notes.add_note(conversation, f"@{agent.display_name} olha", acting_member=org.owner)
    assert client.get("/inbox/unread").json()["unread"] == 2
    assert client.get(f"/inbox/c/{conversation.pk}/").status_code == 200
    assert client.get("/inbox/unread").json()["unread"] == 0
    presence.set_preferences(agent, acting_member=agent, notify_sound=False)
    assert client.get("/inbox/unread").json() == {"unread": 0, "sound": False}


def test_the_notifications_page_saves_my_preferences(org):
    agent = org.member()
    client = org.client(agent)
    page = client.get("/settings/notifications/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="notify_mentions" checked' in body and 'name="automatic" checked' in body
    saved = client.post("/settings/notifications/", {"notify_assigned": "on", "automatic": "on"})
    assert saved.status_code == 302 and saved["Location"].endswith("?saved=1")
    mine = presence.presence_of(agent)
    assert mine.notify_assigned and mine.automatic
    assert not (mine.notify_messages or mine.notify_mentions or mine.notify_sound)
    assert presence.presence_of(org.owner).notify_messages, "another member's stayed as it was"
    assert "member.preferences" in history(agent)


def test_the_notifications_page_in_portuguese(org):
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    body = client.get("/settings/notifications/").content.decode()
    assert "Notificações" in body and "Tocar um som" in body
