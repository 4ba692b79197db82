"""The demo loaded open around the clock (`conversa demo --always-open`, what the browser tests
load) has its SLA clocks running whatever the day: loaded on a Saturday with Monday–Friday hours,
no clock ticked (issue 17). The default demo has the shop's hours (its assistant answers outside
them: tests/assistant/test_demo_assistant.py)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from conversa import demo
from conversa.inbox import deadlines, thread
from conversa.inbox.models import Conversation


def test_the_always_open_demo_clocks_tick_on_any_day(db):
    org = demo.load_demo(always_open=True).organization
    schedule = org.sla_schedule()
    saturday_night = datetime(2026, 12, 5, 23, 30, tzinfo=ZoneInfo(org.time_zone))
    due, _ = deadlines.due_times(saturday_night, demo.DEMO_FIRST_RESPONSE_MINUTES, None, schedule)
    assert due == saturday_night + timedelta(minutes=demo.DEMO_FIRST_RESPONSE_MINUTES)

    waiting = Conversation.objects.filter(organization=org, contact__name="João Pereira").get()
    assert waiting.first_response_due_at == waiting.first_inbound_at + timedelta(
        minutes=demo.DEMO_FIRST_RESPONSE_MINUTES
    )
    clocks = {c.name: c for c in thread.sla_clocks(waiting, timezone.now())}
    assert clocks["first_response"].state == deadlines.OK
    assert clocks["first_response"].text.endswith("min left")
    # An hour on, the clock has run out: it counted every minute.
    later = timezone.now() + timedelta(minutes=demo.DEMO_FIRST_RESPONSE_MINUTES + 1)
    assert thread.sla_clocks(waiting, later)[0].state == deadlines.BREACHED
