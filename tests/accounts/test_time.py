"""Every page in the organization's time zone, and dates in the reader's language: the same
instant reads 05/03/2026 14:05 in pt-BR and 03/05/2026 2:05 p.m. in English in São Paulo."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import translation

from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.inbox.models import Conversation
from conversa.inbox.thread import Window
from conversa.numbers.models import Number
from conversa.sandbox.models import SandboxMessage

# 14:05 in São Paulo (UTC−3, no summer time since 2019), 02:05 the next day in Tokyo.
AT = datetime(2026, 3, 5, 17, 5, tzinfo=UTC)
LATER = AT.replace(year=2099)  # a cooldown still running when the page is drawn


def page(client: Client, path: str, language: str) -> str:
    # LocaleMiddleware activates the request's language for the thread and nothing puts it
    # back: the tests that follow would read Portuguese.
    with translation.override(translation.get_language()):
        answer = client.get(path, headers={"Accept-Language": language})
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.fixture
def intent(org) -> MessageIntent:
    intent, _ = engine.reply(org.conversation(), "Olá", acting_member=org.owner)
    MessageIntent.objects.filter(pk=intent.pk).update(created_at=AT)
    return intent


@pytest.mark.parametrize(
    ("language", "shown"), [("pt-br", "05/03/2026 14:05"), ("en", "03/05/2026 2:05 p.m.")]
)
def test_intents_page_shows_the_organizations_time_in_the_readers_format(
    org, intent, language, shown
):
    html = page(org.client(), "/intents/", language)
    assert shown in html
    assert "17:05" not in html and "5:05 p.m." not in html


def test_the_time_zone_is_the_organizations_own(org, intent):
    org.org.time_zone = "Asia/Tokyo"
    org.org.save(update_fields=["time_zone"])
    assert "06/03/2026 02:05" in page(org.client(), "/intents/", "pt-br")


def test_numbers_page_shows_the_cooldown_in_local_time(org):
    Number.objects.filter(pk=org.number.pk).update(cooldown_until=LATER)
    html = page(org.client(), "/numbers/", "pt-br")
    assert "até 14:05" in html
    assert "17:05" not in html


def test_simulator_uses_the_signed_in_members_organization(org, settings):
    message = SandboxMessage.objects.create(
        instance=org.twin,
        chat_phone="5511988887777",
        from_me=False,
        message_id="time-1",
        text="Oi",
        created_at=AT,
    )
    path = f"/sandbox/chat?instance={org.twin.name}&phone={message.chat_phone}"
    assert "<time>14:05</time>" in page(org.client(), path, "pt-br")
    assert settings.TIME_ZONE == "UTC"
    # No one else reads it: the simulator's pages are for the organization's members.
    assert Client().get(path).status_code == 302


def test_api_keeps_utc_offsets(org, intent):
    answer = org.client().get(
        f"/api/intents/{intent.pk}", headers={"Authorization": f"Bearer {org.api_token()}"}
    )
    assert answer.status_code == 200
    assert answer.json()["created_at"].replace("+00:00", "Z") == "2026-03-05T17:05:00Z"


def test_window_phrases_are_what_the_page_script_fills_in():
    window = Window(open=True, ends_at=AT + timedelta(hours=23, minutes=59), enforced=False)
    assert window.phrase_hours == "%(hours)s h %(minutes)s min left"
    assert window.left_text(now=AT) == "23 h 59 min left"
    assert window.left_text(now=AT + timedelta(hours=23, minutes=1)) == "58 min left"


@pytest.mark.parametrize(
    ("language", "message_time", "until"),
    [
        ("pt-br", "14:05", "até 05/03/2099 14:05"),
        ("en", "2:05 p.m.", "until 03/05/2099 2:05 p.m."),
    ],
)
def test_inbox_formats_follow_the_readers_language(org, language, message_time, until):
    conversation = org.conversation()
    conversation.messages.update(created_at=AT)
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.SNOOZED, snoozed_until=LATER
    )
    html = page(org.client(), f"/inbox/c/{conversation.pk}/?status=any", language)
    assert f">{message_time}</time>" in html
    assert f'<span class="muted small" id="snoozed-until">{until}</span>' in html
