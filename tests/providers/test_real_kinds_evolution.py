"""Every message kind, addressing and change Evolution API sends, read from published payloads
(tests/fixtures/payloads/evolution, sources in SOURCES.md) into the exact neutral events.

The files checked in test_evolution_adapter.py (text, images, statuses, connection) are not
repeated here; together the two modules cover every file in the folder.
"""

import copy
import json
from datetime import UTC, datetime

import pytest

from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage, MessageChange, Unparsed
from conversa.providers.evolution import EvolutionProvider
from conversa.providers.models import ProviderEvent
from conversa.providers.webhook_json import unparsed_key
from tests.conftest import post_webhook
from tests.providers.conftest import PAYLOADS, load

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
# The evo-ai-crm fixtures: one customer, one time.
EVO_CRM = {"phone": "5511900000001", "timestamp": datetime.fromtimestamp(1790000000, tz=UTC)}
# The Megaapi captures (Baileys, July 2023): one customer.
MEGAAPI = {"phone": "556195562618", "name": "Megaapi"}
# The msgorch v2 capture that the derived files change.
MSGORCH = {
    "provider_message_id": "3EB0847B419598C9293971",
    "name": "Yo",
    "kind": "text",
    "body": "Florecilla dormida",
    "timestamp": datetime(2025, 12, 27, 6, 24, 40, tzinfo=UTC),
}
LID = "176158201110710"
MSGORCH_PHONE = "5216622001169"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def media(**given) -> dict:
    return {
        "media": {"id": "", "url": "", "mime_type": "", "file_name": "", "size": None, "sha256": ""}
        | given
    }


def message_of(name: str) -> dict:
    return load(name)["data"]["message"]


def url_of(name: str, key: str) -> str:
    return message_of(name)[key]["url"]


# file → [(event, dedupe key)]
EXPECTED = {
    # Addressing (derived from the real v2 capture: see SOURCES.md)
    "messages_upsert_lid_only_derived_msgorch.json": [
        (
            InboundMessage(phone="", lid=LID, **MSGORCH),
            "message:3EB0847B419598C9293971",
        )
    ],
    "messages_upsert_lid_with_phone_alt_derived_msgorch.json": [
        (
            InboundMessage(phone=MSGORCH_PHONE, lid=LID, **MSGORCH),
            "message:3EB0847B419598C9293971",
        )
    ],
    # Typed on the business phone: the chat's customer, no pushName (it is the business's).
    "messages_upsert_from_me_derived_msgorch.json": [
        (
            InboundMessage(phone=MSGORCH_PHONE, lid=LID, from_me=True, **(MSGORCH | {"name": ""})),
            "message:3EB0847B419598C9293971",
        )
    ],
    "messages_upsert_group_derived_msgorch.json": [
        (
            Unparsed(reason="group chats are not supported"),
            unparsed_key(
                {
                    "event": "messages.upsert",
                    "data": load("messages_upsert_group_derived_msgorch.json")["data"],
                }
            ),
        )
    ],
    # Kinds: Baileys captures (Megaapi) in Evolution's envelope
    "messages_upsert_voice_note_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="5FD1F41408F697B674CA3ADD605687A1",
                kind="voice",
                body="",
                timestamp=at(1688998845),
                content=media(
                    url=url_of("messages_upsert_voice_note_megaapi_baileys.json", "audioMessage"),
                    mime_type="audio/ogg; codecs=opus",
                    size=5999,
                    sha256="SwdQv1V6r5t6mipVz/Pahu20eqM+TgZ32eNc+6PMzs0=",
                ),
                **MEGAAPI,
            ),
            "message:5FD1F41408F697B674CA3ADD605687A1",
        )
    ],
    "messages_upsert_video_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="DB14180A5E463B5C8E07F1FEFA705EF9",
                kind="video",
                body="",
                timestamp=at(1688998950),
                content=media(
                    url=url_of("messages_upsert_video_megaapi_baileys.json", "videoMessage"),
                    mime_type="video/mp4",
                    size=487315,
                    sha256="b6z2N6v3uBPue2q29GTMk6TiBjUgHibivf07PsY6Cyg=",
                ),
                **MEGAAPI,
            ),
            "message:DB14180A5E463B5C8E07F1FEFA705EF9",
        )
    ],
    "messages_upsert_document_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="8C214F71959E3EA008D129EE1B743334",
                kind="document",
                body="",
                timestamp=at(1688999107),
                content=media(
                    url=url_of("messages_upsert_document_megaapi_baileys.json", "documentMessage"),
                    mime_type="application/pdf",
                    file_name="[ REAL ] WHATSAPP INBANÍVEL EM 3 HORAS.pdf",
                    size=1985112,
                    sha256="NOw6/zCb33IZFUusxXGnejT2iNscny06BgMuirkSHNY=",
                ),
                **MEGAAPI,
            ),
            "message:8C214F71959E3EA008D129EE1B743334",
        )
    ],
    "messages_upsert_sticker_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="53A80274EFAEA9AA2DB3C0B127004574",
                kind="sticker",
                body="",
                timestamp=at(1689000108),
                content=media(
                    url=url_of("messages_upsert_sticker_megaapi_baileys.json", "stickerMessage"),
                    mime_type="image/webp",
                    size=493618,
                    sha256="nkX+umCp5W00cOg2j9B0pUcSZEKPQmvhraKSX0pE72k=",
                ),
                **MEGAAPI,
            ),
            "message:53A80274EFAEA9AA2DB3C0B127004574",
        )
    ],
    # A pin dropped without a name: the coordinates are what a person reads.
    "messages_upsert_location_current_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="F898EA4B2090B20B31A7355A57FA252A",
                kind="location",
                body="📍 -15.7666614, -48.2620458",
                timestamp=at(1688999857),
                content={
                    "latitude": -15.7666614,
                    "longitude": -48.2620458,
                    "name": "",
                    "address": "",
                    "url": "",
                },
                **MEGAAPI,
            ),
            "message:F898EA4B2090B20B31A7355A57FA252A",
        )
    ],
    # A business card: "item1.TEL;waid=…" is a TEL line with its WhatsApp id.
    "messages_upsert_contact_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="65DC5A8B44D117A791EF84855ED866B8",
                kind="contacts",
                body="👤 Mega Api - api integração com wpp",
                timestamp=at(1688999946),
                content={
                    "contacts": [
                        {
                            "name": "Mega Api - api integração com wpp",
                            "phones": ["+55 61 8192-6137"],
                            "wa_ids": ["556181926137"],
                        }
                    ]
                },
                **MEGAAPI,
            ),
            "message:65DC5A8B44D117A791EF84855ED866B8",
        )
    ],
    # An order-review card: no kind of ours, kept with its type and the message it answers.
    "messages_upsert_interactive_message_megaapi_baileys.json": [
        (
            InboundMessage(
                provider_message_id="93B9DA99E50EE89C9CC2E8FAB30551AD",
                kind="unsupported",
                body="",
                timestamp=at(1689000322),
                content={"type": "interactiveMessage"},
                reply_to="0B90675CF538A5889039E8EAAF04C9E2",
                **MEGAAPI,
            ),
            "message:93B9DA99E50EE89C9CC2E8FAB30551AD",
        )
    ],
    # Kinds, wrappers and changes: the Evolution foundation's source-derived fixtures
    "ephemeral_text_evo_crm_fixture.json": [
        (
            InboundMessage(
                provider_message_id="3EB0EVEPHM0001",
                name="Contato Teste",
                kind="text",
                body="mensagem temporária",
                **EVO_CRM,
            ),
            "message:3EB0EVEPHM0001",
        )
    ],
    "ephemeral_image_base64_evo_crm_fixture.json": [
        (
            InboundMessage(
                provider_message_id="3EB0EVEPHIMG0001",
                name="Contato Teste",
                kind="image",
                body="",
                content=media(mime_type="image/png", base64=PNG_1X1),
                **EVO_CRM,
            ),
            "message:3EB0EVEPHIMG0001",
        )
    ],
    "location_named_evo_crm_fixture.json": [
        (
            InboundMessage(
                provider_message_id="3EB0EVLOC0001",
                name="Contato Teste",
                kind="location",
                body="📍 Praça da Sé, Sé, São Paulo - SP",
                content={
                    "latitude": -23.5505,
                    "longitude": -46.6333,
                    "name": "Praça da Sé",
                    "address": "Sé, São Paulo - SP",
                    "url": "",
                },
                **EVO_CRM,
            ),
            "message:3EB0EVLOC0001",
        )
    ],
    "contact_evo_crm_fixture.json": [
        (
            InboundMessage(
                provider_message_id="3EB0EVCONT0001",
                name="Contato Teste",
                kind="contacts",
                body="👤 Carol Souza",
                content={
                    "contacts": [
                        {
                            "name": "Carol Souza",
                            "phones": ["+55 11 90000-0002"],
                            "wa_ids": ["5511900000002"],
                        }
                    ]
                },
                **EVO_CRM,
            ),
            "message:3EB0EVCONT0001",
        )
    ],
    "poll_creation_v3_evo_crm_fixture.json": [
        (
            InboundMessage(
                provider_message_id="3EB0EVPOLL0001",
                name="Contato Teste",
                kind="poll",
                body="📊 Qual horário?",
                content={"question": "Qual horário?", "options": ["Manhã", "Tarde"], "votes": {}},
                **EVO_CRM,
            ),
            "message:3EB0EVPOLL0001",
        )
    ],
    # Nothing but metadata: kept, with the type Evolution named it by.
    "context_only_evo_crm_fixture.json": [
        (
            InboundMessage(
                provider_message_id="3EB0EVCTX0001",
                name="Contato Teste",
                kind="unsupported",
                body="",
                content={"type": "messageContextInfo"},
                **EVO_CRM,
            ),
            "message:3EB0EVCTX0001",
        )
    ],
    "reaction_evo_crm_fixture.json": [
        (
            MessageChange(
                provider_message_id="3EB0ORIGINAL0001", change="reaction", emoji="👍", **EVO_CRM
            ),
            "change:3EB0EVREACT0001",
        )
    ],
    "reaction_remove_evo_crm_fixture.json": [
        (
            MessageChange(
                provider_message_id="3EB0ORIGINAL0001", change="reaction", emoji="", **EVO_CRM
            ),
            "change:3EB0EVREACT0002",
        )
    ],
    # protocolMessage without `type`: protobufjs leaves out REVOKE, the zero value.
    "revoke_upsert_evo_crm_fixture.json": [
        (
            MessageChange(
                provider_message_id="3EB0ORIGINAL0001",
                change="revoke",
                phone="5511900000001",
            ),
            "change:3EB0EVREVK0001",
        )
    ],
    "edit_in_ephemeral_evo_crm_fixture.json": [
        (
            MessageChange(
                provider_message_id="3EB0ORIGINAL0001",
                change="edit",
                body="texto editado",
                phone="5511900000001",
                timestamp=datetime.fromtimestamp(1790000000.003, tz=UTC),
            ),
            "change:3EB0EVEDIT0001",
        )
    ],
    # Evolution v2.3's own events for changes (derived from its source: SOURCES.md)
    "messages_edited_derived_source.json": [
        (
            MessageChange(
                provider_message_id="3EB0847B419598C9293971",
                change="edit",
                body="Florecilla despierta",
                phone=MSGORCH_PHONE,
                timestamp=datetime(2025, 12, 27, 6, 25, tzinfo=UTC),
            ),
            None,  # no id of its own: a key made of the target and the change (tested below)
        )
    ],
    "messages_delete_derived_source.json": [
        (
            MessageChange(
                provider_message_id="3EB0847B419598C9293971", change="revoke", phone=MSGORCH_PHONE
            ),
            "change:revoke:3EB0847B419598C9293971",
        )
    ],
}


def adapter() -> EvolutionProvider:
    return EvolutionProvider("http://evolution.invalid", "global-key")


def parse(payload) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return adapter().parse_webhook(Number(provider="evolution"), raw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_payload_reads_as_its_exact_events(name):
    raw = (PAYLOADS / name).read_bytes()

    parsed = parse(raw)

    assert [item.event for item in parsed] == [event for event, _ in EXPECTED[name]]
    for item, (_, key) in zip(parsed, EXPECTED[name], strict=True):
        assert item.dedupe_key == key or key is None
        assert item.raw == json.loads(raw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_payload_posted_twice_is_stored_once(client, org, name):
    raw = (PAYLOADS / name).read_bytes()
    count = len(EXPECTED[name])

    first = post_webhook(client, org.number, raw)
    second = post_webhook(client, org.number, raw)

    assert first.json() == {"ok": True, "stored": count, "duplicates": 0}
    assert second.json() == {"ok": True, "stored": 0, "duplicates": count}
    assert ProviderEvent.objects.filter(number=org.number).count() == count


def test_an_edit_event_is_one_event_however_often_it_is_sent_and_each_edit_is_another():
    edit = load("messages_edited_derived_source.json")
    again = parse(edit)[0].dedupe_key
    other = copy.deepcopy(edit)
    other["data"]["editedMessage"] = {"conversation": "Florecilla de nuevo"}

    assert parse(edit)[0].dedupe_key == again
    assert again.startswith("change:3EB0847B419598C9293971:")
    assert parse(other)[0].dedupe_key != again


# Shapes no published capture shows: each from the real v2 capture with its `message` replaced by
# what Baileys' WAProto names, and what the adapter reads from it.


def upsert_with(message: dict, **data) -> dict:
    payload = load("messages_upsert_conversation_v2_msgorch.json")
    payload["data"]["message"] = message
    payload["data"].update(data)
    return payload


def only(payload) -> InboundMessage:
    [item] = parse(payload)
    return item.event


@pytest.mark.parametrize(
    ("message", "choice"),
    [
        (
            {"buttonsResponseMessage": {"selectedButtonId": "yes", "selectedDisplayText": "Sim"}},
            {"id": "yes", "title": "Sim", "description": ""},
        ),
        (
            {
                "listResponseMessage": {
                    "title": "Corte de cabelo",
                    "description": "30 min",
                    "listType": 1,
                    "singleSelectReply": {"selectedRowId": "servico:4"},
                }
            },
            {"id": "servico:4", "title": "Corte de cabelo", "description": "30 min"},
        ),
        (
            {"templateButtonReplyMessage": {"selectedId": "track", "selectedDisplayText": "Track"}},
            {"id": "track", "title": "Track", "description": ""},
        ),
        (
            {
                "interactiveResponseMessage": {
                    "body": {"text": "Confirmar"},
                    "nativeFlowResponseMessage": {
                        "name": "quick_reply",
                        "paramsJson": '{"id": "confirm"}',
                    },
                }
            },
            {"id": "confirm", "title": "Confirmar", "description": ""},
        ),
    ],
    ids=["buttons", "list", "template-button", "native-flow"],
)
def test_a_button_or_list_answer_is_a_choice(message, choice):
    event = only(upsert_with(message))

    assert (event.kind, event.body, event.content) == ("choice", choice["title"], choice)


@pytest.mark.parametrize(
    "wrapper", ["viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension"]
)
def test_view_once_media_is_read_inside_its_wrapper(wrapper):
    image = {"mimetype": "image/jpeg", "caption": "uma vez", "fileLength": {"low": 7, "high": 0}}

    event = only(upsert_with({wrapper: {"message": {"imageMessage": image}}}))

    assert (event.kind, event.body) == ("image", "uma vez")
    assert event.content["media"]["size"] == 7


def test_document_with_caption_is_read_inside_its_wrapper():
    document = {"fileName": "menu.pdf", "mimetype": "application/pdf", "caption": "Menu"}
    wrapped = {"documentWithCaptionMessage": {"message": {"documentMessage": document}}}

    event = only(upsert_with(wrapped))

    assert (event.kind, event.body) == ("document", "Menu")
    assert event.content["media"]["file_name"] == "menu.pdf"


def test_a_quoted_reply_and_an_ad_click_are_read_from_v2_data_context_info():
    """v2.3 moves the text's contextInfo to data.contextInfo when it rewrites the message."""
    context = {
        "stanzaId": "3EB0QUOTED000001",
        "externalAdReply": {
            "title": "Promo",
            "body": "50% off",
            "sourceUrl": "https://fb.me/ad",
            "sourceType": "ad",
        },
    }

    event = only(upsert_with({"conversation": "Quero"}, contextInfo=context))

    assert event.reply_to == "3EB0QUOTED000001"
    assert event.content == {
        "referral": {
            "headline": "Promo",
            "body": "50% off",
            "source_url": "https://fb.me/ad",
            "source_type": "ad",
        }
    }


def test_several_cards_in_one_message_are_each_a_contact():
    cards = [
        {
            "displayName": "Ana",
            "vcard": "BEGIN:VCARD\nFN:Ana\nTEL;waid=5511911112222:+55 11 91111-2222\nEND:VCARD",
        },
        {"displayName": "Bia", "vcard": "BEGIN:VCARD\nFN:Bia\nTEL:+55 11 3333-4444\nEND:VCARD"},
    ]

    event = only(upsert_with({"contactsArrayMessage": {"displayName": "2", "contacts": cards}}))

    assert (event.kind, event.body) == ("contacts", "👤 Ana, Bia")
    assert event.content["contacts"] == [
        {"name": "Ana", "phones": ["+55 11 91111-2222"], "wa_ids": ["5511911112222"]},
        {"name": "Bia", "phones": ["+55 11 3333-4444"], "wa_ids": []},
    ]


def test_live_location_and_order_keep_what_they_carry():
    live = only(
        upsert_with({"liveLocationMessage": {"degreesLatitude": 1.5, "degreesLongitude": 2}})
    )
    order = only(
        upsert_with(
            {
                "orderMessage": {
                    "orderId": "994",
                    "itemCount": 3,
                    "message": "",
                    "orderTitle": "Loja",
                }
            }
        )
    )

    assert (live.kind, live.body) == ("location", "📍 1.5, 2")
    assert (order.kind, order.body) == ("order", "🛒 Order: 3 item(s)")
    assert order.content["order_id"] == "994"


@pytest.mark.parametrize(
    ("remote", "reason"),
    [
        ("status@broadcast", "status updates and broadcast lists are not supported"),
        ("120363400000000000@newsletter", "channels (newsletters) are not supported"),
    ],
)
def test_status_updates_and_channels_are_kept_unparsed(remote, reason):
    payload = load("messages_upsert_conversation_v2_msgorch.json")
    payload["data"]["key"]["remoteJid"] = remote

    assert [item.event for item in parse(payload)] == [Unparsed(reason=reason)]


def test_a_change_to_the_chat_setting_is_kept_unparsed_not_read_as_a_message():
    payload = upsert_with({"protocolMessage": {"key": {"id": "X"}, "type": "EPHEMERAL_SETTING"}})

    [item] = parse(payload)

    assert isinstance(item.event, Unparsed)
    assert "EPHEMERAL_SETTING" in item.event.reason


def test_a_bad_message_in_a_batch_is_one_unparsed_event_and_the_others_are_read():
    good = load("messages_upsert_conversation_v2_msgorch.json")
    bad = copy.deepcopy(good["data"])
    bad["key"]["id"] = "x" * 300
    good["data"] = [good["data"], bad]

    parsed = parse(good)

    assert [type(item.event).__name__ for item in parsed] == ["InboundMessage", "Unparsed"]
    assert "message id is empty or over 128 chars" in parsed[1].event.reason


def test_an_unreadable_size_or_time_is_unknown_and_the_message_is_kept():
    audio = copy.deepcopy(message_of("messages_upsert_voice_note_megaapi_baileys.json"))
    audio["audioMessage"]["fileLength"] = "many"

    event = only(upsert_with(audio, messageTimestamp={"low": "x"}))

    assert (event.kind, event.content["media"]["size"], event.timestamp) == ("voice", None, None)
