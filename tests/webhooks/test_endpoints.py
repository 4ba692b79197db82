"""Settings → Webhooks and /api/webhooks: the secret shown once, events from the catalogue,
on and off, rotation, a test event, the delivery log and replay; every change audited."""

import json

import pytest
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent
from conversa.api import api
from conversa.webhooks import sending
from conversa.webhooks.catalogue import CATALOGUE
from conversa.webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def api_call(org, method, path, data=None):
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    return org.client().generic(
        method, f"/api{path}", json.dumps(data or {}), "application/json", headers=headers
    )


def test_the_secret_is_shown_once_and_never_again(org, receiver):
    client = org.client()
    response = client.post(
        "/settings/webhooks/",
        {"url": receiver.url, "description": "ERP", "events": ["message.received", "intent.sent"]},
    )
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    endpoint = Endpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.text
    assert endpoint.event_types == ["message.received", "intent.sent"]
    for page in ("/settings/webhooks/", f"/settings/webhooks/{endpoint.pk}/"):
        assert endpoint.secret not in client.get(page).text
    assert endpoint.secret not in api_call(org, "GET", "/webhooks/endpoints").text
    verbs = OperationalEvent.objects.filter(
        organization=org.org, verb__startswith="webhook"
    ).values_list("verb", "data")
    assert [v for v, _ in verbs] == ["webhook_endpoint.created"]
    assert endpoint.secret not in json.dumps([d for _, d in verbs])


def test_a_refused_endpoint_says_why_beside_the_form(org, receiver):
    response = org.client().post("/settings/webhooks/", {"url": receiver.url, "events": []})
    assert response.status_code == 422 and "Choose at least one event" in response.text
    response = org.client().post(
        "/settings/webhooks/", {"url": "ftp://x", "events": ["message.sent"]}
    )
    assert response.status_code == 422 and not Endpoint.objects.exists()


def test_an_agent_cannot_manage_webhooks(org, receiver):
    agent = org.member(Member.Role.AGENT)
    assert org.client(agent).get("/settings/webhooks/").status_code == 403
    response = api_call(org, "GET", "/webhooks/endpoints")
    assert response.status_code == 200


def test_the_api_creates_rotates_tests_and_replays(org, receiver):
    created = api_call(
        org, "POST", "/webhooks/endpoints", {"url": receiver.url, "events": ["message.sent"]}
    ).json()
    first = created["secret"]
    endpoint_id = created["id"]
    rotated = api_call(org, "POST", f"/webhooks/endpoints/{endpoint_id}/rotate").json()
    assert rotated["secret"] != first and rotated["previous_secret_until"]
    endpoint = Endpoint.objects.get()
    assert endpoint.secrets() == [rotated["secret"], first]
    response = api_call(org, "POST", f"/webhooks/endpoints/{endpoint_id}/test")
    assert response.status_code == 202
    sending.send_due("w", 10, concurrency=1)
    signatures = receiver.received[0].headers["webhook-signature"].split(" ")
    assert len(signatures) == 2  # the new secret and the previous one, for a day
    deliveries = api_call(org, "GET", f"/webhooks/endpoints/{endpoint_id}/deliveries").json()
    assert [d["event_type"] for d in deliveries] == ["webhook.test"]
    assert deliveries[0]["status"] == "delivered"
    detail = api_call(org, "GET", f"/webhooks/deliveries/{deliveries[0]['id']}").json()
    assert detail["attempt_log"][0]["status_code"] == 200
    replayed = api_call(org, "POST", f"/webhooks/deliveries/{deliveries[0]['id']}/replay")
    assert replayed.json()["status"] == "pending"
    sending.send_due("w", 10, concurrency=1)
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 2 and ids == {deliveries[0]["event_id"]}
    off = api_call(org, "PATCH", f"/webhooks/endpoints/{endpoint_id}", {"enabled": False})
    assert off.json()["enabled"] is False and off.json()["disabled_reason"]
    assert api_call(org, "DELETE", f"/webhooks/endpoints/{endpoint_id}").status_code == 204
    assert not Delivery.objects.exists()


def test_another_organizations_endpoint_is_not_found(org, other_org, endpoint_of):
    endpoint, _ = endpoint_of(org)
    assert api_call(other_org, "GET", f"/webhooks/endpoints/{endpoint.pk}").status_code == 404
    page = other_org.client().get(f"/settings/webhooks/{endpoint.pk}/")
    assert page.status_code == 404


def test_the_page_shows_the_log_and_replays_a_period(org, endpoint_of, receiver):
    endpoint, _ = endpoint_of(org)
    receiver.answers = [500]
    org.customer_writes(text="Olá")
    sending.send_due("w", 10, concurrency=1)
    page = org.client().get(f"/settings/webhooks/{endpoint.pk}/", {"status": "pending"})
    assert "message.received" in page.text and "HTTP 500" in page.text
    delivered = org.client().get(f"/settings/webhooks/{endpoint.pk}/", {"status": "delivered"})
    assert "HTTP 500" not in delivered.text
    # (The form's times are the organization's; a day either side holds the delivery.)
    start = timezone.now() - timezone.timedelta(days=1)
    end = timezone.now() + timezone.timedelta(days=1)
    org.client().post(
        f"/settings/webhooks/{endpoint.pk}/actions/replay",
        {"start": start.strftime("%Y-%m-%dT%H:%M"), "end": end.strftime("%Y-%m-%dT%H:%M")},
    )
    assert Delivery.objects.get().next_attempt_at <= timezone.now()


def test_every_catalogue_event_has_an_example_in_the_openapi(org):
    response = api_call(org, "GET", "/webhooks/event-types").json()
    assert [e["name"] for e in response] == [e.name for e in CATALOGUE]
    assert all(e["example"]["type"] == e["name"] and e["example"]["data"] for e in response)
    schema = api.get_openapi_schema()
    assert "/api/webhooks/endpoints" in schema["paths"]
