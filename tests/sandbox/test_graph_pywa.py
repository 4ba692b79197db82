"""The sandbox's Graph API held to a real Cloud API client: pywa (4.5) sends every kind it
can send (20 send methods, 31 variants), uploads and downloads media, meets Meta's refusals, and
parses the status webhooks. How pywa reaches the sandbox: tests/sandbox/pywa_graph.py."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from pywa.errors import WhatsAppError
from pywa.types import (
    Button,
    CallPermissionRequestButton,
    Contact,
    FlowButton,
    ImageCarouselCard,
    ProductsSection,
    Section,
    SectionList,
    SectionRow,
    URLButton,
    VoiceCallButton,
)
from pywa.types.templates import TemplateLanguage

from conversa.sandbox import graph, simulator
from conversa.sandbox.models import SandboxMedia, SandboxMessage
from tests.sandbox import pywa_graph
from tests.sandbox.pywa_graph import CUSTOMER, JPEG, OGG, WA_ID, customer_writes, parsed

# Raw calls to the live server: a loaded machine's answer time, not httpx's 5 s default.
http = httpx.Client(timeout=30)

# The shared fixtures, as this module's.
receiver, sandbox, wa = pywa_graph.receiver, pywa_graph.sandbox, pywa_graph.wa


# Every kind pywa sends: (name, call). `to` is the customer; `inbound` a message of theirs.
def sends(wa, to, inbound, uploaded):
    return [
        ("text", lambda: wa.send_message(to, "Olá!", preview_url=True)),
        ("text reply", lambda: wa.send_message(to, "Respondendo", reply_to_message_id=inbound)),
        ("buttons", lambda: wa.send_message(to, "Escolha", buttons=[Button("Sim", "s")])),
        (
            "list",
            lambda: wa.send_message(
                to,
                "Menu",
                buttons=SectionList("Ver", [Section("A", [SectionRow("Um", "1", "d")])]),
            ),
        ),
        ("cta_url", lambda: wa.send_message(to, "Site", buttons=URLButton("Abrir", "https://a.b"))),
        (
            "flow",
            lambda: wa.send_message(to, "Form", buttons=FlowButton("Abrir", flow_id="123")),
        ),
        ("voice_call", lambda: wa.send_message(to, "Ligue", buttons=VoiceCallButton("Ligar"))),
        (
            "call_permission_request",
            lambda: wa.send_message(to, "Posso ligar?", buttons=CallPermissionRequestButton()),
        ),
        ("request_contact_info", lambda: wa.request_contact_info(to, "Seu contato?")),
        ("image link", lambda: wa.send_image(to, "https://example.com/a.jpg", caption="Foto")),
        ("image bytes", lambda: wa.send_image(to, JPEG, caption="Foto", mime_type="image/jpeg")),
        ("image by id", lambda: wa.send_image(to, uploaded, caption="De novo")),
        (
            "image with buttons",
            lambda: wa.send_image(
                to, "https://example.com/a.jpg", caption="Gostou?", buttons=[Button("Sim", "s")]
            ),
        ),
        ("video link", lambda: wa.send_video(to, "https://example.com/v.mp4", caption="Vídeo")),
        (
            "document bytes",
            lambda: wa.send_document(
                to, b"%PDF-1.4\n%%EOF\n", filename="nota.pdf", mime_type="application/pdf"
            ),
        ),
        ("audio link", lambda: wa.send_audio(to, "https://example.com/a.mp3")),
        ("voice bytes", lambda: wa.send_voice(to, OGG, mime_type="audio/ogg")),
        ("sticker link", lambda: wa.send_sticker(to, "https://example.com/s.webp")),
        ("reaction", lambda: wa.send_reaction(to, "👍", inbound)),
        ("remove reaction", lambda: wa.remove_reaction(to, inbound)),
        ("location", lambda: wa.send_location(to, -23.55, -46.63, "Loja", "Av. Paulista")),
        ("request_location", lambda: wa.request_location(to, "Onde você está?")),
        (
            "contact",
            lambda: wa.send_contact(
                to,
                Contact(
                    name=Contact.Name(formatted_name="Bia Souza", first_name="Bia"),
                    phones=[Contact.Phone(phone="+5511977776666", type="CELL")],
                ),
            ),
        ),
        ("catalog", lambda: wa.send_catalog(to, "Nosso catálogo")),
        ("product", lambda: wa.send_product(to, "123456", "SKU1", "Produto")),
        (
            "products",
            lambda: wa.send_products(
                to, "123456", [ProductsSection("Mais", ["SKU1", "SKU2"])], "Produtos", "Veja"
            ),
        ),
        (
            "carousel",
            lambda: wa.send_carousel(
                to,
                body="Ofertas",
                cards=[
                    ImageCarouselCard(
                        body=f"Card {n}",
                        image="https://example.com/c.jpg",
                        buttons=URLButton("Ver", "https://a.b"),
                    )
                    for n in (1, 2)
                ],
            ),
        ),
        ("template", lambda: wa.send_template(to, "hello_world", TemplateLanguage.ENGLISH_US)),
        (
            "marketing template",
            lambda: wa.send_template(
                to, "hello_world", TemplateLanguage.ENGLISH_US, use_mm_lite_api=True
            ),
        ),
        ("mark as read", lambda: wa.mark_message_as_read(inbound)),
        ("typing indicator", lambda: wa.indicate_typing(inbound)),
    ]


def test_every_kind_pywa_sends_is_accepted_with_wamid_and_wa_id(wa, sandbox, receiver):
    inbound = customer_writes(sandbox)
    uploaded = wa.upload_media(JPEG, mime_type="image/jpeg", filename="a.jpg").id
    calls = sends(wa, CUSTOMER, inbound, uploaded)
    accepted = {}
    for name, call in calls:
        result = call()
        accepted[name] = result
    # All 31 of pywa's sends answered as Meta answers them: nothing refused.
    assert len(accepted) == len(calls) == 31
    for name, sent in accepted.items():
        if name in ("mark as read", "typing indicator"):
            assert sent.success is True, name
            continue
        assert sent.id.startswith("wamid.HBg"), name
        # Sent to 55 11 9 8888-7777: WhatsApp answers with the account's wa_id, no ninth digit.
        assert (sent.input, sent.chat.id) == (CUSTOMER, WA_ID), name
    ledger = SandboxMessage.objects.filter(instance=sandbox, from_me=True)
    assert ledger.count() == 29
    assert ledger.filter(status="ERROR").count() == 0
    assert set(ledger.values_list("chat_phone", flat=True)) == {CUSTOMER}
    assert SandboxMessage.objects.get(message_id=inbound).status == "READ"
    # The link-sent media is kept for the customer's page, by reference.
    assert SandboxMedia.objects.filter(link="https://example.com/v.mp4").exists()


def test_statuses_carry_pricing_conversation_and_the_tracker(wa, sandbox, receiver):
    customer_writes(sandbox)
    sent = wa.send_message(CUSTOMER, "Tudo certo", tracker="job-7")

    def status_of(kind):
        def match(value):
            statuses = value.get("statuses") or [{}]
            return statuses[0].get("id") == sent.id and statuses[0]["status"] == kind

        return match

    for kind in ("sent", "delivered"):
        update = parsed(wa, receiver, status_of(kind), f"the {kind} status")
        assert update.status.value == kind
        assert update.tracker == "job-7"
        assert update.pricing.category.value == "service"
        assert update.pricing.billable is False
        assert update.conversation.category.value == "service"
        assert update.from_user.wa_id == WA_ID
    _, _, value = receiver.find(status_of("sent"))
    assert value["statuses"][0]["conversation"]["expiration_timestamp"]
    assert value["statuses"][0]["pricing"]["type"] == "free_customer_service"

    simulator.customer_reads(sandbox, CUSTOMER)
    update = parsed(wa, receiver, status_of("read"), "the read status")
    assert update.status.value == "read"


def test_a_template_is_billed_in_its_category(wa, sandbox, receiver):
    graph.add_template(sandbox, "promo_junho", "pt_BR", category="marketing")
    sent = wa.send_template(CUSTOMER, "promo_junho", TemplateLanguage.PORTUGUESE_BR)
    assert sent.status.value == "accepted"
    update = parsed(
        wa,
        receiver,
        lambda v: (v.get("statuses") or [{}])[0].get("id") == sent.id,
        "the template's status",
    )
    assert update.pricing.category.value == "marketing"
    assert update.pricing.billable is True


def test_free_text_after_24_hours_fails_with_131047_and_a_template_still_goes(
    wa, sandbox, receiver
):
    inbound = customer_writes(sandbox)
    # The sandbox's clock for the window is the customer's last message in its ledger.
    SandboxMessage.objects.filter(message_id=inbound).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    sent = wa.send_message(CUSTOMER, "Ainda está aí?")  # Meta answers 200, then fails it
    update = parsed(
        wa,
        receiver,
        lambda v: (v.get("statuses") or [{}])[0].get("id") == sent.id,
        "the failed status",
    )
    assert update.status.value == "failed"
    assert update.error.code == 131047
    assert "24 hours" in update.error.details
    assert SandboxMessage.objects.get(message_id=sent.id).status == "ERROR"

    template = wa.send_template(CUSTOMER, "hello_world", TemplateLanguage.ENGLISH_US)
    assert SandboxMessage.objects.get(message_id=template.id).status != "ERROR"


def test_a_number_that_never_wrote_gets_no_free_text_either(wa, sandbox, receiver):
    sent = wa.send_message("5521977776666", "Oi")
    update = parsed(
        wa,
        receiver,
        lambda v: (v.get("statuses") or [{}])[0].get("id") == sent.id,
        "the failed status",
    )
    assert update.error.code == 131047


def test_an_unknown_template_is_132001(wa, sandbox):
    with pytest.raises(WhatsAppError) as refused:
        wa.send_template(CUSTOMER, "nao_existe", TemplateLanguage.PORTUGUESE_BR)
    error = refused.value
    assert error.code == 132001
    assert "nao_existe" in error.details
    with pytest.raises(WhatsAppError) as wrong_language:
        wa.send_template(CUSTOMER, "hello_world", TemplateLanguage.PORTUGUESE_BR)
    assert wrong_language.value.code == 132001
    assert not SandboxMessage.objects.filter(from_me=True).exists()


def test_meta_error_objects_for_invalid_sends(wa, sandbox, live_server):
    customer_writes(sandbox)
    with pytest.raises(WhatsAppError) as too_long:
        wa.send_message(CUSTOMER, "x" * 4097)
    assert too_long.value.code == 100
    assert "4096" in too_long.value.details

    url = f"{live_server.url}/sandbox/graph/v25.0/{sandbox.name}/messages"
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    base = {"messaging_product": "whatsapp", "to": CUSTOMER}
    cases = [
        ({**base, "type": "text", "text": {}}, 400, 100),
        ({**base, "type": "poll", "poll": {}}, 400, 131051),
        ({**base, "type": "image", "image": {"id": "1", "link": "https://a.b/c"}}, 400, 100),
        (
            {
                **base,
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "x"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": str(n), "title": "t"}}
                            for n in range(4)
                        ]
                    },
                },
            },
            400,
            131009,
        ),
        ({"to": CUSTOMER, "type": "text", "text": {"body": "x"}}, 400, 100),
    ]
    for body, status, code in cases:
        answer = http.post(url, json=body, headers=headers)
        assert answer.status_code == status, body
        error = answer.json()["error"]
        assert error["code"] == code, body
        assert error["type"] == "OAuthException"
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert error["error_data"]["details"]
        assert error["fbtrace_id"] and "error_subcode" in error

    bad = http.post(url, json=cases[0][0], headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, 190)
    wrong_version = http.post(url.replace("v25.0", "latest"), json=base, headers=headers)
    assert wrong_version.json()["error"]["code"] == 2500
    assert http.get(
        url.replace("/messages", "").replace("v25.0", "v21.0"), headers=headers
    ).is_success


def test_media_upload_lookup_download_and_delete(wa, sandbox, live_server):
    media = wa.upload_media(JPEG, mime_type="image/jpeg", filename="foto.jpg")
    assert media.id.isdigit()
    info = wa.get_media_url(media.id)
    assert (info.mime_type, info.file_size) == ("image/jpeg", len(JPEG))
    assert wa.get_media_bytes(info.url) == JPEG

    assert http.get(info.url).status_code == 401
    other = simulator.create_cloud_number("999", "5511900000000", "", "x")
    foreign = http.get(info.url, headers={"Authorization": f"Bearer {other.token}"})
    assert foreign.status_code == 400
    tampered = http.get(
        info.url.replace("hash=", "hash=0"), headers={"Authorization": f"Bearer {sandbox.token}"}
    )
    assert tampered.status_code == 404

    assert wa.delete_media(media.id).success is True
    with pytest.raises(WhatsAppError):
        wa.get_media_url(media.id)


def test_an_upload_of_an_unsupported_type_is_refused(wa, sandbox):
    with pytest.raises(WhatsAppError) as refused:
        wa.upload_media(b"MZ\x90\x00", mime_type="application/x-msdownload", filename="a.exe")
    assert refused.value.code == 100
    assert not SandboxMedia.objects.exists()


def test_a_media_id_the_number_does_not_have_fails_with_131053(wa, sandbox, receiver):
    customer_writes(sandbox)
    sent = wa.send_image(CUSTOMER, "1234567890123456")
    update = parsed(
        wa,
        receiver,
        lambda v: (v.get("statuses") or [{}])[0].get("id") == sent.id,
        "the failed status",
    )
    assert update.error.code == 131053


def test_an_injected_failure_is_metas_131000_and_nothing_is_sent(wa, sandbox):
    simulator.set_faults(sandbox, failure_rate=1.0)
    with pytest.raises(WhatsAppError) as refused:
        wa.send_template(CUSTOMER, "hello_world", TemplateLanguage.ENGLISH_US)
    assert refused.value.code == 131000
    assert refused.value.status_code == 503
    assert not SandboxMessage.objects.filter(from_me=True).exists()


def test_ids_and_the_ninth_digit_rule():
    for chat in ("551188887777", "BR.1234567890123456", "123456789012345"):
        wamid = graph.new_wamid(chat, inbound=True)
        assert wamid.startswith("wamid.HBg") and len(wamid) <= 64
    assert graph.wa_id("5511988887777") == "551188887777"
    assert graph.wa_id("5511388887777") == "5511388887777"  # a landline keeps its digits
    assert graph.wa_id("14155550100") == "14155550100"
    assert graph.equivalents("551188887777") == {"551188887777", "5511988887777"}
