"""The demo's assistant (issue 20, item 8): the demo number has a persona with the shop's FAQs,
turned on outside the shop's business hours, answered by the simulator's model."""

from datetime import datetime
from zoneinfo import ZoneInfo

from conversa import demo
from conversa.assistant import autoreply, knowledge
from conversa.assistant.models import AssistantSession, AutoReply


def test_the_demo_number_is_answered_outside_business_hours_from_its_faqs(db):
    org = demo.load_demo().organization
    assert org.business_hours == demo.DEMO_HOURS
    rule = AutoReply.objects.get(organization=org)
    assert rule.number.phone_number == "5511940000000"
    assert rule.when == AutoReply.When.OUTSIDE_HOURS
    assert rule.enabled and rule.persona.active and rule.persona.name == "Bia"
    # The customers the demo loads wrote before it was turned on: nothing waits for it.
    assert not AssistantSession.objects.filter(organization=org).exists()

    tz = ZoneInfo(org.time_zone)
    sunday_night = datetime(2026, 12, 6, 22, 0, tzinfo=tz)
    monday_morning = datetime(2026, 12, 7, 10, 0, tzinfo=tz)
    assert not autoreply.business_open(org, sunday_night)
    assert autoreply.business_open(org, monday_morning)

    [best, *_] = knowledge.retrieve(org, "Vocês entregam em Campinas?")
    assert "Campinas incluída" in best.text


def test_the_always_open_demo_never_has_the_assistant_answer(db):
    org = demo.load_demo(always_open=True).organization
    assert org.business_hours == {}
    assert autoreply.business_open(org, datetime(2026, 12, 6, 22, 0, tzinfo=ZoneInfo("UTC")))
    assert AutoReply.objects.filter(organization=org, when=AutoReply.When.OUTSIDE_HOURS).exists()
