"""The team's rules (accounts/members.py): who may change whose role, deactivate and reactivate,
as a table; and what deactivation does to sessions, tokens and conversations."""

import pytest
from django.test import Client

from conversa.accounts import members
from conversa.accounts.models import Member, OperationalEvent
from conversa.errors import Conflict, Forbidden
from conversa.inbox import ownership
from conversa.inbox.models import Conversation, Queue

OWNER, ADMIN, SUPERVISOR, AGENT = (r.value for r in Member.Role)

# (acting role, target's role, new role, outcome): "ok", or the refusal's type.
ROLE_CHANGES = [
    (OWNER, AGENT, SUPERVISOR, "ok"),
    (OWNER, AGENT, OWNER, "ok"),
    (OWNER, ADMIN, OWNER, "ok"),
    (OWNER, OWNER, ADMIN, "ok"),  # another owner remains (the actor)
    (ADMIN, AGENT, ADMIN, "ok"),
    (ADMIN, SUPERVISOR, AGENT, "ok"),
    (ADMIN, ADMIN, SUPERVISOR, "ok"),
    (ADMIN, AGENT, OWNER, Forbidden),  # only owners make owners
    (ADMIN, OWNER, AGENT, Forbidden),  # admins cannot change owners
    (SUPERVISOR, AGENT, SUPERVISOR, Forbidden),
    (SUPERVISOR, AGENT, ADMIN, Forbidden),
    (AGENT, AGENT, SUPERVISOR, Forbidden),
]


@pytest.mark.parametrize(("acting", "target", "new", "outcome"), ROLE_CHANGES)
def test_role_changes(org, acting, target, new, outcome):
    actor = org.owner if acting == OWNER else org.member(acting)
    member = org.member(target)
    if outcome == "ok":
        members.change_role(member, role=new, acting_member=actor)
        member.refresh_from_db()
        assert member.role == new
        event = OperationalEvent.objects.get(verb="member.role_changed", object_id=member.pk)
        assert event.actor == actor and event.data == {"previous": target, "role": new}
    else:
        with pytest.raises(outcome):
            members.change_role(member, role=new, acting_member=actor)
        member.refresh_from_db()
        assert member.role == target
        assert not OperationalEvent.objects.filter(verb="member.role_changed").exists()


def test_the_last_owner_cannot_be_demoted_even_by_themselves(org):
    with pytest.raises(Conflict):
        members.change_role(org.owner, role=ADMIN, acting_member=org.owner)
    org.owner.refresh_from_db()
    assert org.owner.role == OWNER


def test_an_owner_steps_down_once_another_owner_exists(org):
    second = org.member(AGENT)
    members.change_role(second, role=OWNER, acting_member=org.owner)
    members.change_role(org.owner, role=ADMIN, acting_member=org.owner)
    # Now `second` is the last owner.
    second.refresh_from_db()
    with pytest.raises(Conflict):
        members.change_role(second, role=AGENT, acting_member=second)


def test_a_deactivated_owner_does_not_count_as_an_owner(org):
    second = org.member(OWNER)
    members.deactivate(second, acting_member=org.owner)
    with pytest.raises(Conflict):
        members.change_role(org.owner, role=ADMIN, acting_member=org.owner)


def test_an_unknown_role_is_refused(org):
    with pytest.raises(members.Refused):
        members.change_role(org.member(), role="king", acting_member=org.owner)


def test_another_organizations_member_is_not_found(org, other_org):
    with pytest.raises(members.NotFound):
        members.change_role(other_org.member(), role=ADMIN, acting_member=org.owner)
    with pytest.raises(members.NotFound):
        members.deactivate(other_org.member(), acting_member=org.owner)


# (acting role, target's role, outcome)
DEACTIVATIONS = [
    (OWNER, AGENT, "ok"),
    (OWNER, ADMIN, "ok"),
    (OWNER, OWNER, "ok"),  # the actor remains an owner
    (ADMIN, AGENT, "ok"),
    (ADMIN, ADMIN, "ok"),
    (ADMIN, OWNER, Forbidden),
    (SUPERVISOR, AGENT, Forbidden),
    (AGENT, AGENT, Forbidden),
]


@pytest.mark.parametrize(("acting", "target", "outcome"), DEACTIVATIONS)
def test_deactivations(org, acting, target, outcome):
    actor = org.owner if acting == OWNER else org.member(acting)
    member = org.member(target)
    if outcome == "ok":
        members.deactivate(member, acting_member=actor)
        member.refresh_from_db()
        assert not member.is_active and member.deactivated_at
        members.reactivate(member, acting_member=actor)
        member.refresh_from_db()
        assert member.is_active
        verbs = list(
            OperationalEvent.objects.filter(object_id=member.pk, object_type="member").values_list(
                "verb", flat=True
            )
        )
        assert verbs == ["member.deactivated", "member.reactivated"]
    else:
        with pytest.raises(outcome):
            members.deactivate(member, acting_member=actor)
        member.refresh_from_db()
        assert member.is_active


def test_anyone_may_leave_but_the_last_owner(org):
    agent = org.member(AGENT)
    members.deactivate(agent, acting_member=agent)
    assert OperationalEvent.objects.filter(verb="member.left", object_id=agent.pk).exists()
    with pytest.raises(Conflict):
        members.deactivate(org.owner, acting_member=org.owner)


def test_a_deactivated_member_is_signed_out_and_cannot_sign_in(org):
    agent = org.member(AGENT)
    client = Client()
    assert (
        client.post("/login/", {"username": agent.user.username, "password": "x" * 12}).status_code
        == 302
    )
    assert client.get("/inbox/").status_code == 200
    members.deactivate(agent, acting_member=org.owner)
    assert client.get("/inbox/").status_code == 302  # the session no longer signs them in
    again = Client().post("/login/", {"username": agent.user.username, "password": "x" * 12})
    assert again.status_code == 200  # the form again, with its error
    members.reactivate(agent, acting_member=org.owner)
    assert (
        client.post("/login/", {"username": agent.user.username, "password": "x" * 12}).status_code
        == 302
    )


def test_a_member_of_two_organizations_keeps_the_other(org, other_org):
    agent = org.member(AGENT)
    Member.objects.create(
        organization=other_org.org, user=agent.user, role=AGENT, display_name="Twice"
    )
    client = org.client(agent)
    members.deactivate(agent, acting_member=org.owner)
    # Still signed in, now in the organization where they are active.
    response = client.get("/inbox/")
    assert response.status_code == 200
    assert response.wsgi_request.org == other_org.org


def test_a_deactivated_members_api_tokens_stop_working(org):
    agent = org.member(AGENT)
    token = org.api_token(agent)
    auth = {"Authorization": f"Bearer {token}"}
    assert Client().get("/api/operators/me", headers=auth).status_code == 200
    members.deactivate(agent, acting_member=org.owner)
    assert Client().get("/api/operators/me", headers=auth).status_code == 401


def test_deactivation_returns_open_conversations_to_their_queue(
    org, django_capture_on_commit_callbacks
):
    agent = org.member(AGENT)
    other = org.member(AGENT)
    queue = Queue.objects.create(organization=org.org, name="Sales", distribution="round_robin")
    queue.members.set([agent, other])
    queue.numbers.add(org.number)
    first, second = org.conversation("5511999990001"), org.conversation("5511999990002")
    resolved = org.conversation("5511999990003")
    for conversation in (first, second, resolved):
        Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
        conversation.refresh_from_db()
        ownership.assign(conversation, agent, acting_member=org.owner)
    Conversation.objects.filter(pk=resolved.pk).update(status=Conversation.Status.RESOLVED)
    ownership.set_availability(other, Member.Availability.ONLINE)
    with django_capture_on_commit_callbacks(execute=True):
        members.deactivate(agent, acting_member=org.owner)
    agent.refresh_from_db()
    assert agent.availability == Member.Availability.OFFLINE and agent.open_count == 0
    # Handed out again to whoever is online in the queue; the resolved one keeps its history.
    assert set(
        Conversation.objects.filter(pk__in=[first.pk, second.pk]).values_list("assignee", flat=True)
    ) == {other.pk}
    assert Conversation.objects.get(pk=resolved.pk).assignee_id == agent.pk
    assert (
        OperationalEvent.objects.filter(
            verb="conversation.released", object_id__in=[first.pk, second.pk]
        ).count()
        == 2
    )


def test_a_deactivated_member_is_given_no_new_work(org):
    agent = org.member(AGENT)
    agent = members.deactivate(agent, acting_member=org.owner)
    conversation = org.conversation()
    with pytest.raises(Conflict):
        ownership.assign(conversation, agent, acting_member=org.owner)
    with pytest.raises(Conflict):
        ownership.transfer(conversation, to_member=agent, acting_member=org.owner)
    assert Conversation.objects.get(pk=conversation.pk).assignee_id is None
