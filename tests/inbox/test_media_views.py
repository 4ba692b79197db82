"""Customers' files are served only to members of the organization that owns them: inline for
photos and players, as a download under a safe name for documents, a signed link on S3, and a
404 for everyone else."""

import base64

import pytest

from conversa.inbound import consequences as inbound
from conversa.inbox.models import Attachment
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from tests.conftest import make_org
from tests.inbox.test_media import CUSTOMER, PDF, PNG, attachment_of, media_message


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def stored(org) -> Attachment:
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=CUSTOMER,
        name="Ana",
        kind="image",
        body="",
        content={"media": {"base64": base64.b64encode(PNG).decode()}},
    )
    return attachment_of(inbound.receive_message(org.number, event))


def test_a_member_gets_the_file_inline_with_safe_headers(org, stored):
    response = org.client(org.member()).get(f"/media/{stored.pk}")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_another_organizations_member_and_a_visitor_get_404(org, other_org, stored, client):
    assert other_org.client().get(f"/media/{stored.pk}").status_code == 404
    assert client.get(f"/media/{stored.pk}").status_code == 404
    assert org.client().get(f"/media/{stored.pk + 1000}").status_code == 404


def test_a_document_downloads_under_its_sanitized_name(org):
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=CUSTOMER,
        name="Ana",
        kind="document",
        body="",
        content={
            "media": {
                "file_name": 'C:\\Users\\ana\\"contrato"\r\n.pdf',
                "base64": base64.b64encode(PDF).decode(),
            }
        },
    )
    attachment = attachment_of(inbound.receive_message(org.number, event))

    response = org.client().get(f"/media/{attachment.pk}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="contrato_.pdf"'


def test_a_pending_file_is_not_served(org):
    message = media_message(org.number)

    response = org.client().get(f"/media/{attachment_of(message).pk}")

    assert response.status_code == 404


def test_signed_urls_for_s3_storage(org, stored, settings):
    settings.S3_BUCKET = "conversa-media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "conversa-media",
                "endpoint_url": "https://s3.example.test",
                "access_key": "AKIDEXAMPLE",
                "secret_key": "secret",
                "region_name": "us-east-1",
                "querystring_auth": True,
            },
        },
    }

    response = org.client().get(f"/media/{stored.pk}")

    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("https://s3.example.test/conversa-media/org_")
    assert "Signature=" in url or "X-Amz-Signature=" in url
    assert "X-Amz-Expires=300" in url or "Expires=" in url
    assert other_client_gets_404(stored)


def other_client_gets_404(attachment) -> bool:
    other = make_org()
    return other.client().get(f"/media/{attachment.pk}").status_code == 404


def test_the_card_and_the_retry_action(org, settings):
    message = media_message(org.number)
    attachment = attachment_of(message)
    Attachment.objects.filter(pk=attachment.pk).update(state="failed", error="HTTP 503")
    client = org.client(org.member())

    card = client.get(f"/media/{attachment.pk}/card").content.decode()
    assert "Download failed" in card and "Retry download" in card

    response = client.post(f"/media/{attachment.pk}/retry", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "Loading…" in response.content.decode()
    attachment.refresh_from_db()
    assert (attachment.state, attachment.attempts) == ("pending", 0)
    again = client.post(f"/media/{attachment.pk}/retry", headers={"HX-Request": "true"})
    assert again.status_code == 400
    assert make_org().client().post(f"/media/{attachment.pk}/retry").status_code == 404


def test_the_card_in_portuguese(org):
    message = media_message(org.number)
    client = org.client()
    client.cookies["django_language"] = "pt-br"

    card = client.get(f"/media/{attachment_of(message).pk}/card").content.decode()

    assert "Carregando…" in card
