"""What a customer does on a Cloud number, as the sandbox's webhooks say it, parsed by pywa
(4.5): every message kind, reactions, edits, deletes, a number change, an ad referral, a
username sender and a message typed on the business's phone."""

import pytest
from pywa.types import (
    Button,
)

from conversa.sandbox import graph, simulator
from conversa.sandbox.models import SandboxMedia, SandboxMessage
from tests.sandbox import pywa_graph
from tests.sandbox.pywa_graph import CUSTOMER, JPEG, WA_ID, customer_writes, parsed

# The shared fixtures, as this module's.
receiver, sandbox, wa = pywa_graph.receiver, pywa_graph.sandbox, pywa_graph.wa

# Inbound: every kind the customer sends, as pywa parses it.


def inbound(wa, receiver, message_id: str):
    return parsed(
        wa,
        receiver,
        lambda v: any(m.get("id") == message_id for m in v.get("messages", [])),
        f"the webhook of {message_id}",
    )


def test_customer_text_and_media_parse_in_pywa_and_the_media_downloads(wa, sandbox, receiver):
    text = inbound(wa, receiver, customer_writes(sandbox, body="Oi!"))
    assert (text.text, text.from_user.wa_id, text.from_user.name) == ("Oi!", WA_ID, "Ana")
    assert text.id.startswith("wamid.HBg")

    for kind, wire in (
        ("image", "image"),
        ("video", "video"),
        ("audio", "audio"),
        ("voice", "audio"),
        ("document", "document"),
        ("sticker", "sticker"),
    ):
        content = {"caption": "Olha"} if kind in ("image", "video", "document") else {}
        if kind == "image":
            content |= {"file": JPEG, "mime_type": "image/jpeg"}
        message_id = graph.customer_message(sandbox, CUSTOMER, kind, content)
        message = inbound(wa, receiver, message_id)
        assert message.type.value == wire, kind
        assert message.media is not None, kind
        if kind == "image":
            assert message.caption == "Olha"
            assert message.image.get_bytes() == JPEG
        if kind == "voice":
            assert message.audio.voice is True
        if kind == "document":
            assert message.document.filename == "document.pdf"


def test_every_other_customer_kind_parses_in_pywa(wa, sandbox, receiver):
    first = customer_writes(sandbox)
    business = wa.send_message(CUSTOMER, "Escolha", buttons=[Button("Sim", "s")]).id
    cases = [
        ("location", {"latitude": -23.5, "longitude": -46.6, "name": "Casa"}, ""),
        ("contacts", {"contacts": [{"name": "Bia", "phones": ["+5511977776666"]}]}, ""),
        ("choice", {"id": "s", "title": "Sim"}, business),
        ("choice", {"id": "2", "title": "Dois", "description": "O segundo"}, business),
        ("choice", {"id": "p", "title": "Quero", "via": "button"}, business),
        ("order", {"items": [{"product_id": "SKU1", "quantity": 2, "price": 9.9}]}, ""),
        ("reaction", {"emoji": "❤️", "target": business}, ""),
        ("poll", {}, ""),
        ("unsupported", {"type": "event"}, ""),
        ("edit", {"target": first, "body": "Oi, corrigido"}, ""),
        ("revoke", {"target": first}, ""),
        (
            "text",
            {
                "body": "Vi o anúncio",
                "referral": {
                    "headline": "Promo",
                    "source_url": "https://fb.me/x",
                    "source_type": "ad",
                },
            },
            "",
        ),
        ("text", {"body": "respondendo"}, business),
    ]
    results = []
    for kind, content, reply_to in cases:
        message_id = graph.customer_message(sandbox, CUSTOMER, kind, content, reply_to=reply_to)
        results.append((kind, inbound(wa, receiver, message_id)))
    by_name = [type(update).__name__ for _, update in results]
    assert by_name == [
        "Message",
        "Message",
        "CallbackButton",
        "CallbackSelection",
        "CallbackButton",
        "Message",
        "Message",
        "Message",
        "Message",
        "EditedMessage",
        "DeletedMessage",
        "Message",
        "Message",
    ]
    location, contacts, button, selection, quick, order, reaction, poll, unsupported = (
        update for _, update in results[:9]
    )
    assert (location.location.latitude, location.location.name) == (-23.5, "Casa")
    assert contacts.contacts[0].name.formatted_name == "Bia"
    assert (button.data, button.title, button.reply_to_message.id) == ("s", "Sim", business)
    assert (selection.data, selection.description) == ("2", "O segundo")
    assert quick.data == "p"
    assert order.order.products[0].sku == "SKU1"
    assert (reaction.reaction.emoji, reaction.reaction.message_id) == ("❤️", business)
    assert poll.type.value == "unsupported"
    assert unsupported.error.code == 131051
    edit, revoke, referral, reply = (update for _, update in results[9:])
    assert (edit.original_message_id, edit.message.text) == (first, "Oi, corrigido")
    assert revoke.original_message_id == first
    assert referral.referral.headline == "Promo"
    assert reply.reply_to_message.id == business


def test_a_number_change_and_a_username_sender(wa, sandbox, receiver):
    change = graph.customer_message(
        sandbox, CUSTOMER, "number_change", {"new_phone": "5511955554444"}
    )
    update = inbound(wa, receiver, change)
    assert (update.old_wa_id, update.new_wa_id) == (WA_ID, "5511955554444")

    hidden = graph.customer_message(
        sandbox, "", "text", {"body": "Oi"}, user_id="BR.1234567890123456", username="ana.s"
    )
    update = inbound(wa, receiver, hidden)
    assert update.from_user.wa_id is None
    assert (update.from_user.bsuid, update.from_user.username) == ("BR.1234567890123456", "ana.s")
    _, _, value = receiver.find(lambda v: v.get("messages", [{}])[0].get("id") == hidden)
    assert value["messages"][0]["from"] == ""
    assert value["messages"][0]["from_user_id"] == "BR.1234567890123456"

    # The business answers the username user by BSUID, inside the window.
    sent = wa.send_message("BR.1234567890123456", "Olá, Ana")
    assert sent.chat.id == "BR.1234567890123456"
    assert SandboxMessage.objects.get(message_id=sent.id).status != "ERROR"


def test_a_message_typed_on_the_business_phone_is_an_smb_echo(wa, sandbox, receiver):
    echo = graph.business_phone_message(sandbox, CUSTOMER, "Já te mando o boleto")
    update = parsed(
        wa,
        receiver,
        lambda v: any(m.get("id") == echo for m in v.get("message_echoes", [])),
        "the echo",
    )
    assert type(update).__name__ == "OutgoingMessage"
    assert update.text == "Já te mando o boleto"
    assert SandboxMessage.objects.get(message_id=echo).from_me is True


def test_the_customer_side_refuses_what_whatsapp_could_not_carry(sandbox):
    for phone, kind, content, options in [
        (CUSTOMER, "hologram", {}, {}),
        (CUSTOMER, "text", {"body": ""}, {}),
        (CUSTOMER, "text", {"body": "x" * 4097}, {}),
        ("", "text", {"body": "Oi"}, {}),
        ("", "text", {"body": "Oi"}, {"user_id": "not-a-bsuid"}),
        (CUSTOMER, "text", {"body": "Oi"}, {"user_id": "BR.1"}),
        (CUSTOMER, "image", {"file": b"x" * (5 * 1024 * 1024 + 1)}, {}),
        (CUSTOMER, "location", {"latitude": 91, "longitude": 0}, {}),
        (CUSTOMER, "number_change", {"new_phone": "12"}, {}),
    ]:
        with pytest.raises(simulator.SandboxError):
            graph.customer_message(sandbox, phone, kind, content, **options)
    assert not SandboxMessage.objects.exists()
    assert not SandboxMedia.objects.exists()
