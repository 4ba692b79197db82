"""The webhooks the sandbox emits for what customers and the business's phone do, and for the
connection, in Evolution v2.3's shapes (whatsapp.baileys.service.ts, Baileys' cleanMessage)."""

import base64
import json

import pytest

from conversa.providers.registry import sandbox_tenant
from conversa.sandbox import customer, evolution_api, evolution_events, simulator
from conversa.sandbox.customer import customer_sends
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.sandbox.test_evolution_client import CUSTOMER, LID, OGG, PDF, PNG, bytes_of, open_twin

BUSINESS = "5511900000000@s.whatsapp.net"


@pytest.fixture
def twin(org):
    """ "loja", open, a number of `org` (whose owner `member_client` signs in)."""
    return open_twin(tenant=sandbox_tenant(org.org.pk))


@pytest.fixture
def sent(webhooks_sent, django_capture_on_commit_callbacks):
    """Run `action` with its commit callbacks and give back the (event, data) it emitted."""

    def run(action, *args, **kwargs):
        webhooks_sent.clear()
        with django_capture_on_commit_callbacks(execute=True):
            action(*args, **kwargs)
        return [(w["body"]["event"], w["body"]["data"]) for w in webhooks_sent]

    return run


def upsert(events: list) -> dict:
    [data] = [data for event, data in events if event == "messages.upsert"]
    return data


def business_message(twin) -> str:
    answer = evolution_api.accept(
        twin, CUSTOMER, "conversation", {"conversation": "Temos sim"}, kind="text", text="Temos sim"
    )
    return answer["key"]["id"]


def test_a_lid_customer_with_the_phone_beside_it(twin, sent):
    data = upsert(sent(customer_sends, twin, CUSTOMER, "text", {"body": "Oi"}, lid=LID, name="Ana"))

    assert data["key"] == {
        "remoteJid": f"{LID}@lid",
        "fromMe": False,
        "id": data["key"]["id"],
        "participant": "",
        "addressingMode": "lid",
        "remoteJidAlt": f"{CUSTOMER}@s.whatsapp.net",
    }
    assert len(data["key"]["id"]) == 32
    assert (data["message"], data["messageType"]) == ({"conversation": "Oi"}, "conversation")
    assert (data["pushName"], data["status"], data["source"]) == ("Ana", "DELIVERY_ACK", "android")
    assert data["instanceId"] == str(twin.pk)


def test_a_lid_customer_without_the_phone_leaves_it_nowhere(twin, sent):
    events = sent(customer_sends, twin, CUSTOMER, "text", {"body": "Oi"}, lid=LID, with_alt=False)

    data = upsert(events)
    assert data["key"]["remoteJid"] == f"{LID}@lid"
    assert "remoteJidAlt" not in data["key"]
    assert CUSTOMER not in json.dumps(events)


def test_the_business_phone_echoes_with_from_me_and_the_customer_sees_it(twin, sent, member_client):
    data = upsert(sent(evolution_events.phone_sends, twin, CUSTOMER, "Já separei o seu pedido"))

    assert data["key"]["fromMe"] is True
    assert data["key"]["remoteJid"] == f"{CUSTOMER}@s.whatsapp.net"
    assert (data["pushName"], data["status"]) == ("Você", "SERVER_ACK")
    assert data["message"] == {"conversation": "Já separei o seu pedido"}
    chat = member_client.get(f"/sandbox/chat?instance=loja&phone={CUSTOMER}").content.decode()
    assert "Já separei o seu pedido" in chat
    assert "from the business phone" in chat
    assert SandboxMessage.objects.get(from_phone=True).status == "READ"


def test_a_reaction_is_keyed_from_the_business_side_and_taken_back_with_nothing(twin, sent):
    target = business_message(twin)

    added = upsert(
        sent(customer_sends, twin, CUSTOMER, "reaction", {"target": target, "emoji": "❤️"})
    )
    removed = upsert(
        sent(customer_sends, twin, CUSTOMER, "reaction", {"target": target, "emoji": ""})
    )

    assert added["messageType"] == "reactionMessage"
    reaction = added["message"]["reactionMessage"]
    assert reaction["key"] == {
        "remoteJid": f"{CUSTOMER}@s.whatsapp.net",
        "fromMe": True,
        "id": target,
    }
    assert reaction["text"] == "❤️"
    assert set(reaction["senderTimestampMs"]) == {"low", "high", "unsigned"}
    assert removed["message"]["reactionMessage"]["text"] == ""


def test_an_edit_is_messages_edited_keyed_as_the_customers_phone_keyed_it(twin, sent):
    own = customer_sends(twin, CUSTOMER, "text", {"body": "Quero 2"})

    events = sent(customer_sends, twin, CUSTOMER, "edit", {"target": own, "body": "Quero 3"})

    assert [event for event, _ in events] == ["messages.edited"]
    [(_, data)] = events
    assert data["key"] == {"remoteJid": BUSINESS, "fromMe": True, "id": own}
    assert (data["type"], data["editedMessage"]) == (14, {"conversation": "Quero 3"})
    assert data["timestampMs"].isdigit()
    row = SandboxMessage.objects.get(message_id=own)
    assert (row.text, row.edited_at is not None) == ("Quero 3", True)
    # findMessages answers the message as edited, as the server rewrites its stored copy.
    assert evolution_api.record(row)["message"] == {"conversation": "Quero 3"}


def test_a_revoke_is_a_protocol_message_then_messages_delete(twin, sent):
    own = customer_sends(twin, CUSTOMER, "text", {"body": "Ops"}, lid=LID)

    events = sent(customer_sends, twin, CUSTOMER, "revoke", {"target": own}, lid=LID)

    assert [event for event, _ in events] == ["messages.edited", "messages.delete"]
    assert events[0][1] == {"key": {"remoteJid": BUSINESS, "fromMe": True, "id": own}, "type": 0}
    assert events[1][1]["id"] == own
    assert events[1][1]["remoteJid"] == f"{LID}@lid"
    assert events[1][1]["fromMe"] is False
    assert SandboxMessage.objects.get(message_id=own).revoked_at is not None


def test_a_customer_cannot_edit_the_business_message(twin):
    target = business_message(twin)

    with pytest.raises(simulator.SandboxError):
        customer_sends(twin, CUSTOMER, "edit", {"target": target, "body": "x"})


def test_a_poll_carries_its_options_and_secret(twin, sent):
    data = upsert(
        sent(
            customer_sends,
            twin,
            CUSTOMER,
            "poll",
            {"question": "Cor?", "options": ["Azul", "Verde"]},
        )
    )

    assert data["messageType"] == "pollCreationMessageV3"
    assert data["message"]["pollCreationMessageV3"] == {
        "name": "Cor?",
        "options": [{"optionName": "Azul"}, {"optionName": "Verde"}],
        "selectableOptionsCount": 1,
    }
    assert len(bytes_of(data["message"]["messageContextInfo"]["messageSecret"])) == 32


def test_a_location(twin, sent):
    content = {
        "latitude": "-23.5614",
        "longitude": "-46.6559",
        "name": "MASP",
        "address": "Av. Paulista",
    }

    data = upsert(sent(customer_sends, twin, CUSTOMER, "location", content))

    assert data["message"] == {
        "locationMessage": {
            "degreesLatitude": -23.5614,
            "degreesLongitude": -46.6559,
            "name": "MASP",
            "address": "Av. Paulista",
        }
    }


def test_contact_cards_as_a_phone_shares_them(twin, sent):
    one = {"contacts": [{"name": "Ana", "phones": ["+55 11 95555-4444"]}]}
    two = {
        "contacts": [{"name": "Ana", "phones": ["5511955554444"]}, {"name": "Bia", "phones": []}]
    }

    single = upsert(sent(customer_sends, twin, CUSTOMER, "contacts", one))
    several = upsert(sent(customer_sends, twin, CUSTOMER, "contacts", two))

    card = single["message"]["contactMessage"]
    assert card["displayName"] == "Ana"
    assert "TEL;type=CELL;type=VOICE;waid=5511955554444:+5511955554444" in card["vcard"]
    assert several["messageType"] == "contactsArrayMessage"
    assert [c["displayName"] for c in several["message"]["contactsArrayMessage"]["contacts"]] == [
        "Ana",
        "Bia",
    ]


def test_an_ephemeral_text_is_wrapped(twin, sent):
    data = upsert(sent(customer_sends, twin, CUSTOMER, "text", {"body": "Some", "ephemeral": True}))

    assert data["messageType"] == "ephemeralMessage"
    inner = data["message"]["ephemeralMessage"]["message"]["extendedTextMessage"]
    assert inner["text"] == "Some"
    assert inner["contextInfo"]["expiration"] == 604_800


@pytest.mark.parametrize("base64_on", [True, False])
def test_a_voice_note_with_its_bytes_when_the_webhook_asks(db, sent, base64_on):
    twin = open_twin(base64=base64_on)

    data = upsert(
        sent(customer_sends, twin, CUSTOMER, "voice", {"file": OGG, "mime_type": "audio/ogg"})
    )

    audio = data["message"]["audioMessage"]
    assert (audio["ptt"], audio["mimetype"]) == (True, "audio/ogg; codecs=opus")
    assert audio["fileLength"] == {"low": len(OGG), "high": 0, "unsigned": True}
    assert audio["url"].startswith("https://mmg.whatsapp.net/")
    if base64_on:
        assert base64.b64decode(data["message"]["base64"]) == OGG
    else:
        assert "base64" not in data["message"]


def test_a_document_with_a_caption_is_a_document_message_as_v2_3_sends_it(twin, sent):
    content = {
        "file": PDF,
        "mime_type": "application/pdf",
        "file_name": "nota.pdf",
        "caption": "Nota",
    }

    data = upsert(sent(customer_sends, twin, CUSTOMER, "document", content))

    assert data["messageType"] == "documentMessage"
    document = data["message"]["documentMessage"]
    assert (document["fileName"], document["caption"], document["mimetype"]) == (
        "nota.pdf",
        "Nota",
        "application/pdf",
    )


def test_view_once_media_has_no_base64_even_when_asked(db, sent):
    twin = open_twin(base64=True)

    data = upsert(sent(customer_sends, twin, CUSTOMER, "image", {"file": PNG, "view_once": True}))

    assert data["messageType"] == "viewOnceMessageV2"
    assert data["message"]["viewOnceMessageV2"]["message"]["imageMessage"]["viewOnce"] is True
    assert "base64" not in data["message"]


def test_a_reply_quotes_the_business_message(twin, sent):
    target = business_message(twin)

    data = upsert(sent(customer_sends, twin, CUSTOMER, "text", {"body": "Ótimo"}, reply_to=target))

    assert data["message"] == {"conversation": "Ótimo"}
    assert data["contextInfo"]["stanzaId"] == target
    assert data["contextInfo"]["participant"] == BUSINESS
    assert data["contextInfo"]["quotedMessage"] == {"conversation": "Temos sim"}


def test_a_cloud_number_s_customer_speaks_the_graph_api(db):
    cloud = simulator.create_cloud_number("106540352242922", "5511933334444", "", "s")

    sent = customer_sends(cloud, CUSTOMER, "image", {"file": PNG, "mime_type": "image/png"})

    assert sent.startswith("wamid.")
    assert SandboxMessage.objects.filter(instance=cloud, message_id=sent).exists()


# The connection


@pytest.mark.parametrize("code", evolution_events.TRANSIENT)
def test_a_transient_drop_reconnects_quietly(twin, sent, code):
    events = sent(evolution_events.drop_connection, twin, code)

    assert [(e, d["state"], d["statusReason"]) for e, d in events] == [
        ("connection.update", "connecting", 200),
        ("connection.update", "open", 200),
    ]
    assert SandboxInstance.objects.get(pk=twin.pk).state == "open"


@pytest.mark.parametrize("code", [401, 402, 403, 406])
def test_a_final_close_says_so_three_times(twin, sent, code):
    events = sent(evolution_events.close, twin, code)

    assert [event for event, _ in events] == [
        "status.instance",
        "logout.instance",
        "connection.update",
    ]
    assert events[0][1]["status"] == "closed"
    assert events[0][1]["disconnectionReasonCode"] == code
    assert json.loads(events[0][1]["disconnectionObject"])["error"]["output"]["statusCode"] == code
    assert events[2][1] == {"instance": "loja", "state": "close", "statusReason": code}
    assert SandboxInstance.objects.get(pk=twin.pk).state == "close"


def test_a_transient_code_cannot_close_for_good(client, twin):
    response = client.post(
        "/sandbox/evolution/close/loja",
        data=json.dumps({"statusReason": 428}),
        content_type="application/json",
        headers={"apikey": twin.token},
    )

    assert response.status_code == 400
    assert SandboxInstance.objects.get(pk=twin.pk).state == "open"


@pytest.mark.parametrize(
    ("button", "code"), [("/sandbox/ban", 403), ("/sandbox/logout-phone", 401)]
)
def test_the_page_bans_or_logs_out_from_the_phone(member_client, twin, webhooks_sent, button, code):
    page = member_client.get("/sandbox/?instance=loja").content.decode()
    assert "Ban the number" in page
    assert "Log out from the phone" in page

    response = member_client.post(button, {"instance": "loja"})

    assert response.status_code == 302
    assert webhooks_sent[-1]["body"]["data"] == {
        "instance": "loja",
        "state": "close",
        "statusReason": code,
    }


# The page


def test_the_page_sends_a_photo_and_shows_it(member_client, twin, webhooks_sent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("foto.png", PNG, content_type="image/png")

    response = member_client.post(
        "/sandbox/send",
        {
            "instance": "loja",
            "phone": CUSTOMER,
            "kind": "image",
            "text": "O defeito",
            "file": photo,
        },
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    message = SandboxMessage.objects.get(kind="image")
    assert f'src="/sandbox/media/{message.message_id}"' in response.content.decode()
    media = member_client.get(f"/sandbox/media/{message.message_id}")
    assert (media.content, media["Content-Type"]) == (PNG, "image/png")


def test_the_page_serves_other_files_only_as_downloads(member_client, twin, webhooks_sent):
    html = b"<script>alert(1)</script>"
    message_id = customer.customer_sends(
        twin, CUSTOMER, "document", {"file": html, "mime_type": "text/html", "file_name": "x.html"}
    )

    media = member_client.get(f"/sandbox/media/{message_id}")

    assert media["Content-Type"] == "application/octet-stream"
    assert media["Content-Disposition"].startswith("attachment;")
    assert media["X-Content-Type-Options"] == "nosniff"


def test_the_page_reacts_edits_deletes_and_types_on_the_business_phone(
    member_client, twin, webhooks_sent, django_capture_on_commit_callbacks
):
    target = business_message(twin)
    own = customer_sends(twin, CUSTOMER, "text", {"body": "Quero 2"}, lid=LID)
    who = {"instance": "loja", "phone": CUSTOMER, "lid": LID, "with_alt": "0"}

    for form in (
        {"kind": "reaction", "target": target, "emoji": "👍"},
        {"kind": "edit", "target": own, "text": "Quero 3"},
        {"kind": "phone", "text": "Separado!"},
        {"kind": "revoke", "target": own},
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = member_client.post(
                "/sandbox/send", who | form, headers={"HX-Request": "true"}
            )
        assert response.status_code == 200, response.content

    chat = member_client.get(f"/sandbox/chat?instance=loja&phone={CUSTOMER}").content.decode()
    assert "👍" in chat
    assert "This message was deleted" in chat
    assert "Separado!" in chat
    events = [w["body"]["event"] for w in webhooks_sent]
    assert events.count("messages.edited") == 2
    assert "messages.delete" in events
    reaction = next(
        w["body"]["data"]
        for w in webhooks_sent
        if w["body"]["data"].get("messageType") == "reactionMessage"
    )
    assert reaction["key"]["remoteJid"] == f"{LID}@lid"
    assert "remoteJidAlt" not in reaction["key"]


def test_the_page_refuses_an_edit_of_the_business_message_with_a_message(member_client, twin):
    target = business_message(twin)

    response = member_client.post(
        "/sandbox/send",
        {"instance": "loja", "phone": CUSTOMER, "kind": "edit", "target": target, "text": "x"},
    )

    assert response.status_code == 422
    assert "only their own messages" in response.content.decode()


def test_conversa_answers_200_to_every_webhook_the_sandbox_emits(
    client, org, webhooks_sent, django_capture_on_commit_callbacks
):
    """Whatever Conversa's parser makes of them, none is refused (a refusal loses it)."""
    from tests.conftest import post_webhook

    twin = org.twin
    twin.webhook_base64 = True
    twin.save(update_fields=["webhook_base64"])
    with django_capture_on_commit_callbacks(execute=True):
        text = customer_sends(twin, CUSTOMER, "text", {"body": "Oi"}, lid=LID)
        customer_sends(twin, CUSTOMER, "text", {"body": "Oi"}, lid=LID, with_alt=False)
        for kind, content in (
            ("image", {"file": PNG, "caption": "Olha"}),
            ("voice", {"file": OGG}),
            ("document", {"file": PDF, "file_name": "a.pdf", "caption": "Nota"}),
            ("location", {"latitude": 1, "longitude": 2, "name": "Loja"}),
            ("contacts", {"contacts": [{"name": "Ana", "phones": ["5511955554444"]}]}),
            ("poll", {"question": "Cor?", "options": ["Azul", "Verde"]}),
            ("text", {"body": "Some", "ephemeral": True}),
            ("image", {"file": PNG, "view_once": True}),
        ):
            customer_sends(twin, CUSTOMER, kind, content)
        customer_sends(
            twin, CUSTOMER, "reaction", {"target": business_message(twin), "emoji": "👍"}
        )
        customer_sends(twin, CUSTOMER, "edit", {"target": text, "body": "Oi!"})
        customer_sends(twin, CUSTOMER, "revoke", {"target": text})
        evolution_events.phone_sends(twin, CUSTOMER, "Separado")
        evolution_events.drop_connection(twin)
        evolution_events.close(twin, 403)

    events = {w["body"]["event"] for w in webhooks_sent}
    assert events >= {"messages.upsert", "messages.edited", "messages.delete", "status.instance"}
    for webhook in webhooks_sent:
        response = post_webhook(client, org.number, webhook["body"])
        assert response.status_code == 200, (webhook["body"]["event"], response.content)
