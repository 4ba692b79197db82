import pytest

from conversa.inbox.models import Message


def test_inbox_lists_only_own_conversations(org, other_org):
    org.customer_writes("5511900000001", "mine")
    other_org.customer_writes("5511900000002", "theirs")
    page = org.client().get("/inbox/")
    assert page.status_code == 200
    assert b"mine" in page.content
    assert b"theirs" not in page.content


@pytest.mark.parametrize("path", ["/inbox/c/{id}/", "/inbox/c/{id}/thread"])
def test_another_organizations_conversation_page_is_404(org, other_org, path):
    theirs = other_org.conversation()
    response = org.client().get(path.format(id=theirs.id))
    assert response.status_code == 404


def test_another_organizations_conversation_is_404_in_the_api(org, other_org):
    theirs = other_org.conversation()
    client = org.client()
    assert client.get(f"/api/conversations/{theirs.id}/messages").status_code == 404
    response = client.post(
        f"/api/conversations/{theirs.id}/reply", {"body": "hi"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert not Message.objects.filter(direction="out").exists()


def test_replying_in_another_organizations_conversation_is_404(org, other_org):
    theirs = other_org.conversation()
    response = org.client().post(f"/inbox/c/{theirs.id}/reply", {"body": "hi"})
    assert response.status_code == 404
    assert not Message.objects.filter(direction="out").exists()


def test_api_token_sees_only_its_organization(client, org, other_org):
    org.customer_writes("5511900000001")
    other_org.customer_writes("5511900000002")
    token = org.api_token()
    response = client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [c["contact"]["phone"] for c in response.json()] == ["5511900000001"]


def test_api_without_credentials_is_401_json(client, db):
    response = client.get("/api/conversations")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_unknown_api_token_is_401(client, db):
    response = client.get("/api/conversations", headers={"Authorization": "Bearer cv_nope"})
    assert response.status_code == 401


def test_pages_need_sign_in(client, db):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_sign_in_with_email_and_password(client, org):
    response = client.post(
        "/login/", {"username": org.owner.user.username.upper(), "password": "x" * 12}
    )
    assert response.status_code == 302
    assert client.get("/inbox/").status_code == 200


def test_wrong_password_shows_a_form_error(client, org):
    response = client.post("/login/", {"username": org.owner.user.username, "password": "wrong"})
    assert response.status_code == 200
    assert b"alert error" in response.content


def test_passwords_are_hashed_with_argon2(org):
    assert org.owner.user.password.startswith("argon2")


def test_api_post_without_credentials_is_401_not_a_csrf_error(client, db):
    response = client.post(
        "/api/conversations/1/reply", {"body": "x"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_api_post_with_a_session_needs_the_csrf_token(org):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(org.owner.user)
    conversation = org.conversation()
    response = client.post(
        f"/api/conversations/{conversation.id}/reply",
        {"body": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "detail": "CSRF check Failed"}


def test_api_reply_validation_error_is_422_json(org):
    conversation = org.conversation()
    response = org.client().post(
        f"/api/conversations/{conversation.id}/reply", {"body": ""}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert response.json()["errors"]


def test_apitoken_command_prints_a_working_token(client, org):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("apitoken", org.owner.user.username, stdout=out)
    token = out.getvalue().strip()
    response = client.get("/api/intents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
