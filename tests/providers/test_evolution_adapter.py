"""The Evolution API v2 adapter against real webhook payloads (docs/providers.md §B2, SOURCES.md).

Every file in tests/fixtures/payloads/evolution has an explicit expectation below; a file without
one fails instead of being skipped.
"""

import copy
import json
from datetime import UTC, datetime

import pytest

from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.base import (
    ConnectionUpdate,
    InboundMessage,
    QrUpdate,
    StatusUpdate,
    Unparsed,
    WebhookMalformed,
)
from conversa.providers.evolution import EvolutionProvider
from conversa.providers.models import ProviderEvent
from tests.conftest import post_webhook
from tests.providers.conftest import PAYLOADS, load, payload_files

TEXT_CAPTURE = "messages_upsert_conversation_v2_msgorch.json"
OUR_SEND_ID = "3EB04CCC5A719363FF6FF5"  # send_message_v2_msgorch.json and its two updates
QR_CODE = (
    "2@xCLTLQpXqmnR1jld2wKbVGmXchdVSFR3QHQa+6BNF8EK8VeoKUTYklFySHt0rrgknAPgwBkD7y1IIQ==,"
    "Xl787d38Gmn0wbPMtlvd47VIqs1xzfsZQTTLgePiYmA=,"
    "XQTEs9Fx080JHolGhWrlheRKQo8WCPj0DqCbrrMLiU8=,"
    "r8hWahUUJqu7BJFq1l1dQopW2r3lEbOrWOyQJfmmZdY="
)

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def media(**given) -> dict:
    """content["media"] of an Evolution message: every key, empty unless given."""
    return {
        "id": "",
        "url": "",
        "mime_type": "",
        "file_name": "",
        "size": None,
        "sha256": "",
    } | given


EXPECTED = {
    # statusReason 401 is Baileys' loggedOut: this close will not reconnect.
    "connection_update_close_woofed.json": [
        ConnectionUpdate(status="disconnected", phone="5522999999999", reason="logged_out")
    ],
    "connection_update_connecting_v2_msgorch.json": [ConnectionUpdate(status="connecting")],
    "connection_update_open_v2_msgorch.json": [
        ConnectionUpdate(status="connected", phone="5216321123877")
    ],
    # v1.x "open" carries no wuid: the number comes from the envelope's sender.
    "connection_update_open_woofed.json": [
        ConnectionUpdate(status="connected", phone="5522999999999")
    ],
    "messages_update_delivery_ack_v2_msgorch.json": [
        StatusUpdate(provider_message_id=OUR_SEND_ID, status="delivered")
    ],
    # The customer's message was read by us: nothing to follow.
    "messages_update_read_incoming_v2_msgorch.json": [],
    # Same outbound message, now addressed by @lid: the status is still ours.
    "messages_update_read_lid_v2_msgorch.json": [
        StatusUpdate(provider_message_id=OUR_SEND_ID, status="read")
    ],
    "messages_upsert_conversation_v2_msgorch.json": [
        InboundMessage(
            provider_message_id="3EB0847B419598C9293971",
            phone="5216622001169",
            # remoteJidAlt: the same person's @lid, kept so that later @lid-only messages match.
            lid="176158201110710",
            name="Yo",
            kind="text",
            body="Florecilla dormida",
            # From messageTimestamp, not the envelope's date_time (server-local time marked Z).
            timestamp=datetime(2025, 12, 27, 6, 24, 40, tzinfo=UTC),
        )
    ],
    "messages_upsert_extended_text_woofed.json": [
        InboundMessage(
            provider_message_id="1AECB65CE8AC2CB38486D898090B5C87",
            phone="5522998980131",
            name="Hiro Arie",
            kind="text",
            body="Teste",
            timestamp=datetime.fromtimestamp(1707339876, tz=UTC),
        )
    ],
    "messages_upsert_image_base64_evo_crm_fixture.json": [
        InboundMessage(
            provider_message_id="3EB0EVIMG0001",
            phone="5511900000001",
            name="Contato Teste",
            kind="image",
            body="",
            timestamp=datetime.fromtimestamp(1790000000, tz=UTC),
            content={"media": media(mime_type="image/png", base64=PNG_1X1)},
        )
    ],
    "messages_upsert_image_percy2017.json": [
        InboundMessage(
            provider_message_id="3EB083096BF5E4096E4137",
            phone="59171146267",
            name="percy alvarez E1",
            kind="image",
            body="hola - text con multimedia (imagen)",
            timestamp=datetime.fromtimestamp(1746132796, tz=UTC),
            content={
                "media": media(
                    url=load("messages_upsert_image_percy2017.json")["data"]["message"][
                        "imageMessage"
                    ]["url"],
                    mime_type="image/jpeg",
                    size=52046,
                    sha256="hOGJCXvlENXj5fxZPPu8Ne6xHFM2S9WJPb/unywn5qE=",
                    # As published: shortened by its author, so not decodable (SOURCES.md).
                    base64=load("messages_upsert_image_percy2017.json")["data"]["message"][
                        "base64"
                    ],
                )
            },
        )
    ],
    "qrcode_updated_woofed.json": [QrUpdate(code=QR_CODE)],
    # Our own API send echoed back: the engine already recorded it.
    "send_message_v2_msgorch.json": [],
}

# The files this module checks; the ones for every message kind, test_real_kinds_evolution.py.
FILES = [PAYLOADS / name for name in sorted(EXPECTED)]


def capture(name: str) -> bytes:
    """The file's bytes, exactly as the provider sent them."""
    return (PAYLOADS / name).read_bytes()


def adapter() -> EvolutionProvider:
    return EvolutionProvider("http://evolution.invalid", "global-key")


def parse(payload) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return adapter().parse_webhook(Number(provider="evolution"), raw)


@pytest.fixture
def evolution_number(org) -> Number:
    """A number of the same organization connected through a real Evolution server."""
    return Number.objects.create(
        organization=org.org,
        name="Evolution number",
        provider=Number.Provider.EVOLUTION,
        provider_name="servicewa",
        status=Number.Status.CREATED,
    )


@pytest.fixture(params=["evolution", "sandbox"])
def webhook_number(request, org, evolution_number) -> Number:
    """Both transports that speak Evolution's protocol receive these payloads."""
    return evolution_number if request.param == "evolution" else org.number


# A. Every payload, through the adapter


def test_every_payload_file_has_an_expectation():
    """Files added for every message kind are checked in test_real_kinds_evolution.py."""
    from tests.providers.test_real_kinds_evolution import EXPECTED as KINDS

    assert FILES, f"no payloads found in {PAYLOADS}"
    assert {f.name for f in payload_files()} == set(EXPECTED) | set(KINDS)


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_payload_parses_to_its_expected_neutral_events(path):
    raw = path.read_bytes()
    parsed = adapter().parse_webhook(Number(provider="evolution"), raw)

    assert [item.event for item in parsed] == EXPECTED[path.name]
    for item in parsed:
        assert item.raw == json.loads(raw)
        assert item.dedupe_key
        assert len(item.dedupe_key) <= 200


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_payload_posted_twice_is_accepted_once(client, webhook_number, path):
    raw = path.read_bytes()
    expected = EXPECTED[path.name]
    inbound = [e for e in expected if isinstance(e, InboundMessage)]

    first = post_webhook(client, webhook_number, raw)

    assert first.status_code == 200, first.content
    assert first.json() == {"ok": True, "stored": len(expected), "duplicates": 0}
    events = ProviderEvent.objects.filter(number=webhook_number)
    assert sorted(events.values_list("kind", flat=True)) == sorted(
        type(e).__name__ for e in expected
    )
    assert all(event.payload == json.loads(raw) for event in events)
    assert Message.objects.count() == len(inbound)

    second = post_webhook(client, webhook_number, raw)

    assert second.status_code == 200
    assert second.json() == {"ok": True, "stored": 0, "duplicates": len(expected)}
    assert ProviderEvent.objects.count() == len(expected)
    assert Message.objects.count() == len(inbound)


# What the stored results look like, file by file


def test_conversation_text_is_stored_as_an_inbound_message(client, org):
    post_webhook(client, org.number, capture(TEXT_CAPTURE))

    message = Message.objects.get()
    assert message.direction == Message.Direction.INBOUND
    assert message.status == Message.Status.RECEIVED
    assert (message.kind, message.body) == ("text", "Florecilla dormida")
    assert message.provider_message_id == "3EB0847B419598C9293971"
    assert message.created_at == datetime(2025, 12, 27, 6, 24, 40, tzinfo=UTC)
    assert message.conversation.contact.phone == "5216622001169"
    assert message.conversation.contact.name == "Yo"
    assert message.organization == org.org


def test_extended_text_is_stored_as_text(client, org):
    post_webhook(client, org.number, capture("messages_upsert_extended_text_woofed.json"))

    message = Message.objects.get()
    assert (message.kind, message.body) == ("text", "Teste")
    assert message.conversation.contact.phone == "5522998980131"


def test_image_is_stored_as_image_with_its_caption(client, org):
    post_webhook(client, org.number, capture("messages_upsert_image_percy2017.json"))

    message = Message.objects.get()
    assert (message.kind, message.body) == ("image", "hola - text con multimedia (imagen)")


def test_image_without_caption_is_stored_as_image_with_empty_body(client, org):
    post_webhook(
        client,
        org.number,
        capture("messages_upsert_image_base64_evo_crm_fixture.json"),
    )

    message = Message.objects.get()
    assert (message.kind, message.body) == ("image", "")


def test_connection_open_marks_the_number_connected_with_its_phone(client, evolution_number):
    post_webhook(client, evolution_number, capture("connection_update_open_v2_msgorch.json"))

    evolution_number.refresh_from_db()
    assert evolution_number.status == Number.Status.CONNECTED
    assert evolution_number.phone_number == "5216321123877"
    assert evolution_number.last_activity_at is not None


def test_connection_close_marks_the_number_disconnected(client, org):
    post_webhook(client, org.number, capture("connection_update_close_woofed.json"))

    org.number.refresh_from_db()
    assert org.number.status == Number.Status.DISCONNECTED


def test_connecting_then_open_follow_each_other(client, evolution_number):
    for name in [
        "connection_update_connecting_v2_msgorch.json",
        "connection_update_open_v2_msgorch.json",
    ]:
        post_webhook(client, evolution_number, capture(name))

    evolution_number.refresh_from_db()
    assert evolution_number.status == Number.Status.CONNECTED
    assert ProviderEvent.objects.filter(number=evolution_number).count() == 2


def test_qr_update_keeps_the_code_to_scan(client, evolution_number):
    post_webhook(client, evolution_number, capture("qrcode_updated_woofed.json"))

    evolution_number.refresh_from_db()
    assert evolution_number.status == Number.Status.CONNECTING
    assert evolution_number.qr_code == QR_CODE
    assert evolution_number.last_activity_at is not None
    event = ProviderEvent.objects.get()
    assert event.kind == "QrUpdate"
    assert event.event == {"code": QR_CODE}


def test_captured_updates_advance_our_outbound_message(client, org):
    """The send captured in send_message_v2_msgorch.json, then its delivery and read updates."""
    conversation = org.conversation("5216622001169")
    message = inbox.new_outbound_message(conversation, "Feliz ano", acting_member=org.owner)
    Message.objects.filter(pk=message.pk).update(
        provider_message_id=OUR_SEND_ID, status=Message.Status.SENT
    )

    post_webhook(client, org.number, capture("send_message_v2_msgorch.json"))
    post_webhook(client, org.number, capture("messages_update_delivery_ack_v2_msgorch.json"))
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED

    post_webhook(client, org.number, capture("messages_update_read_lid_v2_msgorch.json"))
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert message.read_at is not None
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1
    assert not ProviderEvent.objects.filter(processed_at__isnull=True).exists()


def test_delivery_after_read_does_not_move_the_status_back(client, org):
    conversation = org.conversation("5216622001169")
    message = inbox.new_outbound_message(conversation, "Feliz ano", acting_member=org.owner)
    Message.objects.filter(pk=message.pk).update(
        provider_message_id=OUR_SEND_ID, status=Message.Status.SENT
    )

    post_webhook(client, org.number, capture("messages_update_read_lid_v2_msgorch.json"))
    post_webhook(client, org.number, capture("messages_update_delivery_ack_v2_msgorch.json"))

    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_status_for_a_send_not_recorded_yet_is_kept_unprocessed(client, org):
    post_webhook(client, org.number, capture("messages_update_delivery_ack_v2_msgorch.json"))

    event = ProviderEvent.objects.get()
    assert event.provider_message_id == OUR_SEND_ID
    assert event.processed_at is None


def test_read_of_an_incoming_message_changes_nothing(client, org):
    post_webhook(client, org.number, capture(TEXT_CAPTURE))
    post_webhook(client, org.number, capture("messages_update_read_incoming_v2_msgorch.json"))

    message = Message.objects.get()
    assert message.status == Message.Status.RECEIVED
    assert ProviderEvent.objects.count() == 1


def test_echo_of_our_own_send_stores_no_message(client, org):
    response = post_webhook(client, org.number, capture("send_message_v2_msgorch.json"))

    assert response.json() == {"ok": True, "stored": 0, "duplicates": 0}
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone="5216622001169").exists()


def test_payload_for_one_organization_never_lands_in_another(client, org, other_org):
    post_webhook(client, org.number, capture(TEXT_CAPTURE))

    assert Message.objects.get().organization == org.org
    assert not Message.objects.filter(organization=other_org.org).exists()
    assert not Contact.objects.filter(organization=other_org.org).exists()
    # The same capture for the other organization is its own message, not a duplicate.
    post_webhook(client, other_org.number, capture(TEXT_CAPTURE))
    assert Message.objects.filter(organization=other_org.org).count() == 1


# Variations of the real captures (addressing, statuses, shapes)


def upsert_capture() -> dict:
    return load(TEXT_CAPTURE)


def test_lid_addressed_message_takes_the_phone_from_remote_jid_alt():
    payload = upsert_capture()
    payload["data"]["key"].update(
        remoteJid="176158201110710@lid",
        remoteJidAlt="5216622001169@s.whatsapp.net",
        addressingMode="lid",
    )

    [item] = parse(payload)

    assert item.event.phone == "5216622001169"
    assert item.event.body == "Florecilla dormida"


def test_one_person_under_a_lid_and_a_phone_jid_is_one_contact_and_one_conversation(client, org):
    """WhatsApp addresses some contacts by a @lid id, with their phone JID beside it; the same
    person's next message can come under the plain phone JID."""
    by_lid = upsert_capture()
    by_lid["data"]["key"].update(
        remoteJid="176158201110710@lid",
        remoteJidAlt="5216622001169@s.whatsapp.net",
        addressingMode="lid",
        id="3EB0LID000000000000001",
    )
    by_phone = upsert_capture()
    by_phone["data"]["key"] = {
        "remoteJid": "5216622001169@s.whatsapp.net",
        "fromMe": False,
        "id": "3EB0PN0000000000000002",
    }
    by_phone["data"]["message"] = {"conversation": "Sou eu de novo"}

    for payload in (by_lid, by_phone):
        assert post_webhook(client, org.number, payload).status_code == 200

    contact = Contact.objects.get(organization=org.org)
    assert contact.phone == "5216622001169"
    conversation = Conversation.objects.get(organization=org.org)
    assert conversation.contact == contact
    assert list(conversation.messages.order_by("id").values_list("body", flat=True)) == [
        "Florecilla dormida",
        "Sou eu de novo",
    ]


def test_lid_addressed_message_without_a_phone_jid_is_a_message_with_its_lid():
    payload = upsert_capture()
    payload["data"]["key"].update(remoteJid="176158201110710@lid", addressingMode="lid")
    del payload["data"]["key"]["remoteJidAlt"]

    [item] = parse(payload)

    assert (item.event.phone, item.event.lid) == ("", "176158201110710")
    assert item.event.body == "Florecilla dormida"


def test_phone_ignores_the_device_suffix_of_the_jid():
    payload = upsert_capture()
    payload["data"]["key"]["remoteJid"] = "5216622001169:12@s.whatsapp.net"

    [item] = parse(payload)

    assert item.event.phone == "5216622001169"


def test_group_message_is_not_a_conversation():
    payload = upsert_capture()
    payload["data"]["key"].update(
        remoteJid="120363025246125486@g.us", participant="5216622001169@s.whatsapp.net"
    )
    del payload["data"]["key"]["remoteJidAlt"]

    assert [i.event for i in parse(payload)] == [Unparsed(reason="group chats are not supported")]


def test_own_message_in_upsert_is_a_message_typed_on_the_business_phone():
    payload = upsert_capture()
    payload["data"]["key"]["fromMe"] = True

    [item] = parse(payload)

    assert item.event.from_me is True
    assert (item.event.phone, item.event.name) == ("5216622001169", "")


def test_unknown_message_type_is_stored_as_unsupported_with_its_type():
    payload = upsert_capture()
    payload["data"]["message"] = {"productMessage": {"product": {"title": "?"}}}

    [item] = parse(payload)

    assert (item.event.kind, item.event.body) == ("unsupported", "")
    assert item.event.content == {"type": "productMessage"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SERVER_ACK", "sent"),
        ("DELIVERY_ACK", "delivered"),
        ("READ", "read"),
        ("PLAYED", "read"),
        ("ERROR", "failed"),
        (2, "sent"),
        (3, "delivered"),
        (4, "read"),
    ],
)
def test_outbound_status_names_and_numbers_map_to_message_statuses(status, expected):
    payload = load("messages_update_delivery_ack_v2_msgorch.json")
    payload["data"]["status"] = status

    [item] = parse(payload)

    assert item.event == StatusUpdate(provider_message_id=OUR_SEND_ID, status=expected)
    assert item.dedupe_key == f"status:{OUR_SEND_ID}:{expected}"


@pytest.mark.parametrize("status", ["PENDING", "DELETED", 1])
def test_status_that_says_nothing_new_is_ignored(status):
    payload = load("messages_update_delivery_ack_v2_msgorch.json")
    payload["data"]["status"] = status

    assert parse(payload) == []


def test_delivered_and_read_of_one_message_are_two_events():
    delivered = parse(capture("messages_update_delivery_ack_v2_msgorch.json"))
    read = parse(capture("messages_update_read_lid_v2_msgorch.json"))

    assert delivered[0].dedupe_key != read[0].dedupe_key


def test_connection_events_at_different_times_are_distinct():
    first = load("connection_update_open_v2_msgorch.json")
    later = copy.deepcopy(first)
    later["date_time"] = "2026-01-02T08:00:00.000Z"

    assert parse(first)[0].dedupe_key != parse(later)[0].dedupe_key


def test_refused_connection_is_disconnected_with_its_reason():
    payload = load("connection_update_connecting_v2_msgorch.json")
    payload["data"]["state"] = "refused"

    assert [i.event for i in parse(payload)] == [
        ConnectionUpdate(status="disconnected", reason="refused")
    ]


def test_a_transient_close_is_reconnecting_not_disconnected():
    payload = load("connection_update_close_woofed.json")
    payload["data"]["statusReason"] = 428

    assert [i.event for i in parse(payload)] == [
        ConnectionUpdate(status="connecting", phone="5522999999999", reason="reconnecting")
    ]


def test_number_status_closed_is_a_logout():
    payload = load("connection_update_close_woofed.json")
    payload.update(event="status.instance", data={"instance": "woofedinstance", "status": "closed"})

    assert [i.event for i in parse(payload)] == [
        ConnectionUpdate(status="disconnected", reason="logged_out")
    ]


def test_number_status_created_says_nothing_new():
    payload = load("connection_update_close_woofed.json")
    payload.update(
        event="STATUS_INSTANCE", data={"instance": "woofedinstance", "status": "created"}
    )

    assert parse(payload) == []


def test_logout_event_with_null_data_is_a_logout():
    payload = load("connection_update_close_woofed.json")
    payload.update(event="logout.instance", data=None)

    [item] = parse(payload)

    assert item.event == ConnectionUpdate(status="disconnected", reason="logged_out")
    assert item.dedupe_key == f"logout:{payload['date_time']}"


def test_removed_number_with_null_data_is_ignored_not_malformed():
    payload = load("connection_update_close_woofed.json")
    payload.update(event="remove.number", data=None)

    assert parse(payload) == []


def test_qr_limit_message_is_not_a_qr():
    payload = load("qrcode_updated_woofed.json")
    payload["data"] = {"message": "QR code limit reached, please login again", "statusCode": 500}

    assert parse(payload) == []


def test_document_with_a_caption_is_a_document():
    payload = upsert_capture()
    document = {"fileName": "menu.pdf", "mimetype": "application/pdf", "caption": "Menu"}
    payload["data"]["message"] = {
        "documentWithCaptionMessage": {"message": {"documentMessage": document}}
    }

    [item] = parse(payload)

    assert (item.event.kind, item.event.body) == ("document", "Menu")


def test_baileys_sender_pn_gives_the_phone_of_a_lid_contact():
    payload = upsert_capture()
    del payload["data"]["key"]["remoteJidAlt"]
    payload["data"]["key"].update(
        remoteJid="176158201110710@lid", senderPn="5216622001169@s.whatsapp.net"
    )

    [item] = parse(payload)

    assert item.event.phone == "5216622001169"


def test_upper_case_event_names_are_understood():
    payload = upsert_capture()
    payload["event"] = "MESSAGES_UPSERT"

    assert [i.event for i in parse(payload)] == EXPECTED[TEXT_CAPTURE]


@pytest.mark.parametrize("event", ["contacts.update", "chats.upsert", "presence.update", "call"])
def test_events_we_do_not_follow_are_ignored(event):
    payload = upsert_capture()
    payload["event"] = event

    assert parse(payload) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'"text"',
    ],
    ids=["empty", "broken", "not-utf8", "list", "string"],
)
def test_body_that_is_not_a_json_object_is_malformed(raw):
    with pytest.raises(WebhookMalformed):
        adapter().parse_webhook(Number(provider="evolution"), raw)


@pytest.mark.parametrize(
    "raw",
    [b'{"event": "messages.upsert"}', b'{"event": "messages.upsert", "data": "x"}'],
    ids=["no-data", "data-not-object"],
)
def test_event_without_its_data_is_one_unparsed_event(raw):
    [item] = adapter().parse_webhook(Number(provider="evolution"), raw)

    assert item.event == Unparsed(reason="messages.upsert: 'data' is not an object")
    assert item.dedupe_key.startswith("unparsed:")


def test_upsert_without_key_is_unparsed_with_the_reason():
    payload = upsert_capture()
    del payload["data"]["key"]

    [item] = parse(payload)

    assert item.event == Unparsed(reason="messages.upsert: KeyError: missing field 'key'")
