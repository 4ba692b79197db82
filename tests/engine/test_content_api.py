"""Locations, contact cards and files through the API: intents through the engine, idempotent on
the Idempotency-Key header, every value bounded, a bad one a 422 with a JSON body."""

import pytest
from django.test import Client

from conversa.engine.models import MessageIntent
from conversa.inbox.models import Attachment, Message
from tests import media_samples as samples


@pytest.fixture
def api(org, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client = Client(headers={"Authorization": f"Bearer {org.api_token()}"})

    def post(path: str, body: dict, key: str | None = None, **options):
        headers = {"Idempotency-Key": key} if key else {}
        if options.get("multipart"):
            return client.post(f"/api{path}", body, headers=headers)
        return client.post(f"/api{path}", body, content_type="application/json", headers=headers)

    return post


def test_a_location_is_sent_once_per_key(api, org):
    body = {
        "phone": "+5511988887777",
        "latitude": -23.561,
        "longitude": -46.656,
        "name": "Loja Paulista",
        "address": "Av. Paulista, 1000",
    }
    first = api("/intents/location", body, key="loc-1")
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["content"]["kind"] == "location"
    assert data["content"]["location"]["latitude"] == -23.561
    assert data["decision"]["verdict"] == "allow"
    assert data["body"] == "📍 Loja Paulista · Av. Paulista, 1000"
    again = api("/intents/location", body, key="loc-1")
    assert (again.status_code, again.json()["id"]) == (200, data["id"])
    message = Message.objects.get(direction="out")
    assert message.kind == "location" and message.content["name"] == "Loja Paulista"


@pytest.mark.parametrize(
    "wrong",
    [
        {"latitude": 90.5},
        {"longitude": -180.1},
        {"name": "x" * 201},
        {"phone": "abc"},
        {"latitude": "north"},
    ],
)
def test_a_location_out_of_bounds_is_a_422(api, wrong):
    body = {"phone": "5511988887777", "latitude": 1.0, "longitude": 2.0, **wrong}
    answer = api("/intents/location", body)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid"
    assert not MessageIntent.objects.exists()


def test_contact_cards_with_their_numbers_normalized(api):
    body = {
        "phone": "5511988887777",
        "contacts": [
            {"name": " Ana Souza ", "phones": ["+55 (11) 97777-6666", "551133334444"]},
            {"name": "Loja", "phones": ["+1 650-555-1234"]},
        ],
    }
    answer = api("/intents/contacts", body, key="cards-1")
    assert answer.status_code == 201, answer.content
    assert answer.json()["content"]["contacts"] == [
        {"name": "Ana Souza", "phones": ["5511977776666", "551133334444"]},
        {"name": "Loja", "phones": ["16505551234"]},
    ]
    assert answer.json()["body"] == "👤 Ana Souza, Loja"


@pytest.mark.parametrize(
    "contacts",
    [
        [],
        [{"name": f"P{n}", "phones": ["5511977776666"]} for n in range(11)],
        [{"name": "x" * 201, "phones": ["5511977776666"]}],
        [{"name": "   ", "phones": ["5511977776666"]}],
        [{"name": "Ana", "phones": []}],
        [{"name": "Ana", "phones": ["12"]}],
        [{"name": "Ana", "phones": ["not a number"]}],
    ],
)
def test_contact_cards_out_of_bounds_are_a_422(api, contacts):
    answer = api("/intents/contacts", {"phone": "5511988887777", "contacts": contacts})
    assert answer.status_code == 422, answer.content
    assert answer.json()["error"] == "invalid"
    assert not MessageIntent.objects.exists()


def test_a_file_by_upload(api, org):
    answer = api(
        "/intents/media",
        {
            "phone": "5511988887777",
            "caption": "Seu boleto",
            "file": samples.upload("boleto.pdf", samples.PDF),
        },
        key="doc-1",
        multipart=True,
    )
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert data["content"] == {"kind": "document", "caption": "Seu boleto"}
    message = Message.objects.get(direction="out")
    assert message.kind == "document" and message.body == "Seu boleto"
    assert Attachment.objects.get(message=message).uploaded_by == org.owner


def test_a_file_whatsapp_does_not_take_is_a_422_and_nothing_is_stored(api):
    answer = api(
        "/intents/media",
        {"phone": "5511988887777", "file": samples.upload("a.png", samples.EXE, "image/png")},
        multipart=True,
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "file"]
    assert not Attachment.objects.exists() and not MessageIntent.objects.exists()


def test_another_organizations_number_is_a_404(api, other_org):
    body = {
        "phone": "5511988887777",
        "latitude": 1,
        "longitude": 2,
        "number_id": other_org.number.pk,
    }
    assert api("/intents/location", body).status_code == 404


def test_the_api_documents_the_new_sends(org):
    schema = org.client().get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/intents/location", "/api/intents/contacts", "/api/intents/media"} <= set(paths)
