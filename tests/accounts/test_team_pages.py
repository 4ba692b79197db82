"""The members page, the profile page and password reset by email."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from conversa.accounts import members
from conversa.accounts.models import Member, OperationalEvent

PASSWORD = "x" * 12
NEW_PASSWORD = "a brand new phrase"


def test_settings_opens_on_the_profile(org):
    assert org.client().get("/settings/")["Location"] == "/settings/profile/"


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("supervisor", 403), ("agent", 403)])
def test_members_page_is_for_owners_and_admins(org, role, status):
    assert org.client(org.member(role)).get("/settings/members/").status_code == status


def test_members_page_lists_role_status_and_last_sign_in(org, other_org):
    agent = org.member("agent")
    stranger = other_org.member("agent")
    members.deactivate(agent, acting_member=org.owner)
    page = org.client().get("/settings/members/").content.decode()
    assert agent.display_name in page and "Deactivated" in page and "never signed in" in page
    assert "Reactivate" in page
    # The last owner is offered no way out.
    assert "The only owner" in page
    assert f'action="/settings/members/{org.owner.pk}/deactivate"' not in page
    assert stranger.display_name not in page
    assert 'href="/settings/members/"' in page and 'aria-current="page"' in page


def test_change_role_deactivate_and_reactivate_from_the_page(org):
    agent = org.member("agent")
    client = org.client()
    assert (
        client.post(f"/settings/members/{agent.pk}/role", {"role": "supervisor"}).status_code == 302
    )
    assert client.post(f"/settings/members/{agent.pk}/deactivate").status_code == 302
    assert client.post(f"/settings/members/{agent.pk}/reactivate").status_code == 302
    agent.refresh_from_db()
    assert agent.role == "supervisor" and agent.is_active
    refused = client.post(f"/settings/members/{org.owner.pk}/role", {"role": "agent"})
    assert refused.status_code == 409 and "needs an owner" in refused.content.decode()


def test_an_admin_sees_owners_without_controls(org):
    admin = org.member("admin")
    page = org.client(admin).get("/settings/members/").content.decode()
    assert f'action="/settings/members/{org.owner.pk}/role"' not in page
    assert '<option value="owner"' not in page
    response = org.client(admin).post(f"/settings/members/{org.owner.pk}/deactivate")
    assert response.status_code == 403


def test_another_organizations_member_is_a_404(org, other_org):
    target = other_org.member("agent")
    assert org.client().post(f"/settings/members/{target.pk}/deactivate").status_code == 404
    assert org.client().post(f"/settings/members/{target.pk}/nonsense").status_code == 404


def test_leaving_signs_out(org):
    agent = org.member("admin")
    client = org.client(agent)
    assert client.post(f"/settings/members/{agent.pk}/deactivate")["Location"] == "/logout/"
    assert client.get("/inbox/").status_code == 302


def test_profile_changes_name_and_language_and_sets_the_cookie(org):
    client = org.client()
    response = client.post(
        "/settings/profile/", {"form": "profile", "display_name": "Dona Maria", "language": "pt-br"}
    )
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pt-br"
    org.owner.refresh_from_db()
    assert (org.owner.display_name, org.owner.language) == ("Dona Maria", "pt-br")
    assert "Perfil" in client.get("/settings/profile/").content.decode()
    assert OperationalEvent.objects.filter(verb="member.profile_changed").exists()
    # The language follows the member to their next sign-in, on any browser.
    fresh = Client()
    signed_in = fresh.post("/login/", {"username": org.owner.user.username, "password": PASSWORD})
    assert signed_in.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pt-br"


def test_profile_refuses_an_empty_name_and_an_unknown_language(org):
    client = org.client()
    response = client.post(
        "/settings/profile/", {"form": "profile", "display_name": " ", "language": "xx"}
    )
    assert response.status_code == 422
    org.owner.refresh_from_db()
    assert org.owner.display_name.startswith("Owner")


def test_password_change_keeps_this_session(org):
    client = org.client()
    bad = client.post(
        "/settings/profile/",
        {
            "form": "password",
            "old_password": "wrong",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert bad.status_code == 422
    response = client.post(
        "/settings/profile/",
        {
            "form": "password",
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == "/settings/profile/?saved=password"
    assert client.get("/inbox/").status_code == 200
    org.owner.user.refresh_from_db()
    assert org.owner.user.check_password(NEW_PASSWORD)
    assert OperationalEvent.objects.filter(verb="member.password_changed").exists()


def test_password_reset_by_email(org):
    client = Client()
    assert "/password-reset/" in client.get("/login/").content.decode()
    response = client.post("/password-reset/", {"email": org.owner.user.username.upper()})
    assert response["Location"] == "/password-reset/sent/"
    [message] = mail.outbox
    assert message.to == [org.owner.user.username]
    link = re.search(r"https?://\S+/password-reset/\S+/", message.body).group(0)
    path = "/" + link.split("/", 3)[3]
    form = client.get(path, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done["Location"] == "/password-reset/done/"
    org.owner.user.refresh_from_db()
    assert org.owner.user.check_password(NEW_PASSWORD)
    # The link worked once.
    assert "does not work" in Client().get(path, follow=True).content.decode()


def test_password_reset_never_says_whether_an_email_exists(org):
    deactivated = org.member("agent")
    members.deactivate(deactivated, acting_member=org.owner)
    answers = set()
    for email in ("nobody@example.com", deactivated.user.username, org.owner.user.username):
        response = Client().post("/password-reset/", {"email": email})
        answers.add((response.status_code, response["Location"]))
    assert answers == {(302, "/password-reset/sent/")}
    assert [m.to for m in mail.outbox] == [[org.owner.user.username]]


def test_password_reset_pages_speak_portuguese(org):
    page = Client().get("/password-reset/", headers={"accept-language": "pt-BR"}).content.decode()
    assert "Redefinir sua senha" in page


def test_deactivated_memberships_are_ignored_by_the_middleware(org):
    agent = org.member("agent")
    client = org.client(agent)
    Member.objects.filter(pk=agent.pk).update(is_active=False)  # the account itself still active
    assert client.get("/inbox/").status_code == 404
