"""Allowed dayparts (Organization.sending_hours): outside them only what a person typed leaves;
the rest waits until the next allowed period, local to the organization, and the Gate says so."""

from datetime import UTC, datetime

import pytest

from conversa.engine import gate
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.services import create_intent
from tests.engine.test_gate import facts, local

Origin = MessageIntent.Origin
SP = "America/Sao_Paulo"
# Weekdays 08:00–20:00, Saturday 09:00–13:00, no Sunday.
HOURS = {
    "mon": [["08:00", "20:00"]],
    "tue": [["08:00", "20:00"]],
    "wed": [["08:00", "20:00"]],
    "thu": [["08:00", "20:00"]],
    "fri": [["08:00", "20:00"]],
    "sat": [["09:00", "13:00"]],
}


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        # 2026-11-24 is a Tuesday.
        (local(SP, 2026, 11, 24, 12, 0), None),  # inside
        (local(SP, 2026, 11, 24, 7, 59), local(SP, 2026, 11, 24, 8, 0)),  # before opening
        (local(SP, 2026, 11, 24, 20, 0), local(SP, 2026, 11, 25, 8, 0)),  # the end is outside
        (local(SP, 2026, 11, 28, 13, 30), local(SP, 2026, 11, 30, 8, 0)),  # Sat → Monday
        (local(SP, 2026, 11, 29, 10, 0), local(SP, 2026, 11, 30, 8, 0)),  # Sunday: none
    ],
)
def test_unsolicited_messages_wait_for_the_next_allowed_period(now, opens):
    for origin in (Origin.AUTOMATION, Origin.CAMPAIGN, Origin.API, Origin.ASSISTANT):
        verdict = gate.decide(origin, facts(now=now, sending_hours=HOURS))
        if opens is None:
            assert verdict.verdict == gate.ALLOW
        else:
            assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "outside_sending_hours")
            assert verdict.defer_until == opens


def test_an_operators_reply_leaves_at_any_time():
    sunday = local(SP, 2026, 11, 29, 10, 0)
    verdict = gate.decide(Origin.CHAT_MANUAL, facts(now=sunday, sending_hours=HOURS))
    assert verdict.verdict == gate.ALLOW


def test_no_dayparts_means_any_time():
    sunday = local(SP, 2026, 11, 29, 3, 0)
    assert gate.decide(Origin.AUTOMATION, facts(now=sunday, sending_hours={})).verdict == "allow"
    assert gate.decide(Origin.AUTOMATION, facts(now=sunday)).verdict == "allow"


def test_the_period_is_the_organizations_local_time():
    # 10:00 UTC is 07:00 in São Paulo (closed) and 19:00 in Tokyo (open).
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert gate.decide(Origin.AUTOMATION, facts(now=now, sending_hours=HOURS)).verdict == "defer"
    tokyo = facts(now=now, sending_hours=HOURS, time_zone="Asia/Tokyo")
    assert gate.decide(Origin.AUTOMATION, tokyo).verdict == "allow"


def test_the_gate_reads_the_organizations_dayparts(org):
    org.org.sending_hours = {"sun": [["00:00", "00:01"]]}
    org.org.save(update_fields=["sending_hours"])
    intent, _ = create_intent(
        org.org,
        contact=org.contact(org.customer_writes().conversation.contact.phone),
        body="Promoção",
        origin=Origin.AUTOMATION,
        idempotency_key="daypart-1",
        number=org.number,
    )
    decision = GateDecision.objects.filter(intent=intent).latest("id")
    assert decision.reason_code == "outside_sending_hours"
    assert decision.facts["sending_hours"] == {"sun": [["00:00", "00:01"]]}
    job = ExecutionJob.objects.get(intent=intent)
    assert job.run_after == decision.defer_until
