"""The API tokens page: create (the secret shown once), list, revoke; who sees what."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from conversa.accounts.models import ApiToken, Member
from conversa.accounts.services import create_api_token


def test_the_page_offers_a_first_token(org):
    page = org.client().get("/settings/tokens/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No API tokens yet" in html and 'aria-current="page"' in html
    assert 'value="manage"' in html


def test_creating_shows_the_secret_once(org):
    client = org.client()
    answer = client.post(
        "/settings/tokens/new", {"name": "Reports", "scope": "read", "expiry": "never"}
    )
    assert answer.status_code == 201
    assert answer["Cache-Control"] == "no-store"
    token = ApiToken.objects.get()
    secret = answer.context["secret"]
    assert token.token_hash == ApiToken.hash(secret)
    assert secret in answer.content.decode()
    again = client.get("/settings/tokens/").content.decode()
    assert secret not in again and "Reports" in again and "Never used" in again


def test_an_expiry_date_is_the_end_of_that_day(org):
    day = timezone.localdate() + timedelta(days=30)
    answer = org.client().post(
        "/settings/tokens/new",
        {"name": "Temp", "scope": "send", "expiry": "date", "expires_on": day.isoformat()},
    )
    assert answer.status_code == 201
    zone = ZoneInfo(org.org.time_zone)
    expires = ApiToken.objects.get().expires_at.astimezone(zone)
    assert expires.date() == day + timedelta(days=1) and expires.hour == 0


def test_a_bad_form_is_shown_with_its_reason(org):
    client = org.client()
    for form, words in [
        ({"name": "", "scope": "read"}, "Give the token a name."),
        ({"name": "x", "scope": "read", "expiry": "date", "expires_on": "9999-12-31"}, "two years"),
        ({"name": "x", "scope": "read", "expiry": "date", "expires_on": "²"}, "two years"),
        ({"name": "x", "scope": "root"}, "Choose read, send or manage."),
    ]:
        answer = client.post("/settings/tokens/new", form)
        assert answer.status_code == 422
        assert words in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_an_agent_sees_only_their_own_and_cannot_pick_manage(org):
    agent = org.member(Member.Role.AGENT)
    create_api_token(org.owner, "owner's")
    create_api_token(agent, "agent's", scope="read")
    html = org.client(agent).get("/settings/tokens/").content.decode()
    assert "agent&#x27;s" in html and "owner&#x27;s" not in html
    assert 'value="manage"' not in html
    refused = org.client(agent).post("/settings/tokens/new", {"name": "x", "scope": "manage"})
    assert refused.status_code == 403
    everyone = org.client().get("/settings/tokens/").content.decode()
    assert "agent&#x27;s" in everyone and "owner&#x27;s" in everyone


def test_revoking_from_the_page(org):
    agent = org.member()
    create_api_token(agent, "theirs", scope="read")
    token = ApiToken.objects.get()
    other_agent = org.member()
    assert org.client(other_agent).post(f"/settings/tokens/{token.pk}/revoke").status_code == 404
    answer = org.client().post(f"/settings/tokens/{token.pk}/revoke")
    assert answer.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    html = org.client(agent).get("/settings/tokens/").content.decode()
    assert "Revoked" in html and "Revoke token" not in html


def test_another_organizations_token_is_not_found(org, other_org):
    create_api_token(other_org.owner, "elsewhere")
    token = ApiToken.objects.get()
    assert org.client().post(f"/settings/tokens/{token.pk}/revoke").status_code == 404
    assert "elsewhere" not in org.client().get("/settings/tokens/").content.decode()


def test_names_are_escaped(org):
    create_api_token(org.owner, "<script>alert(1)</script>")
    html = org.client().get("/settings/tokens/").content.decode()
    assert "<script>alert(1)</script>" not in html


def test_signed_out_is_sent_to_sign_in(client, db):
    assert client.get("/settings/tokens/").status_code == 302
    assert client.post("/settings/tokens/new", {"name": "x"}).status_code == 302


def test_the_page_in_portuguese(org):
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    html = client.get("/settings/tokens/").content.decode()
    assert "Tokens de API" in html and "Nenhum token de API ainda" in html and "Gestão" in html
