"""The conversation thread shows every message kind with its content (issue 15 items 3 and 4):
location with a map link, contact cards, a chosen reply, an order, a poll, an ad's referral,
media labels, unsupported kinds by their type; reactions, edits, deletes and messages typed on
the phone. Customer content is escaped everywhere, and the thread does no query per message."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversa.inbox import kinds
from conversa.inbox.models import Message
from tests.inbox.every_kind import HOSTILE, KINDS, create


def thread(org, conversation, language="en") -> str:
    client = org.client()
    client.cookies["django_language"] = language
    response = client.get(f"/inbox/c/{conversation.pk}/thread")
    assert response.status_code == 200
    return response.content.decode()


def bubble(page: str, message: Message) -> str:
    """The <li> of one message."""
    start = page.rindex("<li", 0, page.index(f'id="message-{message.pk}"'))
    return page[start : page.index("</li>\n  ", start)]


@pytest.fixture
def every(org):
    conversation = org.conversation()
    return conversation, {m.provider_message_id: m for m in create(conversation)}


def by_kind(every, kind) -> Message:
    return next(m for m in every[1].values() if m.kind == kind)


def test_each_kind_is_shown_with_its_content(org, every):
    conversation, _ = every
    page = thread(org, conversation)

    location = bubble(page, by_kind(every, "location"))
    assert "Loja Centro" in location and "Praça da Sé, 100 - São Paulo" in location
    assert "-23.550520, -46.633308" in location
    assert (
        'href="https://www.openstreetmap.org/?mlat=-23.550520&amp;mlon=-46.633308'
        '#map=16/-23.550520/-46.633308"' in location
    )
    assert "Open map" in location

    cards = bubble(page, by_kind(every, "contacts"))
    assert "Ana Souza" in cards and "Bruno Lima" in cards
    assert "+55 11 98765-4321" in cards and "+55 21 3333-4444" in cards
    assert cards.count("Find a conversation") == 3
    assert "/inbox/?status=any&amp;q=5511987654321" in cards

    assert "Chose: Entrega expressa" in bubble(page, by_kind(every, "choice"))

    order = bubble(page, by_kind(every, "order"))
    assert "2 × tenis-42" in order and "BRL 199.90" in order and "1 × meia-kit" in order
    assert "Pode embrulhar para presente?" in order

    poll = bubble(page, by_kind(every, "poll"))
    assert "Qual horário prefere?" in poll and "Noite" in poll
    assert "1 vote" in poll and "0 votes" in poll

    unsupported = bubble(page, by_kind(every, "unsupported"))
    assert "Unsupported message type callLogMessage" in unsupported

    text = bubble(page, every[1][f"every-kind-{conversation.pk}-0"])
    assert "Vi o anúncio, ainda tem?" in text
    assert "From an ad" in text and "Promoção de verão" in text
    assert 'href="https://fb.me/anuncio-123"' in text
    # Reactions under the bubble: the customer's and the business's.
    assert re.search(r'class="reactions".*🔥.*👍', text, re.S)

    for kind, label in [
        ("image", "Photo"),
        ("video", "Video"),
        ("audio", "Audio"),
        ("voice", "Voice message"),
        ("document", "Document"),
        ("sticker", "Sticker"),
    ]:
        assert label in bubble(page, by_kind(every, kind)), kind
    assert "Foto do produto quebrado" in bubble(page, by_kind(every, "image"))
    assert "Nota fiscal" in bubble(page, by_kind(every, "document"))


def test_edits_deletes_and_phone_messages(org, every):
    conversation, messages = every
    page = thread(org, conversation)
    edited = bubble(page, messages[f"every-kind-{conversation.pk}-edited"])
    assert "Na verdade são 3 pares" in edited and "Edited" in edited
    assert "<details" in edited and "São 2 pares" in edited
    deleted = bubble(page, messages[f"every-kind-{conversation.pk}-deleted"])
    assert "This message was deleted" in deleted
    assert "mensagem secreta apagada" not in page
    phone = bubble(page, messages[f"every-kind-{conversation.pk}-phone"])
    assert "Sent from the phone" in phone and 'class="message out"' in phone


def test_no_message_has_an_empty_bubble(org, every):
    conversation, _ = every
    page = thread(org, conversation)
    for message in Message.objects.filter(conversation=conversation):
        shown = re.sub(r"<[^>]+>|\s", "", bubble(page, message).split('<span class="meta">')[0])
        assert shown, f"{message.kind} shows nothing"


def test_the_thread_in_portuguese(org, every):
    conversation, _ = every
    page = thread(org, conversation, "pt-br")
    for words in [
        "Abrir mapa",
        "Escolheu: Entrega expressa",
        "Tipo de mensagem não suportado: callLogMessage",
        "Esta mensagem foi apagada",
        "Enviada pelo celular",
        "Editada",
        "Veio de um anúncio",
        "Mensagem de voz",
        "1 voto",
    ]:
        assert words in page, words


def test_hostile_content_is_escaped_and_bad_links_are_dropped(org):
    conversation = org.conversation()
    hostile = {
        "location": {
            "latitude": "javascript:alert(1)",
            "longitude": "1e999",
            "name": HOSTILE,
            "address": HOSTILE,
        },
        "contacts": {"contacts": [{"name": HOSTILE, "phones": [HOSTILE, {"x": 1}]}, "junk"]},
        "choice": {"title": HOSTILE},
        "order": {
            "items": [{"product_id": HOSTILE, "quantity": "9", "price": HOSTILE}],
            "text": HOSTILE,
        },
        "poll": {"question": HOSTILE, "options": [HOSTILE], "votes": {HOSTILE: "lots"}},
        "unsupported": {"type": HOSTILE},
        "text": {"referral": {"headline": HOSTILE, "source_url": "javascript:alert(1)"}},
    }
    for n, (kind, content) in enumerate(hostile.items()):
        Message.objects.create(
            organization=org.org,
            conversation=conversation,
            number=conversation.number,
            direction="in",
            kind=kind,
            body=HOSTILE,
            content=content,
            status="received",
            provider_message_id=f"hostile-{n}",
            reactions={"customer": HOSTILE},
            history=[{"body": HOSTILE}],
            edited_at=conversation.created_at,
        )
    page = thread(org, conversation)
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    assert "javascript:" not in page
    assert "openstreetmap" not in page, "no map link without valid coordinates"
    assert "No coordinates were sent." not in page  # it has a name and an address


@pytest.mark.parametrize(
    ("latitude", "longitude", "linked"),
    [
        (-23.5, -46.6, True),
        ("-23.5", "-46.6", True),
        (90, 180, True),
        (90.1, 0, False),
        (0, -180.5, False),
        (float("nan"), 0, False),
        (True, 0, False),
        (None, 0, False),
        ("1e400", 0, False),
        ([1], 0, False),
    ],
)
def test_coordinates_are_checked_before_a_map_link_is_built(latitude, longitude, linked):
    shown = kinds.location({"latitude": latitude, "longitude": longitude})
    assert bool(shown.map_url) is linked


def test_the_thread_does_no_query_per_message(org):
    conversation = org.conversation()
    create(conversation)
    client = org.client()
    url = f"/inbox/c/{conversation.pk}/thread"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    shown = Message.objects.filter(conversation=conversation).count()
    Message.objects.bulk_create(
        Message(
            organization=org.org,
            conversation=conversation,
            number=conversation.number,
            direction="in",
            kind=kind,
            body="x",
            content=content,
            status="received",
        )
        for kind, _body, content in KINDS * 2
    )
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert Message.objects.filter(conversation=conversation).count() > 2 * shown - 10
    assert len(many) == len(few)
