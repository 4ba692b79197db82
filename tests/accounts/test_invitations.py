"""Inviting by email, end to end: the email's one-time link, the invitee's name and password,
the inbox; an existing account signs in and joins; resend and revoke; the rules."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from conversa.accounts import members
from conversa.accounts.models import Invitation, Member, OperationalEvent
from conversa.errors import Conflict, Forbidden

PASSWORD = "a long secret phrase"


def link_in(message) -> str:
    return re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_an_invitee_sets_name_and_password_and_lands_in_the_inbox(org):
    admin = org.client()
    response = admin.post("/settings/members/", {"email": "Nova@Example.com", "role": "supervisor"})
    assert response.status_code == 200
    assert "Invitation sent to nova@example.com" in response.content.decode()
    [message] = mail.outbox
    assert message.to == ["nova@example.com"] and org.org.name in message.subject
    link = link_in(message)
    invitation = Invitation.objects.get()
    assert invitation.token_hash == Invitation.hash(link.rstrip("/").rsplit("/", 1)[1])
    assert link.split("/")[-2] not in str(Invitation.objects.values_list())  # only a hash kept
    assert "nova@example.com" in admin.get("/settings/members/").content.decode()

    invitee = Client()
    page = invitee.get(path_of(link))
    assert page.status_code == 200 and f"Join {org.org.name}" in page.content.decode()
    weak = invitee.post(path_of(link), {"name": "Nova", "password": "123"})
    assert weak.status_code == 422
    response = invitee.post(path_of(link), {"name": " Nova  Silva ", "password": PASSWORD})
    assert response["Location"] == "/inbox/"
    assert invitee.get("/inbox/").status_code == 200
    member = Member.objects.get(user__username="nova@example.com")
    assert (member.organization, member.role, member.display_name) == (
        org.org,
        Member.Role.SUPERVISOR,
        "Nova Silva",
    )
    assert OperationalEvent.objects.filter(verb="member.joined", object_id=member.pk).exists()
    # The link worked once.
    again = Client().get(path_of(link))
    assert again.status_code == 404 and "not valid" in again.content.decode()


def test_an_existing_account_signs_in_and_joins(org, other_org):
    elsewhere = other_org.member(Member.Role.AGENT)
    _, raw, sent = members.invite(
        acting_member=org.owner, email=elsewhere.user.username, role="agent"
    )
    assert sent
    path = f"/invitations/{raw}/"
    anonymous = Client().get(path)
    assert "Sign in to join" in anonymous.content.decode()
    assert f"/login/?next={path}" in anonymous.content.decode()
    client = Client()
    client.post(f"/login/?next={path}", {"username": elsewhere.user.username, "password": "x" * 12})
    assert "Join the team" in client.get(path).content.decode()
    assert client.post(path)["Location"] == "/inbox/"
    assert Member.objects.filter(organization=org.org, user=elsewhere.user).exists()
    # Someone else's invitation, signed in as another person: refused, nothing joined.
    _, raw2, _ = members.invite(acting_member=org.owner, email="third@example.com", role="agent")
    assert client.get(f"/invitations/{raw2}/").status_code == 403
    assert client.post(f"/invitations/{raw2}/").status_code == 403
    assert not Member.objects.filter(user__username="third@example.com").exists()


def test_an_expired_or_revoked_link_does_not_work(org):
    invitation, raw, _ = members.invite(
        acting_member=org.owner, email="x@example.com", role="agent"
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = Client().post(f"/invitations/{raw}/", {"name": "X", "password": PASSWORD})
    assert response.status_code == 409
    assert "expired" in response.content.decode()
    # Resending gives a new link and the old one stops working for good.
    new_raw, _ = members.resend_invitation(invitation, acting_member=org.owner)
    assert Client().get(f"/invitations/{raw}/").status_code == 404
    assert Client().get(f"/invitations/{new_raw}/").status_code == 200
    members.revoke_invitation(invitation, acting_member=org.owner)
    assert Client().get(f"/invitations/{new_raw}/").status_code == 404
    assert Client().get("/invitations/nonsense/").status_code == 404


def test_resend_and_revoke_from_the_page(org):
    client = org.client()
    client.post("/settings/members/", {"email": "y@example.com", "role": "agent"})
    invitation = Invitation.objects.get()
    response = client.post(f"/settings/invitations/{invitation.pk}/resend")
    assert response.status_code == 200 and len(mail.outbox) == 2
    assert link_in(mail.outbox[0]) != link_in(mail.outbox[1])
    assert client.post(f"/settings/invitations/{invitation.pk}/revoke").status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    assert "y@example.com" not in client.get("/settings/members/").content.decode()
    verbs = OperationalEvent.objects.filter(object_type="invitation").values_list("verb", flat=True)
    assert list(verbs) == [
        "member.invited",
        "member.invitation_resent",
        "member.invitation_revoked",
    ]


def test_an_email_is_invited_once_and_never_when_already_a_member(org):
    members.invite(acting_member=org.owner, email="z@example.com", role="agent")
    with pytest.raises(Conflict):
        members.invite(acting_member=org.owner, email="Z@example.com", role="admin")
    with pytest.raises(Conflict):
        members.invite(acting_member=org.owner, email=org.owner.user.username, role="agent")
    page = org.client().post(
        "/settings/members/", {"email": org.owner.user.username, "role": "agent"}
    )
    assert page.status_code == 422 and "is a member already" in page.content.decode()


@pytest.mark.parametrize(
    ("acting", "role", "allowed"),
    [
        ("owner", "owner", True),
        ("admin", "admin", True),
        ("admin", "owner", False),
        ("supervisor", "agent", False),
        ("agent", "agent", False),
    ],
)
def test_who_invites_whom(org, acting, role, allowed):
    actor = org.owner if acting == "owner" else org.member(acting)
    if allowed:
        members.invite(acting_member=actor, email="w@example.com", role=role)
    else:
        with pytest.raises(Forbidden):
            members.invite(acting_member=actor, email="w@example.com", role=role)
        assert not Invitation.objects.exists() and not mail.outbox


def test_a_mail_server_failure_still_gives_the_link(org, settings):
    settings.EMAIL_BACKEND = "tests.accounts.test_invitations.BrokenBackend"
    response = org.client().post("/settings/members/", {"email": "q@example.com", "role": "agent"})
    page = response.content.decode()
    assert response.status_code == 200 and "could not be sent" in page
    assert re.search(r'value="http://[^"]+/invitations/[^"]+/"', page)


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("connection refused")
