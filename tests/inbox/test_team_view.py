"""The supervisors' team view (/inbox/team): who is online, away or offline, open
conversations against capacity, and each queue's oldest waiting conversation; only the
organization's own, only for supervisors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.inbox.models import Conversation, Queue

pytestmark = pytest.mark.django_db


def test_supervisors_see_the_team_and_the_oldest_waiting_per_queue(org, other_org):
    queue = Queue.objects.create(organization=org.org, name="Suporte")
    queue.numbers.add(org.number)
    agent = org.member()
    queue.members.add(agent)
    Member.objects.filter(pk=agent.pk).update(availability="online", open_count=3, capacity=5)
    older = org.conversation("5511933334444")
    org.conversation("5511933335555")
    Conversation.objects.filter(pk=older.pk).update(opened_at=timezone.now() - timedelta(hours=3))
    other_org.member()
    Member.objects.filter(organization=other_org.org).update(display_name="Someone Else")

    supervisor = org.member(Member.Role.SUPERVISOR)
    page = org.client(supervisor).get("/inbox/team")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-member="{agent.pk}" data-availability="online"' in body
    assert "3 of 5 open" in body
    assert "2 waiting" in body and f'data-oldest="{older.pk}"' in body
    assert "Someone Else" not in body
    assert "1 operator online" in body
    fragment = org.client(supervisor).get("/inbox/team?fragment=1", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()


def test_conversations_in_no_queue_are_shown_waiting_too(org):
    org.conversation("5511933336666")
    body = org.client().get("/inbox/team").content.decode()
    assert "No queue" in body and "1 waiting" in body


def test_an_empty_team_view_says_what_to_do(org):
    body = org.client().get("/inbox/team").content.decode()
    assert "No queues yet" in body and "Set up queues" in body


def test_agents_do_not_see_the_team_view_nor_its_link(org):
    agent = org.member()
    client = org.client(agent)
    assert client.get("/inbox/team").status_code == 403
    assert "data-team-link" not in client.get("/inbox/").content.decode()
    assert "data-team-link" in org.client().get("/inbox/").content.decode()


def test_the_team_view_in_portuguese(org):
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    body = client.get("/inbox/team").content.decode()
    assert "Equipe" in body and "Esperando nas filas" in body
