"""Queues and operators' capacity: the services that create, change and delete them (every
refusal before anything is saved, every change in the history) and the settings pages that
call them, for owners, admins and supervisors, within the organization."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent
from conversa.inbox import deadlines, queues
from conversa.inbox.models import Conversation, Queue
from conversa.inbox.teamwork import Refused
from conversa.instances.models import Instance
from conversa.realtime import publisher


@pytest.fixture
def published(monkeypatch):
    """The realtime events sent after commit, as (organization id, payload)."""
    sent = []
    monkeypatch.setattr(publisher, "_send", lambda org_id, payload: sent.append((org_id, payload)))
    return sent


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Within it, what waits for the commit runs at its end (the test's transaction never
    commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def events(verb: str) -> list[OperationalEvent]:
    return list(OperationalEvent.objects.filter(verb=verb))


def number_of(org, n: int = 2) -> Instance:
    return Instance.objects.create(
        organization=org.org,
        name=f"Extra {n}",
        provider=Instance.Provider.SANDBOX,
        provider_name=f"extra-{org.org.pk}-{n}",
        phone_number=f"551190000{org.org.pk:02d}{n:02d}",
    )


# Services


def test_a_queue_is_created_with_members_numbers_rule_and_targets(org):
    ana = org.member()
    queue = queues.create_queue(
        org.org,
        by=org.owner,
        name="  Suporte   N1 ",
        member_ids=[ana.pk, org.owner.pk],
        number_ids=[org.instance.pk],
        distribution=Queue.Distribution.LEAST_LOAD,
        first_response_minutes=30,
        resolution_minutes=480,
    )
    queue.refresh_from_db()
    assert queue.name == "Suporte N1"
    assert set(queue.members.all()) == {ana, org.owner}
    assert list(queue.numbers.all()) == [org.instance]
    assert queue.distribution == Queue.Distribution.LEAST_LOAD
    assert (queue.first_response_minutes, queue.resolution_minutes) == (30, 480)
    [created] = events("queue.created")
    assert created.actor == org.owner and created.object_id == queue.pk
    assert created.data["member_ids"] == sorted([ana.pk, org.owner.pk])
    assert len(events("queue.sla_changed")) == 1


def test_a_queue_without_targets_records_no_sla_change(org):
    queues.create_queue(org.org, by=org.owner, name="Vendas")
    assert not events("queue.sla_changed")
    assert Queue.objects.get().first_response_minutes is None


def test_new_conversations_of_its_number_get_its_due_times(org):
    queues.create_queue(
        org.org,
        by=org.owner,
        name="Vendas",
        number_ids=[org.instance.pk],
        first_response_minutes=15,
    )
    conversation = org.conversation()
    assert conversation.queue.name == "Vendas"
    assert conversation.first_response_due_at is not None
    assert conversation.resolution_due_at is None


@pytest.mark.parametrize("name", ["Vendas", "vendas", " VENDAS "])
def test_a_taken_name_in_any_case_is_refused_with_409(org, name):
    queues.create_queue(org.org, by=org.owner, name="Vendas")
    with pytest.raises(queues.FieldRefused) as refused:
        queues.create_queue(org.org, by=org.owner, name=name)
    assert (refused.value.field, refused.value.status) == ("name", 409)
    assert "exists" in str(refused.value)
    assert Queue.objects.count() == 1


def test_the_same_name_is_fine_in_another_organization(org, other_org):
    queues.create_queue(org.org, by=org.owner, name="Vendas")
    queues.create_queue(other_org.org, by=other_org.owner, name="Vendas")
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
    with pytest.raises(queues.FieldRefused) as refused:
        queues.create_queue(org.org, by=org.owner, **{"name": "Vendas", **fields})
    assert refused.value.field == field
    assert not Queue.objects.exists() and not events("queue.created")


def test_another_organizations_member_or_number_is_refused(org, other_org):
    theirs = other_org.member()
    with pytest.raises(queues.FieldRefused) as refused:
        queues.create_queue(org.org, by=org.owner, name="Vendas", member_ids=[theirs.pk])
    assert refused.value.field == "members"
    with pytest.raises(queues.FieldRefused) as refused:
        queues.create_queue(
            org.org, by=org.owner, name="Vendas", number_ids=[other_org.instance.pk]
        )
    assert refused.value.field == "numbers"
    assert not Queue.objects.exists()


def test_agents_may_not_manage_queues_or_capacity(org):
    agent = org.member()
    with pytest.raises(Refused) as refused:
        queues.create_queue(org.org, by=agent, name="Vendas")
    assert refused.value.status == 403
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas")
    with pytest.raises(Refused):
        queues.update_queue(
            queue,
            by=agent,
            name="X",
            member_ids=[],
            number_ids=[],
            distribution="off",
            first_response_minutes=None,
            resolution_minutes=None,
        )
    with pytest.raises(Refused):
        queues.delete_queue(queue, by=agent)
    with pytest.raises(Refused):
        queues.set_capacity(agent, 3, by=agent)


def test_another_organizations_supervisor_cannot_touch_a_queue(org, other_org):
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas")
    with pytest.raises(Refused) as refused:
        queues.delete_queue(queue, by=other_org.owner)
    assert refused.value.status == 404
    with pytest.raises(Refused):
        queues.set_capacity(org.owner, 3, by=other_org.owner)
    assert Queue.objects.filter(pk=queue.pk).exists()


def update(queue, by, **fields):
    current = {
        "name": queue.name,
        "member_ids": list(queue.members.values_list("pk", flat=True)),
        "number_ids": list(queue.numbers.values_list("pk", flat=True)),
        "distribution": queue.distribution,
        "first_response_minutes": queue.first_response_minutes,
        "resolution_minutes": queue.resolution_minutes,
    }
    return queues.update_queue(queue, by=by, **{**current, **fields})


def test_an_update_records_what_changed_with_the_previous_values(org, published, committed):
    ana, bruno = org.member(), org.member()
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", member_ids=[ana.pk])
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
    with committed():
        changes = update(
            queue,
            org.owner,
            name="Vendas B2B",
            member_ids=[bruno.pk],
            number_ids=[org.instance.pk],
            distribution=Queue.Distribution.ROUND_ROBIN,
        )
    queue.refresh_from_db()
    assert queue.name == "Vendas B2B" and queue.distribution == "round_robin"
    assert list(queue.members.all()) == [bruno]
    assert list(queue.numbers.all()) == [org.instance]
    [changed] = events("queue.changed")
    assert (
        changed.data
        == changes
        == {
            "name": ["Vendas", "Vendas B2B"],
            "distribution": ["off", "round_robin"],
            "members_added": [bruno.pk],
            "members_removed": [ana.pk],
            "numbers_added": [org.instance.pk],
        }
    )
    # The thread head shows the queue's name, and the Queue tab its members' conversations.
    assert published == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]


def test_an_update_that_changes_nothing_records_and_announces_nothing(org, published, committed):
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", first_response_minutes=10)
    with committed():
        assert update(queue, org.owner) == {}
    assert not events("queue.changed") and len(events("queue.sla_changed")) == 1
    assert published == []


def test_changing_only_the_numbers_or_the_rule_announces_nothing(org, published, committed):
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas")
    Conversation.objects.filter(pk=org.conversation().pk).update(queue=queue)
    with committed():
        update(queue, org.owner, number_ids=[org.instance.pk], distribution="least_load")
    assert published == []


def test_new_targets_recompute_the_due_times_of_open_conversations(org):
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", number_ids=[org.instance.pk])
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
    queues.create_queue(org.org, by=org.owner, name="Financeiro")
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", member_ids=[ana.pk])
    with pytest.raises(queues.FieldRefused):
        update(queue, org.owner, name="financeiro", member_ids=[], first_response_minutes=5)
    with pytest.raises(queues.FieldRefused):
        update(queue, org.owner, member_ids=[], first_response_minutes=0)
    queue.refresh_from_db()
    assert queue.name == "Vendas" and list(queue.members.all()) == [ana]
    assert queue.first_response_minutes is None and not events("queue.changed")


def test_renaming_to_its_own_name_in_another_case_is_fine(org):
    queue = queues.create_queue(org.org, by=org.owner, name="vendas")
    update(queue, org.owner, name="Vendas")
    assert Queue.objects.get().name == "Vendas"


def test_a_deleted_queues_conversations_stay_in_no_queue_without_due_times(
    org, published, committed
):
    queue = queues.create_queue(
        org.org,
        by=org.owner,
        name="Vendas",
        number_ids=[org.instance.pk],
        first_response_minutes=1,
    )
    queue_id = queue.pk
    conversation = org.conversation()
    resolved = org.conversation("5511999990002")
    Conversation.objects.filter(pk=resolved.pk).update(status=Conversation.Status.RESOLVED)
    assert conversation.first_response_due_at is not None
    with committed():
        assert queues.delete_queue(queue, by=org.owner) == 1
    conversation.refresh_from_db()
    assert conversation.queue is None and conversation.first_response_due_at is None
    assert Conversation.objects.filter(pk=resolved.pk, queue=None).exists()
    assert not Queue.objects.exists()
    [deleted] = events("queue.deleted")
    assert deleted.data == {"name": "Vendas", "held": 1} and deleted.object_id == queue_id
    assert published == [
        (org.org.pk, {"type": "CONVERSATION_UPDATED", "conversation_ids": [conversation.pk]})
    ]
    # The number's next conversation lands in no queue.
    assert org.conversation("5511999990003").queue is None


def test_capacity_is_set_recorded_and_announced(org, published, committed):
    ana = org.member()
    with committed():
        assert queues.set_capacity(ana, 3, by=org.owner) is True
    ana.refresh_from_db()
    assert ana.capacity == 3
    [changed] = events("member.capacity_changed")
    assert changed.data == {"capacity": 3, "previous": 10} and changed.object_id == ana.pk
    assert published == [(org.org.pk, {"type": "OPERATOR_STATUS", "member_id": ana.pk})]
    assert queues.set_capacity(ana, 3, by=org.owner) is False
    assert len(events("member.capacity_changed")) == 1


@pytest.mark.parametrize("capacity", [-1, queues.MAX_CAPACITY + 1, "3"])
def test_a_capacity_out_of_range_is_refused(org, capacity):
    ana = org.member()
    with pytest.raises(queues.FieldRefused) as refused:
        queues.set_capacity(ana, capacity, by=org.owner)
    assert refused.value.field == "capacity"
    ana.refresh_from_db()
    assert ana.capacity == 10


# Pages

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
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas")
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
        by=org.owner,
        name="<i>Vendas</i>",
        member_ids=[ana.pk],
        number_ids=[org.instance.pk],
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
    assert org.instance.name in html and "Round robin" in html
    assert "First response 1 h 30 min" in html and "Resolution 8 h" in html
    assert "1 breached" in html


def test_a_number_in_an_older_queue_says_where_its_conversations_go(org):
    queues.create_queue(org.org, by=org.owner, name="Atendimento", number_ids=[org.instance.pk])
    queues.create_queue(org.org, by=org.owner, name="Vendas", number_ids=[org.instance.pk])
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
            numbers=[str(org.instance.pk)],
            distribution="least_load",
            first_response_minutes="30",
            resolution_minutes="",
        ),
    )
    assert response.status_code == 302 and response["Location"] == QUEUES
    queue = Queue.objects.get(organization=org.org)
    assert (queue.name, queue.distribution) == ("Vendas", "least_load")
    assert (queue.first_response_minutes, queue.resolution_minutes) == (30, None)
    assert list(queue.members.all()) == [ana] and list(queue.numbers.all()) == [org.instance]


def test_a_taken_name_is_shown_on_the_form_with_what_was_typed(org):
    queues.create_queue(org.org, by=org.owner, name="Vendas")
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
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", member_ids=[ana.pk])
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
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas")
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
    response = client.post(f"{QUEUES}/new", form(numbers=[str(other_org.instance.pk), "x"]))
    assert response.status_code == 422
    assert "Choose numbers of this organization." in response.content.decode()
    # A capacity field named after another organization's member is ignored.
    response = client.post(f"{QUEUES}/new", form(**{f"capacity_{theirs.pk}": "1"}))
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.capacity == 10
    assert list(Queue.objects.values_list("organization", flat=True)) == [org.org.pk]


def test_another_organizations_queues_are_out_of_sight_and_reach(org, other_org):
    theirs = queues.create_queue(other_org.org, by=other_org.owner, name="Segredo")
    client = org.client()
    assert "Segredo" not in client.get(QUEUES).content.decode()
    assert client.get(f"{QUEUES}/{theirs.pk}").status_code == 404
    assert client.post(f"{QUEUES}/{theirs.pk}", form(name="Meu")).status_code == 404
    assert client.post(f"{QUEUES}/{theirs.pk}/delete").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Segredo"
    # Its members and numbers are not offered on this organization's form.
    page = client.get(f"{QUEUES}/new").content.decode()
    assert other_org.owner.display_name not in page and other_org.instance.name not in page


def test_a_queue_is_deleted_with_a_confirmation_and_its_conversations_stay(org):
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", number_ids=[org.instance.pk])
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
    queue = queues.create_queue(org.org, by=org.owner, name="Vendas", number_ids=[org.instance.pk])
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(
        resolution_due_at=timezone.now() - timedelta(minutes=5)
    )
    assert deadlines.breached_counts(org.org) == {queue.pk: 1}
    assert "1 breached" in org.client().get(QUEUES).content.decode()


# API


def send(client, method: str, url: str, data=None):
    return getattr(client, method)(url, data or {}, content_type="application/json")


def test_queues_are_created_changed_and_deleted_through_the_api(org):
    ana = org.member()
    client = org.client()
    made = send(
        client,
        "post",
        "/api/queues",
        {"name": "Vendas", "member_ids": [ana.pk], "number_ids": [org.instance.pk]},
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
    queue = Queue.objects.create(
        organization=org.org, name="Suporte", distribution=Queue.Distribution.ROUND_ROBIN
    )
    ana = org.member()
    queue.members.add(ana)
    Member.objects.filter(pk=ana.pk).update(capacity=0, availability="online")
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
