"""/api/members: owners and admins list, invite, change roles and deactivate, with the same
rules as the page; bounded ids; other organizations' members are 404s."""

import pytest
from django.core import mail
from django.test import Client

from conversa.accounts.models import Invitation


def api(org, member=None) -> tuple[Client, dict]:
    return Client(), {"Authorization": f"Bearer {org.api_token(member)}"}


def test_list_invite_change_role_deactivate(org, other_org):
    client, auth = api(org)
    agent = org.member("agent")
    other_org.member("agent")
    listed = client.get("/api/members", headers=auth).json()
    assert {m["id"] for m in listed} == {org.owner.pk, agent.pk}
    assert {m["status"] for m in listed} == {"active"}

    created = client.post(
        "/api/members/invitations",
        {"email": "api@example.com", "role": "admin"},
        content_type="application/json",
        headers=auth,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "pending" and body["email_sent"] and "/invitations/" in body["link"]
    assert mail.outbox[0].to == ["api@example.com"]
    assert [i["email"] for i in client.get("/api/members/invitations", headers=auth).json()] == [
        "api@example.com"
    ]
    again = client.post(
        "/api/members/invitations",
        {"email": "api@example.com"},
        content_type="application/json",
        headers=auth,
    )
    assert again.status_code == 409
    resent = client.post(f"/api/members/invitations/{body['id']}/resend", headers=auth)
    assert resent.status_code == 200 and resent.json()["link"] != body["link"]
    assert client.delete(f"/api/members/invitations/{body['id']}", headers=auth).status_code == 204
    assert Invitation.objects.get().status == "revoked"

    changed = client.patch(
        f"/api/members/{agent.pk}",
        {"role": "supervisor"},
        content_type="application/json",
        headers=auth,
    )
    assert changed.status_code == 200 and changed.json()["role"] == "supervisor"
    gone = client.post(f"/api/members/{agent.pk}/deactivate", headers=auth)
    assert gone.status_code == 200 and gone.json()["status"] == "deactivated"
    back = client.post(f"/api/members/{agent.pk}/reactivate", headers=auth)
    assert back.json()["status"] == "active"


def test_the_rules_hold_in_the_api(org, other_org):
    client, auth = api(org)
    last_owner = client.patch(
        f"/api/members/{org.owner.pk}",
        {"role": "agent"},
        content_type="application/json",
        headers=auth,
    )
    assert last_owner.status_code == 409
    admin_client, admin_auth = api(org, org.member("admin"))
    owner_by_admin = admin_client.post(
        "/api/members/invitations",
        {"email": "boss@example.com", "role": "owner"},
        content_type="application/json",
        headers=admin_auth,
    )
    assert owner_by_admin.status_code == 403
    stranger = other_org.member("agent")
    assert client.post(f"/api/members/{stranger.pk}/deactivate", headers=auth).status_code == 404


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_supervisors_and_agents_are_refused(org, role):
    client, auth = api(org, org.member(role))
    assert client.get("/api/members", headers=auth).status_code == 403
    invite = client.post(
        "/api/members/invitations",
        {"email": "x@example.com"},
        content_type="application/json",
        headers=auth,
    )
    assert invite.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/api/members/0", {"role": "agent"}),
        ("patch", f"/api/members/{2**63}", {"role": "agent"}),
        ("patch", "/api/members/1", {"role": "king"}),
        ("post", f"/api/members/{10**30}/deactivate", None),
        ("post", "/api/members/invitations", {"email": "nope", "role": "agent"}),
        ("post", "/api/members/invitations", {"email": "a@b.example", "role": "emperor"}),
        ("post", "/api/members/invitations", {"email": "x" * 200 + "@b.example"}),
    ],
)
def test_bad_input_is_a_4xx_with_a_body(org, method, path, body):
    client, auth = api(org)
    kwargs = {"content_type": "application/json", "data": body} if body is not None else {}
    response = getattr(client, method)(path, headers=auth, **kwargs)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]
