"""POST /webhooks/<provider>/<key>: what the front door refuses, and that it stores nothing then."""

import json

import pytest

from conversa.inbox.models import Contact, Message
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent
from tests.conftest import post_webhook
from tests.providers.conftest import PAYLOADS

TEXT_CAPTURE = PAYLOADS / "messages_upsert_conversation_v2_msgorch.json"


def nothing_stored() -> bool:
    return (
        not ProviderEvent.objects.exists()
        and not Message.objects.exists()
        and not Contact.objects.exists()
    )


@pytest.mark.parametrize("secret", ["not-the-secret", "", "é-non-ascii"])
def test_wrong_or_empty_secret_is_401_and_stores_nothing(client, org, secret):
    response = post_webhook(client, org.number, TEXT_CAPTURE.read_bytes(), secret=secret)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "unauthorized"
    assert nothing_stored()


def test_missing_secret_header_is_401_and_stores_nothing(client, org):
    response = client.post(
        f"/webhooks/{org.number.provider}/{org.number.webhook_key}",
        data=TEXT_CAPTURE.read_bytes(),
        content_type="application/json",
    )

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert nothing_stored()


def test_another_numbers_secret_is_401(client, org, other_org):
    response = post_webhook(
        client, org.number, TEXT_CAPTURE.read_bytes(), secret=other_org.number.webhook_secret
    )

    assert response.status_code == 401
    assert nothing_stored()


def test_secret_header_name_is_case_insensitive(client, org):
    response = client.post(
        f"/webhooks/{org.number.provider}/{org.number.webhook_key}",
        data=TEXT_CAPTURE.read_bytes(),
        content_type="application/json",
        headers={SECRET_HEADER.lower(): org.number.webhook_secret},
    )

    assert response.status_code == 200


def test_malformed_body_without_the_secret_is_401_not_400(client, org):
    """Strangers learn nothing about what the endpoint would accept."""
    response = post_webhook(client, org.number, b"{not json", secret="wrong")

    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00", b'{"event": "messages.upsert", "data": '],
    ids=["broken", "empty", "not-utf8", "truncated"],
)
def test_malformed_json_is_400_with_a_detail_and_stores_nothing(client, org, body):
    response = post_webhook(client, org.number, body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "malformed"
    assert response.json()["detail"]
    assert nothing_stored()


def test_json_that_is_not_an_object_is_400(client, org):
    response = post_webhook(client, org.number, [json.loads(TEXT_CAPTURE.read_bytes())])

    assert response.status_code == 400
    assert response.json()["detail"]
    assert nothing_stored()


@pytest.mark.parametrize(
    "payload",
    [
        {"event": "messages.upsert", "instance": "servicewa"},
        {"event": "messages.upsert", "data": None},
        {"event": "messages.upsert", "data": "3EB0847B419598C9293971"},
        {"event": "messages.upsert", "data": [{"key": {}}]},
    ],
    ids=["no-data", "data-null", "data-string", "data-list"],
)
def test_an_envelope_without_readable_data_is_kept_as_an_unparsed_event(client, org, payload):
    response = post_webhook(client, org.number, payload)

    assert response.json() == {"ok": True, "stored": 1, "duplicates": 0}
    event = ProviderEvent.objects.get()
    assert event.kind == "Unparsed"
    assert event.event["reason"]
    assert not Message.objects.exists()


def test_upsert_missing_its_key_is_kept_unparsed_with_the_reason(client, org):
    payload = json.loads(TEXT_CAPTURE.read_bytes())
    del payload["data"]["key"]

    response = post_webhook(client, org.number, payload)

    assert response.json() == {"ok": True, "stored": 1, "duplicates": 0}
    assert "'key'" in ProviderEvent.objects.get().event["reason"]
    assert not Message.objects.exists()


def test_malformed_post_keeps_what_was_stored_before(client, org):
    post_webhook(client, org.number, TEXT_CAPTURE.read_bytes())

    response = post_webhook(client, org.number, b"{not json")

    assert response.status_code == 400
    assert ProviderEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_unknown_number_key_is_404(client, org):
    response = client.post(
        "/webhooks/sandbox/no-such-key",
        data=TEXT_CAPTURE.read_bytes(),
        content_type="application/json",
        headers={SECRET_HEADER: org.number.webhook_secret},
    )

    assert response.status_code == 404
    assert nothing_stored()


def test_key_under_another_provider_is_404(client, org):
    response = client.post(
        f"/webhooks/evolution/{org.number.webhook_key}",
        data=TEXT_CAPTURE.read_bytes(),
        content_type="application/json",
        headers={SECRET_HEADER: org.number.webhook_secret},
    )

    assert response.status_code == 404
    assert nothing_stored()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_methods_other_than_post_are_405(client, org, method):
    response = getattr(client, method)(f"/webhooks/sandbox/{org.number.webhook_key}")

    assert response.status_code == 405
    assert nothing_stored()
