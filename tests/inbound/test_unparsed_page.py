"""The page of unread webhook events (owners and admins, their organization's only) and the
/metrics counter of them."""

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from conversa.accounts.models import Member
from conversa.providers.models import ProviderEvent
from tests.conftest import post_webhook

URL = "/numbers/unread-events"


def unread(org, n: int = 1, payload=None) -> None:
    for i in range(n):
        ProviderEvent.objects.create(
            organization=org.org,
            number=org.number,
            kind="Unparsed",
            dedupe_key=f"unparsed:{i}",
            event={"reason": "r"},
            payload=payload if payload is not None else {"n": i},
            reason=f"reason number {i}",
        )


def test_owners_see_their_unread_events_with_why_and_an_escaped_excerpt(org, other_org):
    unread(org, payload={"event": "<script>alert(1)</script>", "data": {"x": "ção"}})
    unread(other_org, payload={"event": "another-organizations-secret"})

    page = org.client().get(URL).content.decode()

    assert "reason number 0" in page
    assert org.number.name in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "ção" in page
    assert "another-organizations-secret" not in page


@pytest.mark.parametrize("role", [Member.Role.ADMIN, Member.Role.OWNER])
def test_admins_and_owners_may_open_it(org, role):
    assert org.client(org.member(role)).get(URL).status_code == 200


@pytest.mark.parametrize("role", [Member.Role.SUPERVISOR, Member.Role.AGENT])
def test_others_may_not(org, role):
    unread(org)
    assert org.client(org.member(role)).get(URL).status_code == 403


def test_signed_out_goes_to_the_login(db):
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_nothing_unread_says_so(org):
    page = org.client().get(URL).content.decode()
    assert "Nothing unread" in page


def test_read_again_events_leave_the_page(org):
    unread(org)
    ProviderEvent.objects.update(processed_at="2026-01-01T00:00:00Z")
    assert "Nothing unread" in org.client().get(URL).content.decode()


def test_pages_of_25(org):
    unread(org, 30)
    client = org.client()

    first = client.get(URL).content.decode()
    second = client.get(URL, {"page": 2}).content.decode()

    assert first.count('<details class="payload-excerpt"') == 25
    assert second.count('<details class="payload-excerpt"') == 5
    assert "Page 2 of 2" in second
    # Newest first.
    assert "reason number 29" in first and "reason number 0" in second


def test_in_portuguese(org):
    client = org.client()
    client.cookies["django_language"] = "pt-br"
    page = client.get(URL).content.decode()
    assert "Eventos de webhook não lidos" in page
    assert "Nenhum evento não lido" in page


def test_the_numbers_page_links_to_it_for_those_who_may_open_it(org):
    assert URL in org.client().get("/numbers/").content.decode()
    agent = org.client(org.member(Member.Role.AGENT))
    assert URL not in agent.get("/numbers/").content.decode()


def test_metrics_count_unread_events_by_provider(client, org, django_capture_on_commit_callbacks):
    def counted() -> float:
        found = REGISTRY.get_sample_value("conversa_unparsed_events_total", {"provider": "sandbox"})
        return found or 0.0

    before = counted()
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, org.number, b"{not json")
        post_webhook(client, org.number, b"{not json")  # the same body: one event

    assert counted() == before + 1
    assert (
        'conversa_unparsed_events_total{provider="sandbox"}'
        in client.get("/metrics").content.decode()
    )
