"""The 400, 403, 404 and 500 pages: translated, inside the app for a member (with its sidebar),
plain and branded for a visitor, always with a way back; JSON under /api/, text to htmx
(issue 17, point 7)."""

import pytest
from django.core.exceptions import BadRequest, PermissionDenied
from django.test import Client, override_settings
from django.urls import path

from conversa import error_pages, urls
from conversa.accounts.models import Member


def test_a_member_gets_the_404_inside_the_app_with_a_way_back(org):
    answer = org.client().get("/no-such-page/")
    assert answer.status_code == 404
    page = answer.content.decode()
    assert "Page not found" in page and 'class="sidebar"' in page
    assert 'href="/inbox/"' in page and "Go to the inbox" in page


def test_the_404_speaks_portuguese(org):
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    page = client.get("/no-such-page/").content.decode()
    assert "Página não encontrada" in page and "Ir para a caixa de entrada" in page


def test_a_visitor_gets_a_plain_page_with_the_way_to_sign_in(db):
    answer = Client().get("/no-such-page/")
    assert answer.status_code == 404
    page = answer.content.decode()
    assert "Page not found" in page and 'class="sidebar"' not in page
    assert 'href="/login/"' in page


def test_an_agent_on_a_settings_page_is_told_who_can_grant_access(org):
    admin = org.member(Member.Role.ADMIN)
    agent = org.member(Member.Role.AGENT)
    answer = org.client(agent).get("/settings/members/")
    assert answer.status_code == 403
    page = answer.content.decode()
    assert "You do not have access to this page" in page and 'class="sidebar"' in page
    assert org.owner.display_name in page and admin.display_name in page
    assert agent.display_name not in page.split('class="error-page"')[1]


def test_the_api_keeps_its_json_and_htmx_gets_text(org):
    answer = org.client().get("/api/no-such-thing")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    agent = org.member(Member.Role.AGENT)
    htmx = org.client(agent).get("/settings/members/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 403 and htmx["Content-Type"].startswith("text/plain")


def broken(request):
    raise RuntimeError("boom")


def unreadable(request):
    raise BadRequest("the form's fields clash")


def refused(request):
    raise PermissionDenied("Only the owner may do this.")


# The app's routes, and two that fail on purpose.
urlpatterns = [
    path("broken", broken),
    path("refused", refused),
    path("unreadable", unreadable),
    *urls.urlpatterns,
]
handler400 = error_pages.bad_request
handler403 = error_pages.permission_denied
handler500 = error_pages.server_error


@pytest.mark.urls(__name__)
def test_a_refusal_with_words_says_them(org):
    answer = org.client(org.member(Member.Role.AGENT)).get("/refused")
    assert answer.status_code == 403
    page = answer.content.decode()
    assert "Only the owner may do this." in page and "You do not have access" in page


@pytest.mark.urls(__name__)
@override_settings(DEBUG=False)
def test_the_500_page_is_plain_and_translated(org):
    client = org.client()
    client.raise_request_exception = False
    client.cookies["django_language"] = "pt-br"
    answer = client.get("/broken")
    assert answer.status_code == 500
    page = answer.content.decode()
    assert "Algo deu errado do nosso lado" in page and 'class="sidebar"' not in page
    assert "Ir para a caixa de entrada" in page  # signed in: back to work, not to sign in


@pytest.mark.urls(__name__)
def test_the_400_page_leads_a_visitor_to_sign_in(db):
    answer = Client().get("/unreadable")
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "This request could not be read" in page and 'href="/login/"' in page
    assert "clash" not in page
