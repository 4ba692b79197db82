"""A customer sends media from the sandbox: each protocol's own shape, read by its adapter."""

import json

import pytest

from conversa.inbox.models import Message
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage, ProviderError
from conversa.providers.cloud import CloudProvider
from conversa.providers.evolution import EvolutionProvider
from conversa.sandbox import graph, simulator
from conversa.sandbox.media import sample
from conversa.sandbox.models import SandboxMessage, SandboxMessageMedia
from conversa.sandbox.provider import InProcessSandbox
from tests.conftest import post_webhook

CUSTOMER = "5511977776666"


def sent(webhooks_sent: list[dict]) -> bytes:
    [webhook] = webhooks_sent
    return json.dumps(webhook["body"]).encode()


@pytest.fixture
def cloud_twin(db):
    return simulator.create_cloud_number("106540352242922", "5511933334444", "http://c.test/h", "s")


@pytest.mark.parametrize(
    ("kind", "caption", "wire_type"),
    [
        ("image", "Olha o defeito", "imageMessage"),
        ("image", "", "imageMessage"),
        ("document", "Segue o contrato", "documentWithCaptionMessage"),
        ("document", "", "documentMessage"),
        ("audio", "", "audioMessage"),
    ],
)
def test_evolution_media_is_read_with_its_kind_and_caption(
    db, org, webhooks_sent, django_capture_on_commit_callbacks, kind, caption, wire_type
):
    with django_capture_on_commit_callbacks(execute=True):
        message = simulator.customer_sends_media(org.twin, CUSTOMER, kind, caption, "Ana")

    upsert = webhooks_sent[0]["body"]["data"]
    assert upsert["messageType"] == wire_type
    [item] = EvolutionProvider("http://sandbox", "k").parse_webhook(
        Number(provider="sandbox"), sent(webhooks_sent)
    )
    # The sandbox's audio is a voice note (ptt), which the adapters read as kind "voice".
    assert item.event == InboundMessage(
        provider_message_id=message.message_id,
        phone=CUSTOMER,
        name="Ana",
        kind="voice" if kind == "audio" else kind,
        body=caption,
        timestamp=item.event.timestamp,
        content=item.event.content,
    )
    media = upsert["message"][wire_type]
    media = media.get("message", {}).get("documentMessage", media)
    assert item.event.content["media"]["mime_type"] == media["mimetype"]


def test_evolution_image_has_whatsapps_media_fields(
    db, org, webhooks_sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        simulator.customer_sends_media(org.twin, CUSTOMER, "image", "Foto")

    image = webhooks_sent[0]["body"]["data"]["message"]["imageMessage"]
    assert image["caption"] == "Foto"
    assert image["mimetype"] == "image/jpeg"
    assert image["url"].startswith("https://mmg.whatsapp.net/")
    assert {"fileSha256", "fileLength", "mediaKey", "height", "width"} <= set(image)


@pytest.mark.parametrize(
    ("kind", "caption"),
    [("image", "Olha o defeito"), ("document", "Segue o contrato"), ("audio", "")],
)
def test_cloud_media_is_read_with_its_kind_and_caption(
    cloud_twin, webhooks_sent, django_capture_on_commit_callbacks, kind, caption
):
    with django_capture_on_commit_callbacks(execute=True):
        message = simulator.customer_sends_media(cloud_twin, CUSTOMER, kind, caption, "Ana")

    [wire] = webhooks_sent[0]["body"]["entry"][0]["changes"][0]["value"]["messages"]
    assert wire["type"] == kind
    assert set(wire[kind]) >= {"id", "mime_type", "sha256"}
    assert wire[kind].get("caption", "") == caption
    [item] = CloudProvider("http://graph").parse_webhook(
        Number(provider="cloud"), sent(webhooks_sent)
    )
    # A Brazilian mobile's WhatsApp id has no ninth digit, as Meta writes it.
    assert (item.event.provider_message_id, item.event.phone, item.event.name) == (
        message.message_id,
        graph.wa_id(CUSTOMER),
        "Ana",
    )
    voice = kind == "audio" and wire[kind].get("voice") is True
    assert (item.event.kind, item.event.body) == ("voice" if voice else kind, caption)
    assert item.event.content["media"]["id"] == wire[kind]["id"]


def test_a_voice_note_has_no_caption(db, org, webhooks_sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = simulator.customer_sends_media(org.twin, CUSTOMER, "audio", "ignored")

    assert (message.kind, message.text) == ("audio", "")
    audio = webhooks_sent[0]["body"]["data"]["message"]["audioMessage"]
    assert "caption" not in audio
    assert audio["ptt"] is True


def test_unknown_media_kind_is_refused(db, org):
    with pytest.raises(simulator.SandboxError) as error:
        simulator.customer_sends_media(org.twin, CUSTOMER, "sticker")

    assert error.value.status == 400
    assert not SandboxMessage.objects.exists()


def test_media_from_the_sandbox_is_stored_by_conversa(
    client, org, webhooks_sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        simulator.customer_sends_media(org.twin, CUSTOMER, "image", "Olha <b>isto</b>")

    response = post_webhook(client, org.number, webhooks_sent[0]["body"])

    assert response.status_code == 200
    message = Message.objects.get(organization=org.org)
    assert (message.kind, message.body) == ("image", "Olha <b>isto</b>")


def test_customer_page_sends_a_file_with_a_caption(
    member_client, org, webhooks_sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            "/sandbox/send",
            {
                "instance": org.twin.name,
                "phone": CUSTOMER,
                "kind": "document",
                "text": "Orçamento",
            },
        )

    assert response.status_code == 302
    message = SandboxMessage.objects.get()
    assert (message.kind, message.text, message.from_me) == ("document", "Orçamento", False)
    assert webhooks_sent[0]["body"]["data"]["messageType"] == "documentWithCaptionMessage"
    chat = member_client.get(f"/sandbox/chat?instance={org.twin.name}&phone={CUSTOMER}")
    # The sandbox keeps the file (a small real PDF when none was chosen): offered as a download.
    page = chat.content.decode()
    assert f'class="sandbox-file" href="/sandbox/media/{message.message_id}" download' in page
    assert member_client.get(f"/sandbox/media/{message.message_id}").content.startswith(b"%PDF-")


def test_customer_page_refuses_an_unknown_file_kind(member_client, org):
    response = member_client.post(
        "/sandbox/send", {"instance": org.twin.name, "phone": CUSTOMER, "kind": "sticker"}
    )

    assert response.status_code == 422
    assert not SandboxMessage.objects.exists()


def test_the_in_process_sandbox_answers_a_file_as_get_base64_does(db, org):
    """SANDBOX_IN_PROCESS: the file without the HTTP, and the fault injector honoured."""
    message = simulator.customer_sends_media(org.twin, CUSTOMER, "image")
    InProcessSandbox.twins.clear()
    provider = InProcessSandbox()

    assert provider.fetch_media(org.number, message.message_id, {}).content == sample("image")[0]
    SandboxMessageMedia.objects.filter(message=message).update(fail_next=1)
    with pytest.raises(ProviderError) as failed:
        provider.fetch_media(org.number, message.message_id, {})
    with pytest.raises(ProviderError) as unknown:
        provider.fetch_media(org.number, "3EB0UNKNOWN", {})

    assert (failed.value.transient, failed.value.status) == (True, 503)
    assert (unknown.value.transient, unknown.value.status) == (False, 400)
