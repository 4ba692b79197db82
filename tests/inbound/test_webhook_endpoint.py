"""POST /webhooks/<provider>/<key>: what the front door refuses (and then stores nothing), and
that a verified body it cannot read is kept, never refused."""

import hashlib
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


def only_unparsed(body: bytes, *, whole: bool = True) -> ProviderEvent:
    """The one event a verified but unreadable body (or its one item) leaves: Unparsed, with
    its reason, waiting for `conversa reprocess-events`; nothing else stored. A body that is
    not an object is keyed by its hash; an item of an envelope by the item's."""
    record = ProviderEvent.objects.get()
    assert record.kind == "Unparsed"
    assert record.reason
    assert record.dedupe_key.startswith("unparsed:")
    if whole:
        assert record.dedupe_key == "unparsed:" + hashlib.sha256(body).hexdigest()
    assert record.processed_at is None
    assert not Message.objects.exists()
    assert not Contact.objects.exists()
    return record


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00", b'{"event": "messages.upsert", "data": '],
    ids=["broken", "empty", "not-utf8", "truncated"],
)
def test_unreadable_body_is_kept_as_unparsed_and_answered_200(client, org, body):
    """A verified body is never refused (the provider would retry for days, then drop it)."""
    response = post_webhook(client, org.number, body)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"ok": True, "stored": 1, "duplicates": 0}
    record = only_unparsed(body)
    # Not JSON: its text, decoded with replacement and without NULs, is what is kept.
    assert record.payload == {"raw": body.decode("utf-8", "replace").replace("\x00", "")}
    assert "not JSON" in record.reason


def test_the_same_unreadable_body_twice_is_one_event(client, org):
    post_webhook(client, org.number, b"{not json")
    again = post_webhook(client, org.number, b"{not json")

    assert again.json() == {"ok": True, "stored": 0, "duplicates": 1}
    assert ProviderEvent.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        [json.loads(TEXT_CAPTURE.read_bytes())],
        {"event": "messages.upsert", "instance": "servicewa"},
        {"event": "messages.upsert", "data": None},
        {"event": "messages.upsert", "data": "3EB0847B419598C9293971"},
        {"event": "messages.upsert", "data": [{"key": {}}]},
    ],
    ids=["list", "no-data", "data-null", "data-string", "data-list"],
)
def test_json_that_is_not_an_evolution_envelope_is_kept_as_unparsed(client, org, payload):
    body = json.dumps(payload).encode()
    response = post_webhook(client, org.number, body)

    assert response.status_code == 200
    assert only_unparsed(body, whole=isinstance(payload, list)).payload == payload


def test_upsert_missing_its_key_is_kept_with_the_reason(client, org):
    payload = json.loads(TEXT_CAPTURE.read_bytes())
    del payload["data"]["key"]
    body = json.dumps(payload).encode()

    response = post_webhook(client, org.number, body)

    assert response.status_code == 200
    assert "key" in only_unparsed(body, whole=False).reason


def test_unreadable_post_keeps_what_was_stored_before(client, org):
    post_webhook(client, org.number, TEXT_CAPTURE.read_bytes())

    response = post_webhook(client, org.number, b"{not json")

    assert response.status_code == 200
    assert ProviderEvent.objects.count() == 2
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
