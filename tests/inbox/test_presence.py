"""Presence that works without thinking (conversa/inbox/presence.py): a member's availability
follows their sockets, a choice in the menu holds until they choose again or leave, idleness
turns them away, and leaving turns them offline after a grace period (a reload does not).
Sockets here are the rows the web processes keep, driven through the same functions the
socket layer calls; tests/integration/test_presence_processes.py drives real processes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent
from conversa.inbox import presence
from conversa.inbox.models import Conversation, Presence, Queue, Socket
from conversa.realtime import signals
from tests.inbox.conftest import history

pytestmark = pytest.mark.django_db


def availability(member: Member) -> str:
    return Member.objects.values_list("availability", flat=True).get(pk=member.pk)


def opens(member: Member, channel: str) -> None:
    presence.socket_opened(
        member_id=member.pk, organization_id=member.organization_id, channel_name=channel
    )


def closes(member: Member, channel: str) -> None:
    presence.socket_closed(member_id=member.pk, channel_name=channel)


def grace_passes(member: Member) -> bool:
    """The grace period is over (its start moved back past it), and the timer fires."""
    Presence.objects.filter(member=member, left_at__isnull=False).update(
        left_at=timezone.now() - timedelta(seconds=3600)
    )
    return presence.settle(member.pk)


def test_the_first_socket_makes_a_member_online_audited_and_announced(
    org, published_events, committed
):
    agent = org.member()
    assert availability(agent) == "offline"
    with committed():
        opens(agent, "chan-1")
    assert availability(agent) == "online"
    assert (org.org.pk, {"type": "OPERATOR_STATUS", "member_ids": [agent.pk]}) in published_events
    event = OperationalEvent.objects.get(verb="member.availability", object_id=agent.pk)
    assert event.data == {"availability": "online", "previous": "offline", "how": "connected"}
    assert event.actor is None and event.actor_label == "presence"


def test_a_reload_within_the_grace_period_does_not_go_offline(org):
    agent = org.member()
    opens(agent, "chan-1")
    closes(agent, "chan-1")  # the page reloads…
    assert not presence.settle(agent.pk), "settled before the grace period was over"
    opens(agent, "chan-2")  # …and its new socket connects
    assert not grace_passes(agent)
    assert availability(agent) == "online"


def test_with_sockets_on_two_tabs_closing_one_keeps_the_member_online(org):
    agent = org.member()
    opens(agent, "tab-1")
    opens(agent, "tab-2")
    closes(agent, "tab-1")
    assert not grace_passes(agent)
    assert availability(agent) == "online"
    closes(agent, "tab-2")
    assert grace_passes(agent)
    assert availability(agent) == "offline"


def test_leaving_takes_nothing_from_the_member(org, committed):
    queue = Queue.objects.create(
        organization=org.org, name="Suporte", distribution=Queue.Distribution.ROUND_ROBIN
    )
    queue.numbers.add(org.number)
    agent = org.member()
    queue.members.add(agent)
    opens(agent, "tab-1")
    with committed():
        conversation = org.conversation("5511911112222")
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == agent.pk
    closes(agent, "tab-1")
    assert grace_passes(agent)
    assert availability(agent) == "offline"
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == agent.pk


def test_coming_online_on_connect_takes_what_waits_in_the_queue(org, committed):
    queue = Queue.objects.create(
        organization=org.org, name="Suporte", distribution=Queue.Distribution.LEAST_LOAD
    )
    queue.numbers.add(org.number)
    agent = org.member()
    queue.members.add(agent)
    with committed():
        waiting = org.conversation("5511911113333")
    assert Conversation.objects.get(pk=waiting.pk).assignee_id is None, "nobody was online"
    with committed():
        opens(agent, "tab-1")
    assert Conversation.objects.get(pk=waiting.pk).assignee_id == agent.pk


def test_away_or_offline_chosen_holds_until_the_member_leaves(org):
    agent = org.member()
    opens(agent, "tab-1")
    presence.choose(agent, "away", acting_member=agent)
    assert availability(agent) == "away"
    opens(agent, "tab-2")  # a new tab, a reload: the choice holds
    presence.socket_idle(member_id=agent.pk, channel_name="tab-2", idle=False)
    assert availability(agent) == "away"
    closes(agent, "tab-1")
    closes(agent, "tab-2")
    assert grace_passes(agent)
    assert availability(agent) == "offline"
    opens(agent, "tab-3")  # the next visit starts online again
    assert availability(agent) == "online"
    verbs = [e.data["how"] for e in OperationalEvent.objects.filter(object_id=agent.pk)]
    assert verbs == ["connected", "chosen", "left", "connected"]


def test_online_chosen_holds_nothing(org):
    agent = org.member()
    opens(agent, "tab-1")
    presence.choose(agent, "offline", acting_member=agent)
    presence.choose(agent, "online", acting_member=agent)
    presence.socket_idle(member_id=agent.pk, channel_name="tab-1", idle=True)
    assert availability(agent) == "away", "the automatic rules apply again"


def test_idle_in_every_tab_turns_away_and_input_brings_the_member_back(org):
    agent = org.member()
    opens(agent, "tab-1")
    opens(agent, "tab-2")
    presence.socket_idle(member_id=agent.pk, channel_name="tab-1", idle=True)
    assert availability(agent) == "online", "one tab still has input"
    presence.socket_idle(member_id=agent.pk, channel_name="tab-2", idle=True)
    assert availability(agent) == "away"
    presence.socket_idle(member_id=agent.pk, channel_name="tab-1", idle=False)
    assert availability(agent) == "online"


def test_closing_the_only_active_tab_leaves_the_idle_ones_away(org):
    agent = org.member()
    opens(agent, "tab-1")
    opens(agent, "tab-2")
    presence.socket_idle(member_id=agent.pk, channel_name="tab-1", idle=True)
    closes(agent, "tab-2")
    assert availability(agent) == "away"


def test_with_online_on_connect_off_only_choices_change_it(org):
    agent = org.member()
    presence.set_preferences(agent, acting_member=agent, automatic=False)
    opens(agent, "tab-1")
    assert availability(agent) == "offline"
    presence.choose(agent, "online", acting_member=agent)
    presence.socket_idle(member_id=agent.pk, channel_name="tab-1", idle=True)
    closes(agent, "tab-1")
    grace_passes(agent)
    assert availability(agent) == "online"


def test_a_socket_no_process_renews_is_swept_and_its_member_goes_offline(org, settings):
    """A web process that dies closes nothing: its rows stop being renewed."""
    settings.PRESENCE_SOCKET_EXPIRY_SECONDS = 90
    settings.PRESENCE_GRACE_SECONDS = 60
    agent, other = org.member(), org.member()
    opens(agent, "dead-process-1")
    opens(other, "live-process-1")
    long_ago = timezone.now() - timedelta(seconds=200)
    Socket.objects.filter(channel_name="dead-process-1").update(last_seen=long_ago)
    presence.sockets_alive(channel_names=["live-process-1"])
    assert presence.sweep() == 1
    assert availability(agent) == "offline"
    assert availability(other) == "online"
    assert list(Socket.objects.values_list("channel_name", flat=True)) == ["live-process-1"]


def test_a_recently_dead_socket_waits_out_the_grace_from_when_it_was_last_seen(org, settings):
    settings.PRESENCE_SOCKET_EXPIRY_SECONDS = 90
    settings.PRESENCE_GRACE_SECONDS = 300
    agent = org.member()
    opens(agent, "dead-process-1")
    Socket.objects.update(last_seen=timezone.now() - timedelta(seconds=100))
    assert presence.sweep() == 0, "last seen 100 s ago: a 300 s grace is not over"
    assert not Socket.objects.exists()
    assert Presence.objects.get(member=agent).left_at < timezone.now() - timedelta(seconds=99)
    Presence.objects.filter(member=agent).update(left_at=timezone.now() - timedelta(seconds=301))
    assert presence.sweep() == 1
    assert availability(agent) == "offline"


def test_the_socket_layer_signals_reach_the_presence(org):
    agent = org.member()
    signals.socket_opened.send(
        sender=None, member_id=agent.pk, organization_id=org.org.pk, channel_name="sig-1"
    )
    assert availability(agent) == "online"
    signals.socket_idle.send(sender=None, member_id=agent.pk, channel_name="sig-1", idle=True)
    assert availability(agent) == "away"
    signals.socket_closed.send(sender=None, member_id=agent.pk, channel_name="sig-1")
    Presence.objects.filter(member=agent).update(left_at=timezone.now() - timedelta(hours=1))
    signals.grace_over.send(sender=None, member_id=agent.pk)
    assert availability(agent) == "offline"


def test_members_choose_only_their_own_availability(org, other_org):
    agent = org.member()
    with pytest.raises(Exception, match="own"):
        presence.choose(agent, "away", acting_member=org.owner)
    with pytest.raises(Exception):  # noqa: B017 - another organization's member: not found
        presence.choose(agent, "away", acting_member=other_org.owner)
    with pytest.raises(Exception, match="online, away or offline"):
        presence.choose(agent, "busy", acting_member=agent)
    assert availability(agent) == "offline"


def test_the_menu_chooses_and_redraws_itself(org):
    agent = org.member()
    client = org.client(agent)
    answer = client.post("/inbox/availability", {"availability": "away"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert 'data-availability="away"' in answer.content.decode()
    assert availability(agent) == "away"
    assert Presence.objects.get(member=agent).held == "away"
    again = client.post("/inbox/availability", {"availability": "online", "next": "/pipeline/"})
    assert again.status_code == 302 and again["Location"] == "/pipeline/"
    elsewhere = client.post(
        "/inbox/availability", {"availability": "online", "next": "https://evil.example/"}
    )
    assert elsewhere["Location"] == "/inbox/"
    refused = client.post("/inbox/availability", {"availability": "²"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    assert client.get("/inbox/availability").status_code == 200
    assert "member.availability" in history(agent)


def test_the_shell_shows_the_menu_with_the_current_state(org):
    page = org.client().get("/inbox/").content.decode()
    assert 'id="availability"' in page and 'data-availability="offline"' in page


def test_the_api_choice_holds_as_the_menus_does(org):
    agent = org.member()
    token = org.api_token(agent)
    answer = org.client(agent).post(
        "/api/operators/me/availability",
        {"availability": "offline"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 200, answer.content
    opens(agent, "tab-1")
    assert availability(agent) == "offline"
