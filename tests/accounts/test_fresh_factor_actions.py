"""The sensitive acts beyond adding a number ask for a fresh code too, once the member uses
two-step verification: creating an API token, turning the kill switch, changing a role (pages
and API). A token's own requests are not asked: creating the token was."""

import pytest
from django.test import Client

from conversa.accounts.models import ApiToken, Member
from tests.accounts.test_mfa import code_at, enroll


@pytest.fixture
def stale(org):
    """The owner, enrolled, signed in on a fresh client that gave no code lately."""
    secret, _ = enroll(org)
    return secret, org.client()


def fresh(client, secret):
    client.post("/login/reverify", {"code": code_at(secret, +1), "next": "/settings/"})


PAGES = [
    ("/settings/tokens/new", {"name": "ERP", "scope": "read"}),
    ("/settings/organization/kill-switch", {"paused": "1", "confirmed": "yes"}),
]


@pytest.mark.parametrize(("path", "data"), PAGES)
def test_a_sensitive_page_act_asks_for_a_fresh_code_first(org, stale, path, data):
    secret, client = stale
    answer = client.post(path, data)
    assert answer.status_code == 302 and answer.url.startswith("/login/reverify")
    assert not ApiToken.objects.filter(name="ERP").exists()
    org.org.refresh_from_db()
    assert not org.org.sending_paused
    fresh(client, secret)
    assert client.post(path, data).status_code in (200, 201, 302)
    org.org.refresh_from_db()
    assert ApiToken.objects.filter(name="ERP").exists() or org.org.sending_paused


def test_changing_a_role_asks_for_a_fresh_code(org, stale):
    secret, client = stale
    agent = org.member()
    answer = client.post(f"/settings/members/{agent.pk}/role", {"role": "supervisor"})
    assert answer.url.startswith("/login/reverify")
    agent.refresh_from_db()
    assert agent.role == Member.Role.AGENT
    fresh(client, secret)
    client.post(f"/settings/members/{agent.pk}/role", {"role": "supervisor"})
    agent.refresh_from_db()
    assert agent.role == Member.Role.SUPERVISOR


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/api/organization", {"sending_paused": True}),
        ("patch", "/api/members/{agent}", {"role": "supervisor"}),
        ("post", "/api/tokens", {"name": "ERP", "scope": "read"}),
    ],
)
def test_the_api_refuses_a_sensitive_act_without_a_fresh_code(org, stale, method, path, body):
    secret, client = stale
    url = path.format(agent=org.member().pk)
    call = getattr(client, method)
    answer = call(url, body, content_type="application/json")
    assert answer.status_code == 403
    assert "fresh code" in answer.json()["detail"]
    fresh(client, secret)
    assert call(url, body, content_type="application/json").status_code in (200, 201)


def test_a_tokens_request_is_not_asked(org, stale):
    token = org.api_token()
    answer = Client().patch(
        "/api/organization",
        {"sending_paused": True},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
