"""What the adapters put on the wire for media, voice notes, stickers, locations, contact cards,
reactions and read receipts, checked over real HTTP against Evolution API's request schemas
(src/api/dto/sendMessage.dto.ts, src/validate/message.schema.ts, chat.schema.ts at 2.3.6) and
the Graph API's, as pywa sends them (pywa/api.py: upload_media, send_message,
mark_message_as_read)."""

import base64

import pytest

from conversa.numbers.models import Number
from conversa.providers.base import OutboundContent, ProviderError
from conversa.providers.cloud import CloudProvider
from conversa.providers.evolution import EvolutionProvider
from tests import media_samples as samples
from tests.providers.recording import serve

PHONE = "5511988887777"


@pytest.fixture
def wire(settings):
    recorder, server = serve()
    # A provider on 127.0.0.1, as the operator may configure one (providers/outbound.py).
    settings.PROVIDER_TRUSTED_URLS = [recorder.url]
    yield recorder
    server.shutdown()
    server.server_close()


# Evolution API v2


@pytest.fixture
def evolution(wire):
    number = Number(provider_name="loja", provider_token="instance-token")
    answer = {"key": {"remoteJid": f"{PHONE}@s.whatsapp.net", "fromMe": True, "id": "3EB0AA"}}
    for endpoint in ("sendMedia", "sendWhatsAppAudio", "sendSticker", "sendLocation"):
        wire.answers[f"/message/{endpoint}/loja"] = (201, answer)
    for endpoint in ("sendContact", "sendReaction", "sendText"):
        wire.answers[f"/message/{endpoint}/loja"] = (201, answer)
    return EvolutionProvider(wire.url, "global-key"), number


def test_evolution_sends_a_photo_as_base64_media_with_its_caption(wire, evolution):
    provider, number = evolution
    content = OutboundContent(
        kind="image", media=samples.PNG, mime_type="image/png", file_name="a.png", caption="Oi"
    )
    result = provider.send_content(number, PHONE, content, reference="job:1")
    [request] = wire.requests
    assert request.path == "/message/sendMedia/loja"
    assert request.headers["apikey"] == "instance-token"
    assert request.json() == {
        "number": PHONE,
        "mediatype": "image",
        "mimetype": "image/png",
        "media": base64.b64encode(samples.PNG).decode(),
        "fileName": "a.png",
        "caption": "Oi",
    }
    assert (result.provider_message_id, result.wa_id) == ("3EB0AA", PHONE)


@pytest.mark.parametrize("kind", ["video", "audio", "document"])
def test_evolution_sends_other_files_through_send_media(wire, evolution, kind):
    provider, number = evolution
    content = OutboundContent(kind=kind, media=b"bytes", mime_type="x/y", file_name="f")
    provider.send_content(number, PHONE, content, reference="job:1")
    body = wire.requests[0].json()
    assert (wire.requests[0].path, body["mediatype"]) == ("/message/sendMedia/loja", kind)
    assert "caption" not in body


def test_evolution_sends_a_voice_note_and_a_sticker_on_their_endpoints(wire, evolution):
    provider, number = evolution
    voice = OutboundContent(kind="voice", media=samples.OGG, mime_type="audio/ogg")
    sticker = OutboundContent(kind="sticker", media=samples.WEBP, mime_type="image/webp")
    provider.send_content(number, PHONE, voice, reference="job:1")
    provider.send_content(number, PHONE, sticker, reference="job:2")
    audio, fig = wire.requests
    assert audio.path == "/message/sendWhatsAppAudio/loja"
    assert audio.json() == {"number": PHONE, "audio": base64.b64encode(samples.OGG).decode()}
    assert fig.path == "/message/sendSticker/loja"
    assert fig.json() == {"number": PHONE, "sticker": base64.b64encode(samples.WEBP).decode()}


def test_evolution_sends_a_location_with_the_name_and_address_its_schema_requires(wire, evolution):
    provider, number = evolution
    place = {"latitude": -23.5, "longitude": -46.6, "name": "", "address": "Av. Paulista"}
    provider.send_content(
        number, PHONE, OutboundContent(kind="location", location=place), reference="job:1"
    )
    [request] = wire.requests
    assert request.path == "/message/sendLocation/loja"
    assert request.json() == {"number": PHONE, **place}


def test_evolution_sends_one_card_per_number(wire, evolution):
    provider, number = evolution
    cards = [{"name": "Ana", "phones": ["+55 11 98888-7777", "551133334444"]}]
    provider.send_content(
        number, PHONE, OutboundContent(kind="contacts", contacts=cards), reference="job:1"
    )
    [request] = wire.requests
    assert request.path == "/message/sendContact/loja"
    assert request.json() == {
        "number": PHONE,
        "contact": [
            {"fullName": "Ana", "wuid": "5511988887777", "phoneNumber": "+5511988887777"},
            {"fullName": "Ana", "wuid": "551133334444", "phoneNumber": "+551133334444"},
        ],
    }


def test_evolution_reacts_by_the_message_key(wire, evolution):
    provider, number = evolution
    reaction = OutboundContent(kind="reaction", target="ABCD", target_from_me=False, emoji="👍")
    provider.send_content(number, PHONE, reaction, reference="job:1")
    [request] = wire.requests
    assert request.path == "/message/sendReaction/loja"
    assert request.json() == {
        "key": {"remoteJid": f"{PHONE}@s.whatsapp.net", "fromMe": False, "id": "ABCD"},
        "reaction": "👍",
    }


def test_evolution_marks_a_message_read(wire, evolution):
    provider, number = evolution
    wire.answers["/chat/markMessageAsRead/loja"] = (
        201,
        {"message": "Read messages", "read": "success"},
    )
    provider.mark_read(number, PHONE, "ABCD")
    [request] = wire.requests
    assert request.path == "/chat/markMessageAsRead/loja"
    assert request.json() == {
        "readMessages": [{"remoteJid": f"{PHONE}@s.whatsapp.net", "fromMe": False, "id": "ABCD"}]
    }


def test_evolution_answers_the_jid_it_delivered_to(wire, evolution):
    provider, number = evolution
    wire.answers["/message/sendText/loja"] = (
        201,
        {"key": {"remoteJid": "551188887777@s.whatsapp.net", "fromMe": True, "id": "3EB0BB"}},
    )
    result = provider.send_text(number, PHONE, "Oi", reference="job:1")
    assert (result.provider_message_id, result.wa_id) == ("3EB0BB", "551188887777")


def test_the_sandbox_gets_our_reference_on_content_sends_too(wire, evolution):
    _, number = evolution
    provider = EvolutionProvider(wire.url, "global-key", send_reference=True)
    place = {"latitude": 1.0, "longitude": 2.0}
    provider.send_content(number, PHONE, OutboundContent(kind="location", location=place), "job:9")
    assert wire.requests[0].json()["reference"] == "job:9"


# WhatsApp Cloud API (Graph)


@pytest.fixture
def cloud(wire):
    number = Number(provider_name="106540352242922", provider_token="graph-token")
    sent = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+5511988887777", "wa_id": "551188887777"}],
        "messages": [{"id": "wamid.HBgM"}],
    }
    wire.answers["/106540352242922/messages"] = (200, sent)
    wire.answers["/106540352242922/media"] = (200, {"id": "1037543291543636"})
    return CloudProvider(wire.url), number


def test_cloud_uploads_a_file_then_sends_it_by_its_media_id(wire, cloud):
    provider, number = cloud
    content = OutboundContent(
        kind="document",
        media=samples.PDF,
        mime_type="application/pdf",
        file_name="nota.pdf",
        caption="Sua nota",
    )
    result = provider.send_content(number, PHONE, content, reference="job:7")
    upload, send = wire.requests
    assert upload.path == "/106540352242922/media"
    assert upload.headers["Authorization"] == "Bearer graph-token"
    form = upload.form()
    assert form["messaging_product"] == (None, "text/plain", b"whatsapp")
    assert form["type"] == (None, "text/plain", b"application/pdf")
    assert form["file"] == ("nota.pdf", "application/pdf", samples.PDF)
    assert send.path == "/106540352242922/messages"
    assert send.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": f"+{PHONE}",
        "type": "document",
        "document": {"id": "1037543291543636", "caption": "Sua nota", "filename": "nota.pdf"},
        "biz_opaque_callback_data": "job:7",
    }
    assert (result.provider_message_id, result.wa_id) == ("wamid.HBgM", "551188887777")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("image", {"type": "image", "image": {"id": "1037543291543636", "caption": "Oi"}}),
        ("video", {"type": "video", "video": {"id": "1037543291543636", "caption": "Oi"}}),
        ("audio", {"type": "audio", "audio": {"id": "1037543291543636"}}),
        ("voice", {"type": "audio", "audio": {"id": "1037543291543636", "voice": True}}),
        ("sticker", {"type": "sticker", "sticker": {"id": "1037543291543636"}}),
    ],
)
def test_cloud_sends_each_media_kind_by_id(wire, cloud, kind, expected):
    provider, number = cloud
    content = OutboundContent(kind=kind, media=b"x", mime_type="x/y", file_name="f", caption="Oi")
    provider.send_content(number, PHONE, content, reference="job:1")
    body = wire.requests[1].json()
    assert {k: body[k] for k in expected} == expected


def test_cloud_sends_a_location_contacts_and_a_reaction(wire, cloud):
    provider, number = cloud
    place = {"latitude": -23.5, "longitude": -46.6, "name": "Loja", "address": ""}
    cards = [{"name": "Ana Souza", "phones": ["5511988887777"]}]
    reaction = OutboundContent(kind="reaction", target="wamid.IN", emoji="❤️")
    provider.send_content(number, PHONE, OutboundContent(kind="location", location=place), "j")
    provider.send_content(number, PHONE, OutboundContent(kind="contacts", contacts=cards), "j")
    provider.send_content(number, PHONE, reaction, "j")
    located, carded, reacted = (r.json() for r in wire.requests)
    assert located["location"] == {"latitude": -23.5, "longitude": -46.6, "name": "Loja"}
    assert carded["contacts"] == [
        {
            "name": {"formatted_name": "Ana Souza", "first_name": "Ana", "last_name": "Souza"},
            "phones": [{"phone": "+5511988887777", "type": "CELL", "wa_id": "5511988887777"}],
        }
    ]
    assert reacted["type"] == "reaction"
    assert reacted["reaction"] == {"message_id": "wamid.IN", "emoji": "❤️"}


def test_cloud_marks_a_message_read(wire, cloud):
    provider, number = cloud
    provider.mark_read(number, PHONE, "wamid.IN")
    [request] = wire.requests
    assert request.path == "/106540352242922/messages"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN",
    }


def test_a_refused_upload_is_a_permanent_error_and_nothing_is_sent(wire, cloud):
    provider, number = cloud
    wire.answers["/106540352242922/media"] = (
        400,
        {"error": {"message": "Param file must be a file", "code": 100}},
    )
    content = OutboundContent(kind="image", media=b"x", mime_type="image/png", file_name="a")
    with pytest.raises(ProviderError) as refused:
        provider.send_content(number, PHONE, content, reference="job:1")
    assert not refused.value.transient and not refused.value.ambiguous
    assert [r.path for r in wire.requests] == ["/106540352242922/media"]


def test_cloud_writes_to_someone_known_only_by_username_through_recipient(wire, cloud):
    provider, number = cloud
    provider.send_text(number, "US.13491208655302741918", "Oi", reference="job:9")
    [request] = wire.requests
    body = request.json()
    assert body["recipient"] == "US.13491208655302741918"
    assert "to" not in body


def test_cloud_writes_to_a_phone_through_to(wire, cloud):
    provider, number = cloud
    provider.send_text(number, PHONE, "Oi", reference="job:9")
    [request] = wire.requests
    assert request.json()["to"] == f"+{PHONE}"
    assert "recipient" not in request.json()
