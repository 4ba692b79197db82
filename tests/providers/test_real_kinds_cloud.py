"""Every message kind, sender identity and event of the WhatsApp Cloud API, read from published
payloads (tests/fixtures/payloads/cloud, sources in SOURCES.md) into the exact neutral events.

The files checked in test_cloud.py (text, image, buttons, statuses, batch) are not repeated here;
together the two modules cover every file in the folder.
"""

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conversa.numbers.models import Number
from conversa.providers.base import (
    IdentityUpdate,
    InboundMessage,
    MessageChange,
    StatusUpdate,
    Unparsed,
    WebhookMalformed,
)
from conversa.providers.cloud import CloudProvider
from conversa.providers.models import ProviderEvent
from conversa.providers.webhook_json import unparsed_key

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads" / "cloud"
SECRET = "app-secret-for-tests"  # noqa: S105

# pywa's customer: a phone, a business-scoped user id and a profile name.
PYWA = {"phone": "972987654321", "user_id": "US.13491208655302741918", "name": "Test Name"}
PYWA_CHANGE = {"phone": "972987654321", "user_id": "US.13491208655302741918"}
ERRORS_131051 = [
    {
        "code": 131051,
        "title": "Message type unknown",
        "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."},
    }
]


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def media(**given) -> dict:
    return {
        "media": {"id": "", "url": "", "mime_type": "", "file_name": "", "size": None, "sha256": ""}
        | given
    }


def first_item(name: str, items: str = "messages") -> dict:
    payload = json.loads((PAYLOADS / name).read_bytes())
    return payload["entry"][0]["changes"][0]["value"][items][0]


# file → [(event, dedupe key)]
EXPECTED = {
    "image_no_caption_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="image",
                body="",
                timestamp=at(1697043379),
                content=media(id="65463453", mime_type="image/jpeg", sha256="4654+8g="),
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "video_forwarded_caption_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="video",
                body="caption",
                timestamp=at(1697044362),
                content=media(
                    id="765756756",
                    mime_type="video/mp4",
                    sha256="Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc=",
                ),
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "document_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="document",
                body="caption",
                timestamp=at(1697043666),
                content=media(
                    id="1234567890987654321",
                    mime_type="application/pdf",
                    file_name="filename.pdf",
                    sha256="grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY=",
                ),
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "audio_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="audio",
                body="",
                timestamp=at(1697043509),
                content=media(
                    id="1234567890987654321",
                    mime_type="audio/ogg; codecs=opus",
                    sha256="E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA=",
                ),
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "audio_voice_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="voice",
                body="",
                timestamp=at(1697043473),
                content=media(
                    id="1234567890987654321",
                    mime_type="audio/ogg; codecs=opus",
                    sha256="m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=",
                ),
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "sticker_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="sticker",
                body="",
                timestamp=at(1697043760),
                content=media(
                    id="1234567890987654321",
                    mime_type="image/webp",
                    sha256="OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc=",
                ),
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "location_named_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="location",
                body="📍 Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025",
                timestamp=at(1697044557),
                content={
                    "latitude": 37.4611978,
                    "longitude": -122.2164385,
                    "name": "Facebook HQ",
                    "address": "1 Hacker Way, Menlo Park, CA 94025",
                    "url": "https://maps.google.com/?cid=2000000000000000000",
                },
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "location_current_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="location",
                body="📍 12.25089, 43.90539",
                timestamp=at(1697044557),
                content={
                    "latitude": 12.25089,
                    "longitude": 43.90539,
                    "name": "",
                    "address": "",
                    "url": "",
                },
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "contacts_three_cards_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="contacts",
                body="👤 Chandler Bing, Monica, Rachel Green",
                timestamp=at(1697044621),
                content={
                    "contacts": [
                        {
                            "name": "Chandler Bing",
                            "phones": ["+1 555-555-5555"],
                            "wa_ids": ["972987654321"],
                        },
                        {
                            "name": "Monica",
                            "phones": ["+1 666-666-6666"],
                            "wa_ids": ["972987654321"],
                        },
                        {
                            "name": "Rachel Green",
                            "phones": ["+1 777-777-7777"],
                            "wa_ids": ["972987654321"],
                        },
                    ]
                },
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "interactive_list_reply_description_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.zyzxyz",
                kind="choice",
                body="title",
                timestamp=at(1698266905),
                content={"id": "callback_data", "title": "title", "description": "description"},
                reply_to="wamid.xyzxyz",
                **PYWA,
            ),
            "message:wamid.zyzxyz",
        )
    ],
    "interactive_nfm_reply_flow_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.wegrchytvwcggt==",
                kind="choice",
                body="Sent",
                timestamp=at(1702502473),
                content={
                    "id": "flow",
                    "title": "Sent",
                    "description": "",
                    "response_json": first_item("interactive_nfm_reply_flow_pywa.json")[
                        "interactive"
                    ]["nfm_reply"]["response_json"],
                },
                reply_to="wamid.gvwegfretge==",
                **PYWA,
            ),
            "message:wamid.wegrchytvwcggt==",
        )
    ],
    # The interactive object is missing (Meta's error 131000 beside it): kept, never a 400.
    "interactive_without_object_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.wegrchytvwcggt=",
                kind="unsupported",
                body="",
                timestamp=at(1700505494),
                content={
                    "type": "interactive",
                    "errors": [
                        {
                            "code": 131000,
                            "title": "Something went wrong",
                            "message": "Something went wrong",
                            "error_data": {"details": "Unsupported webhook payload"},
                        }
                    ],
                },
                reply_to="wamid.gvwegfretge==",
                **PYWA,
            ),
            "message:wamid.wegrchytvwcggt=",
        )
    ],
    # A template quick reply from a sender known by phone and user id (`from_user_id`).
    "button_quick_reply_from_user_id_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xsidjx",
                kind="choice",
                body="title",
                timestamp=at(1698269027),
                content={"id": "callback_data", "title": "title", "description": ""},
                **PYWA,
            ),
            "message:wamid.xsidjx",
        )
    ],
    "order_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="order",
                body="🛒 Order: 3 item(s)",
                timestamp=at(1697044668),
                content={
                    "catalog_id": "354160437058781",
                    "items": [
                        {"product_id": "HAMBURGER", "quantity": 3, "price": 30, "currency": "ILS"},
                        {
                            "product_id": "FRENCH_FRIES",
                            "quantity": 2,
                            "price": 35,
                            "currency": "ILS",
                        },
                        {"product_id": "SODA", "quantity": 2, "price": 10, "currency": "ILS"},
                    ],
                    "text": "",
                },
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    "text_ad_referral_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.ID",
                kind="text",
                body="BODY",
                timestamp=at(1697045000),
                content={
                    "referral": {
                        "headline": "AD_TITLE",
                        "body": "AD_DESCRIPTION",
                        "source_url": "AD_OR_POST_FB_URL",
                        "source_type": "ad or post",
                    }
                },
                **PYWA,
            ),
            "message:wamid.ID",
        )
    ],
    "unsupported_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="unsupported",
                body="",
                timestamp=at(1697044706),
                content={"type": "unsupported", "errors": ERRORS_131051},
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    # Newer Graph versions name the kind they do not deliver ("pool", as published).
    "unsupported_with_type_pywa.json": [
        (
            InboundMessage(
                provider_message_id="wamid.xyzxyz",
                kind="unsupported",
                body="",
                timestamp=at(1697044706),
                content={"type": "pool", "errors": ERRORS_131051},
                **PYWA,
            ),
            "message:wamid.xyzxyz",
        )
    ],
    # A username sender: no phone at all, only the business-scoped user id.
    "text_username_sender_no_phone_derived_whatsapp_api_js.json": [
        (
            InboundMessage(
                provider_message_id="ABGGFlA5Fpa",
                phone="",
                user_id="US.13491208655302741918",
                name="test user name",
                kind="text",
                body="this is a text message",
                timestamp=at(1504902988),
            ),
            "message:ABGGFlA5Fpa",
        )
    ],
    # Changes to messages already in the thread
    "reaction_pywa.json": [
        (
            MessageChange(
                provider_message_id="wamid.yzxyzx=",
                change="reaction",
                emoji="😮",
                timestamp=at(1697044456),
                **PYWA_CHANGE,
            ),
            "change:wamid.xyzxyz",
        )
    ],
    # Meta leaves `emoji` out when the reaction is removed.
    "reaction_removed_no_emoji_pywa.json": [
        (
            MessageChange(
                provider_message_id="wamid.yzxyzx=",
                change="reaction",
                emoji="",
                timestamp=at(1697044456),
                **PYWA_CHANGE,
            ),
            "change:wamid.xyzxyz",
        )
    ],
    "edit_image_caption_pywa.json": [
        (
            MessageChange(
                provider_message_id="wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
                change="edit",
                body="Updated image caption",
                phone="16505551234",
                timestamp=at(1749854575),
            ),
            "change:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        )
    ],
    "revoke_from_derived_pywa.json": [
        (
            MessageChange(
                provider_message_id="<ORIGINAL_WHATSAPP_MESSAGE_ID>",
                change="revoke",
                timestamp=at(1697043223),
                **PYWA_CHANGE,
            ),
            "change:<WHATSAPP_MESSAGE_ID>",
        )
    ],
    "system_user_changed_number_pywa.json": [
        (
            IdentityUpdate(phone="972987654321", new_phone="972912345678", reason="number_changed"),
            "identity:wamid.xyzxyz==",
        )
    ],
    "system_identity_changed_pywa.json": [
        (
            Unparsed(reason="system message customer_identity_changed is not handled"),
            unparsed_key(first_item("system_identity_changed_pywa.json")),
        )
    ],
    # Coexistence: what the business typed in the WhatsApp Business app, to the customer `to`.
    "echo_text_derived_pywa.json": [
        (
            InboundMessage(
                provider_message_id="<WHATSAPP_MESSAGE_ID>",
                kind="text",
                body="Test message",
                timestamp=at(1697043223),
                from_me=True,
                **PYWA,
            ),
            "message:<WHATSAPP_MESSAGE_ID>",
        )
    ],
    # As published, these two echoes have `to` set to the business's own display number.
    "echo_edit_pywa.json": [
        (
            MessageChange(
                provider_message_id="wamid.zzzzzz",
                change="edit",
                body="Text was edited",
                phone="972123456789",
                from_me=True,
                timestamp=at(1697044968),
            ),
            "change:wamid.yyyyyy",
        )
    ],
    "echo_revoke_pywa.json": [
        (
            MessageChange(
                provider_message_id="wamid.zzzzzz",
                change="revoke",
                phone="972123456789",
                from_me=True,
                timestamp=at(1697044968),
            ),
            "change:wamid.yyyyyy",
        )
    ],
    "status_played_pywa.json": [
        (
            StatusUpdate(provider_message_id="wamid.xyzxyz", status="read"),
            "status:wamid.xyzxyz:played",
        )
    ],
    "account_update_pywa.json": [
        (
            Unparsed(reason="field account_update is not handled"),
            unparsed_key(
                json.loads((PAYLOADS / "account_update_pywa.json").read_bytes())["entry"][0][
                    "changes"
                ][0]
            ),
        )
    ],
}


def adapter() -> CloudProvider:
    return CloudProvider("http://graph.invalid")


def parse(payload) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return adapter().parse_webhook(None, raw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_payload_reads_as_its_exact_events(name):
    raw = (PAYLOADS / name).read_bytes()

    parsed = parse(raw)

    assert [(item.event, item.dedupe_key) for item in parsed] == EXPECTED[name]
    assert all(item.raw == json.loads(raw) for item in parsed)


@pytest.fixture
def cloud(org) -> Number:
    return Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name="106540352242922",
        provider_token="token",  # noqa: S106
        app_secret=SECRET,
        status=Number.Status.CONNECTED,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_payload_posted_twice_is_stored_once(client, cloud, name):
    raw = (PAYLOADS / name).read_bytes()
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    count = len(EXPECTED[name])

    def post():
        return client.post(
            f"/webhooks/cloud/{cloud.webhook_key}",
            data=raw,
            content_type="application/json",
            headers={"X-Hub-Signature-256": f"sha256={digest}"},
        )

    assert post().json() == {"ok": True, "stored": count, "duplicates": 0}
    assert post().json() == {"ok": True, "stored": 0, "duplicates": count}
    assert ProviderEvent.objects.filter(number=cloud).count() == count


# Variations of the published payloads


def text_capture() -> dict:
    return json.loads((PAYLOADS / "text_message_v25_bsuid_whatsapp_api_js.json").read_bytes())


def test_a_username_sender_without_from_is_read_by_user_id():
    payload = text_capture()
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"]

    [item] = parse(payload)

    assert (item.event.phone, item.event.user_id) == ("", "US.13491208655302741918")
    assert item.event.name == "test user name"


def test_a_number_change_in_meta_docs_shape_names_the_new_number():
    payload = json.loads((PAYLOADS / "system_user_changed_number_pywa.json").read_bytes())
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["system"] = {
        "body": "NAME changed from 972987654321 to 972900000000",
        "new_wa_id": "972900000000",
        "type": "customer_changed_number",
    }

    [item] = parse(payload)

    assert item.event == IdentityUpdate(
        phone="972987654321", new_phone="972900000000", reason="number_changed"
    )


@pytest.mark.parametrize(
    "interactive",
    [{"type": "button_reply"}, {"type": "list_reply", "list_reply": None}, {}],
    ids=["no-reply-object", "null-reply", "empty"],
)
def test_an_interactive_message_without_its_reply_is_kept_not_refused(interactive):
    payload = json.loads((PAYLOADS / "interactive_button_reply_meta_docs.json").read_bytes())
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"] = interactive

    [item] = parse(payload)

    assert (item.event.kind, item.event.content["type"]) == ("unsupported", "interactive")


def test_one_bad_message_is_one_unparsed_event_beside_the_good_ones():
    payload = json.loads((PAYLOADS / "batch_two_changes_one_entry_netflie.json").read_bytes())
    good, bad = (change["value"]["messages"][0] for change in payload["entry"][0]["changes"])
    good["from"] = "5511999990000"
    bad["from"] = "5511999990001"
    bad["text"] = ["not", "an", "object"]

    parsed = parse(payload)

    assert [type(item.event).__name__ for item in parsed] == ["InboundMessage", "Unparsed"]
    assert parsed[1].event.reason.startswith("messages messages: TypeError")
    assert parsed[1].dedupe_key == unparsed_key(bad)


def test_a_status_for_a_username_recipient_still_parses():
    payload = json.loads((PAYLOADS / "status_read_v25_bsuid_whatsapp_api_js.json").read_bytes())
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status.pop("recipient_id", None)

    [item] = parse(payload)

    assert item.event == StatusUpdate(provider_message_id="ABGGFlA5Fpa", status="read")


@pytest.mark.parametrize(
    "body",
    [{"entry": "nope"}, {"entry": [{"changes": 1}]}, {"entry": [{"changes": [None]}]}],
    ids=["entry-not-list", "changes-not-list", "change-not-object"],
)
def test_an_envelope_of_the_wrong_shape_is_one_unparsed_event(body):
    [item] = parse(body)

    assert isinstance(item.event, Unparsed)


@pytest.mark.parametrize(
    "raw", [b"[]", b'"x"', b"{", b""], ids=["list", "string", "broken", "empty"]
)
def test_only_a_body_that_is_not_a_json_object_is_malformed(raw):
    with pytest.raises(WebhookMalformed):
        adapter().parse_webhook(None, raw)


def test_pricing_and_conversation_on_a_status_are_ignored():
    payload = json.loads((PAYLOADS / "status_sent_meta_docs.json").read_bytes())
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["pricing"] = {"billable": "yes", "category": {"nested": ["odd"]}}
    status["conversation"] = "not an object"

    [item] = parse(copy.deepcopy(payload))

    assert item.event.status == "sent"


def test_a_contacts_block_of_the_wrong_shape_costs_the_name_not_the_message():
    payload = text_capture()
    payload["entry"][0]["changes"][0]["value"]["contacts"] = [
        {"wa_id": 16315551181, "user_id": "<BSUID>", "profile": "x"},
        "not a contact",
    ]
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from_user_id"]

    [item] = parse(payload)

    assert (item.event.phone, item.event.user_id, item.event.name) == ("16315551181", "", "")
    assert item.event.body == "this is a text message"
