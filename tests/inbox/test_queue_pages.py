"""Inbox settings › Queues: the pages that create, change and delete queues and operators'
capacity through `inbox/queues.py`, a refusal shown on its field."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.inbox import deadlines, queues
from conversa.inbox.models import Conversation, Queue
from tests.inbox.test_queues import events

QUEUES = "/inbox/settings/queues"


def form(**fields) -> dict:
    return {
        "name": "Vendas",
        "distribution": "off",
        "first_response_minutes": "",
        "resolution_minutes": "",
        **fields,
    }


def test_an_agent_gets_a_403_everywhere(org):
    queue = queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    agent = org.client(org.member())
    for url in (QUEUES, f"{QUEUES}/new", f"{QUEUES}/{queue.pk}"):
        assert agent.get(url).status_code == 403, url
    assert agent.post(f"{QUEUES}/new", form(name="Outra")).status_code == 403
    assert agent.post(f"{QUEUES}/{queue.pk}/delete").status_code == 403
    assert list(Queue.objects.values_list("name", flat=True)) == ["Vendas"]


@pytest.mark.parametrize("role", [Member.Role.OWNER, Member.Role.ADMIN, Member.Role.SUPERVISOR])
def test_owners_admins_and_supervisors_see_the_tab_and_its_pages(org, role):
    client = org.client(org.member(role))
    tags = client.get("/inbox/settings/tags").content.decode()
    assert f'href="{QUEUES}"' in tags
    assert client.get(QUEUES).status_code == 200
    assert client.get(f"{QUEUES}/new").status_code == 200


def test_the_empty_list_says_what_a_queue_is(org):
    html = org.client().get(QUEUES).content.decode()
    assert "No queues yet" in html and f'href="{QUEUES}/new"' in html


def test_the_list_shows_members_load_numbers_rule_targets_and_breaches(org):
    ana = org.member()
    ana.availability, ana.capacity = "online", 5
    ana.save()
    queue = queues.create_queue(
        org.org,
        acting_member=org.owner,
        name="<i>Vendas</i>",
        member_ids=[ana.pk],
        number_ids=[org.number.pk],
        distribution="round_robin",
        first_response_minutes=90,
        resolution_minutes=480,
    )
    late = org.conversation()
    assert late.assignee == ana  # round robin, the only one online
    Conversation.objects.filter(pk=late.pk).update(
        first_response_due_at=timezone.now() - timedelta(minutes=1)
    )
    html = org.client().get(QUEUES).content.decode()
    assert "&lt;i&gt;Vendas&lt;/i&gt;" in html and "<i>Vendas</i>" not in html
    assert f'id="queue-{queue.pk}"' in html
    assert ana.display_name in html and "presence-online" in html and "1/5" in html
    assert org.number.name in html and "Round robin" in html
    assert "First response 1 h 30 min" in html and "Resolution 8 h" in html
    assert "1 breached" in html


def test_a_number_in_an_older_queue_says_where_its_conversations_go(org):
    queues.create_queue(
        org.org, acting_member=org.owner, name="Atendimento", number_ids=[org.number.pk]
    )
    queues.create_queue(org.org, acting_member=org.owner, name="Vendas", number_ids=[org.number.pk])
    html = org.client().get(QUEUES).content.decode()
    assert "new ones go to Atendimento" in html
    form_html = org.client().get(f"{QUEUES}/new").content.decode()
    assert "new conversations go to “Atendimento”" in form_html
    assert "first queue" in form_html


def test_a_queue_is_created_from_the_form(org):
    ana = org.member()
    response = org.client().post(
        f"{QUEUES}/new",
        form(
            name="Vendas",
            members=[str(ana.pk)],
            numbers=[str(org.number.pk)],
            distribution="least_load",
            first_response_minutes="30",
            resolution_minutes="",
        ),
    )
    assert response.status_code == 302 and response["Location"] == QUEUES
    queue = Queue.objects.get(organization=org.org)
    assert (queue.name, queue.distribution) == ("Vendas", "least_load")
    assert (queue.first_response_minutes, queue.resolution_minutes) == (30, None)
    assert list(queue.members.all()) == [ana] and list(queue.numbers.all()) == [org.number]


def test_a_taken_name_is_shown_on_the_form_with_what_was_typed(org):
    queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    ana = org.member()
    response = org.client().post(
        f"{QUEUES}/new", form(name="vendas", members=[str(ana.pk)], first_response_minutes="45")
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="name-error"' in html and "A queue named “vendas” exists." in html
    assert 'value="vendas"' in html and 'value="45"' in html
    assert f'value="{ana.pk}" checked' in html
    assert Queue.objects.count() == 1


def test_minutes_that_are_not_a_number_are_shown_on_their_field(org):
    response = org.client().post(
        f"{QUEUES}/new", form(first_response_minutes="abc", resolution_minutes="0")
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="first-response-error"' in html and "whole number of minutes" in html
    assert not Queue.objects.exists()


def test_a_queue_is_edited_with_its_members_capacities_and_targets(org):
    ana, bruno = org.member(), org.member()
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", member_ids=[ana.pk]
    )
    client = org.client()
    page = client.get(f"{QUEUES}/{queue.pk}").content.decode()
    assert f'value="{ana.pk}" checked' in page and f'value="{bruno.pk}" checked' not in page
    assert f'name="capacity_{ana.pk}" value="10"' in page
    response = client.post(
        f"{QUEUES}/{queue.pk}",
        form(
            name="Vendas",
            members=[str(bruno.pk)],
            distribution="round_robin",
            first_response_minutes="20",
            resolution_minutes="240",
            **{f"capacity_{bruno.pk}": "4", f"capacity_{ana.pk}": "10"},
        ),
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    bruno.refresh_from_db()
    assert list(queue.members.all()) == [bruno] and queue.distribution == "round_robin"
    assert (queue.first_response_minutes, queue.resolution_minutes) == (20, 240)
    assert bruno.capacity == 4
    assert [e.object_id for e in events("member.capacity_changed")] == [bruno.pk]


def test_a_bad_capacity_saves_nothing_of_the_form(org):
    ana = org.member()
    queue = queues.create_queue(org.org, acting_member=org.owner, name="Vendas")
    response = org.client().post(
        f"{QUEUES}/{queue.pk}",
        form(name="Novo nome", **{f"capacity_{ana.pk}": "lots"}),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="capacity-error-{ana.pk}"' in html and "Novo nome" in html
    queue.refresh_from_db()
    assert queue.name == "Vendas"


def test_another_organizations_ids_in_the_form_are_refused_on_their_field(org, other_org):
    theirs = other_org.member()
    client = org.client()
    response = client.post(f"{QUEUES}/new", form(members=[str(theirs.pk)]))
    assert response.status_code == 422
    assert "Choose operators of this organization." in response.content.decode()
    response = client.post(f"{QUEUES}/new", form(numbers=[str(other_org.number.pk), "x"]))
    assert response.status_code == 422
    assert "Choose numbers of this organization." in response.content.decode()
    # A capacity field named after another organization's member is ignored.
    response = client.post(f"{QUEUES}/new", form(**{f"capacity_{theirs.pk}": "1"}))
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.capacity == 10
    assert list(Queue.objects.values_list("organization", flat=True)) == [org.org.pk]


def test_another_organizations_queues_are_out_of_sight_and_reach(org, other_org):
    theirs = queues.create_queue(other_org.org, acting_member=other_org.owner, name="Segredo")
    client = org.client()
    assert "Segredo" not in client.get(QUEUES).content.decode()
    assert client.get(f"{QUEUES}/{theirs.pk}").status_code == 404
    assert client.post(f"{QUEUES}/{theirs.pk}", form(name="Meu")).status_code == 404
    assert client.post(f"{QUEUES}/{theirs.pk}/delete").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Segredo"
    # Its members and numbers are not offered on this organization's form.
    page = client.get(f"{QUEUES}/new").content.decode()
    assert other_org.owner.display_name not in page and other_org.number.name not in page


def test_a_queue_is_deleted_with_a_confirmation_and_its_conversations_stay(org):
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", number_ids=[org.number.pk]
    )
    conversation = org.conversation()
    client = org.client()
    html = client.get(QUEUES).content.decode()
    assert "Its 1 open conversation stays, in no queue" in html
    assert f"{QUEUES}/{queue.pk}/delete" in html
    assert client.get(f"{QUEUES}/{queue.pk}/delete").status_code == 405
    assert client.post(f"{QUEUES}/{queue.pk}/delete").status_code == 302
    assert not Queue.objects.exists()
    assert Conversation.objects.get(pk=conversation.pk).queue is None


def test_breached_counts_come_from_the_deadlines_service(org):
    # The list's count is `deadlines.breached_counts`, not a second definition of "breached".
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", number_ids=[org.number.pk]
    )
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(
        resolution_due_at=timezone.now() - timedelta(minutes=5)
    )
    assert deadlines.breached_counts(org.org) == {queue.pk: 1}
    assert "1 breached" in org.client().get(QUEUES).content.decode()
