"""Why a number is not connected, as Evolution says it (the close's statusReason, Baileys'
DisconnectReason), and in words a business user knows on the number's card."""

import json

import pytest
from django.utils import timezone, translation

from conversa.inbound.services import apply_event
from conversa.numbers import services
from conversa.numbers.models import Number
from conversa.providers.base import ConnectionUpdate, ParsedEvent
from conversa.providers.evolution import EvolutionProvider
from tests.conftest import post_webhook
from tests.providers.conftest import load

# A real close (woofed-crm's fixture, SOURCES.md), its code changed per case.
CLOSE = "connection_update_close_woofed.json"


def close_with(code) -> dict:
    payload = load(CLOSE)
    payload["data"]["statusReason"] = code
    return payload


def parse(payload: dict) -> list:
    provider = EvolutionProvider("http://evolution.invalid", "key")
    return [p.event for p in provider.parse_webhook(Number(), json.dumps(payload).encode())]


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        (401, "disconnected", "logged_out"),
        (402, "disconnected", "suspended"),
        (403, "disconnected", "banned"),
        (406, "disconnected", "banned"),
        ("403", "disconnected", "banned"),
        (408, "connecting", "reconnecting"),
        (428, "connecting", "reconnecting"),
        (440, "connecting", "reconnecting"),
        (500, "connecting", "reconnecting"),
        (503, "connecting", "reconnecting"),
        (515, "connecting", "reconnecting"),
        (None, "connecting", "reconnecting"),
        ("strange", "connecting", "reconnecting"),
    ],
)
def test_a_close_code_says_why(code, status, reason):
    assert parse(close_with(code)) == [
        ConnectionUpdate(status=status, phone="5522999999999", reason=reason)
    ]


def test_the_real_logged_out_close_is_a_logout():
    assert parse(load(CLOSE)) == [
        ConnectionUpdate(status="disconnected", phone="5522999999999", reason="logged_out")
    ]


@pytest.mark.parametrize(
    ("code", "reason"),
    [(401, "logged_out"), (403, "banned"), (402, "suspended"), (None, "logged_out")],
)
def test_status_instance_closed_carries_the_code(code, reason):
    payload = load(CLOSE)
    data = {"instance": "woofedinstance", "status": "closed", "disconnectionReasonCode": code}
    payload.update(event="status.instance", data=data)
    assert parse(payload) == [ConnectionUpdate(status="disconnected", reason=reason)]


def card(org, language="en") -> str:
    client = org.client()
    client.cookies["django_language"] = language
    return client.get("/numbers/").content.decode()


def test_a_banned_number_says_so_and_what_to_do(org):
    number = org.number
    assert post_webhook(org.client(), number, close_with(403)).status_code == 200
    number.refresh_from_db()
    assert (number.status, number.connection_reason) == ("disconnected", "banned")
    page = card(org)
    assert "Banned by WhatsApp" in page and "Contact WhatsApp support" in page
    assert services.health_scores([number], timezone.now()) == {number.pk: 0}
    portuguese = card(org, "pt-br")
    assert "Banido pelo WhatsApp" in portuguese and "suporte do WhatsApp" in portuguese

    # Evolution then reports the logout it did, with no code: the ban stays the reason.
    payload = load(CLOSE)
    payload.update(event="logout.instance", data=None, date_time="2024-01-27T01:19:48.000Z")
    assert post_webhook(org.client(), number, payload).status_code == 200
    number.refresh_from_db()
    assert number.connection_reason == "banned"


def test_a_transient_drop_reads_reconnecting_and_clears_when_open(org):
    number = org.number
    post_webhook(org.client(), number, close_with(515))
    number.refresh_from_db()
    assert (number.status, number.connection_reason) == ("connecting", "reconnecting")
    page = card(org)
    assert "Reconnecting" in page and "coming back by itself" in page
    assert "Show QR" not in page
    with translation.override("pt-br"):
        assert number.status_label == "Reconectando"
    services.apply_connection(number, Number.Status.CONNECTED)
    number.refresh_from_db()
    assert number.connection_reason == "" and number.next_step == ""


@pytest.mark.parametrize(
    ("reason", "words", "step"),
    [
        ("logged_out", "Logged out", "Scan a new QR code"),
        ("suspended", "Suspended by WhatsApp", "Wait until the suspension ends"),
        ("refused", "Refused", "Wait a few minutes"),
    ],
)
def test_each_reason_has_words_and_a_next_step(org, reason, words, step):
    event = ConnectionUpdate(status="disconnected", reason=reason)
    apply_event(org.number, ParsedEvent(event=event, dedupe_key=f"c:{reason}"))
    page = card(org)
    assert words in page and step in page


def test_transient_drops_count_against_health_but_a_logout_does_not(org):
    number = org.number
    for n, code in enumerate([428, 401]):
        payload = close_with(code)
        payload["date_time"] = f"2024-01-27T01:19:4{n}.000Z"
        post_webhook(org.client(), number, payload)
    assert services.health_scores([number], timezone.now()) == {number.pk: 90}


def test_an_open_number_going_back_to_connecting_is_reconnecting(org):
    """Evolution sends no close for a transient drop, only the next `connecting` (with
    statusReason 200) and then `open` (the msgorch capture, SOURCES.md)."""
    number = org.number
    connecting = load("connection_update_connecting_v2_msgorch.json")
    post_webhook(org.client(), number, connecting)
    number.refresh_from_db()
    assert (number.status, number.connection_reason) == ("connecting", "reconnecting")
    assert "Show QR" not in card(org)
    post_webhook(org.client(), number, load("connection_update_open_v2_msgorch.json"))
    number.refresh_from_db()
    assert (number.status, number.connection_reason) == ("connected", "")


def test_a_new_qr_is_a_pairing_not_a_reconnect(org):
    number = org.number
    services.apply_connection(number, Number.Status.DISCONNECTED, reason="banned")
    services.apply_qr(number, "2@qr")
    services.apply_connection(number, Number.Status.CONNECTING)
    number.refresh_from_db()
    assert (number.status, number.connection_reason) == ("connecting", "")
    assert number.status_label == "Connecting"


def test_status_instance_code_may_come_as_digits():
    payload = load(CLOSE)
    data = {"instance": "i", "status": "closed", "disconnectionReasonCode": "402"}
    payload.update(event="status.instance", data=data)
    assert parse(payload) == [ConnectionUpdate(status="disconnected", reason="suspended")]
