from datetime import UTC, datetime, timedelta

import pytest

from conversa.engine import gate
from conversa.engine.models import MessageIntent

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
Origin = MessageIntent.Origin


def facts(**overrides) -> gate.Facts:
    base = dict(
        now=NOW,
        sending_paused=False,
        instance_status="connected",
        instance_paused=False,
        instance_cooldown_until=None,
        contact_blocked=False,
        contact_opted_out=False,
    )
    return gate.Facts(**{**base, **overrides})


def test_everything_fine_allows():
    assert gate.decide(Origin.CHAT_MANUAL, facts()).verdict == gate.ALLOW


def test_blocked_contact_is_blocked_for_every_origin():
    for origin in Origin.values:
        verdict = gate.decide(origin, facts(contact_blocked=True))
        assert (verdict.verdict, verdict.reason_code) == (gate.BLOCK, "contact_blocked")


@pytest.mark.parametrize("origin", [Origin.AUTOMATION, Origin.CAMPAIGN])
def test_opted_out_contact_gets_no_automation_or_campaign(origin):
    verdict = gate.decide(origin, facts(contact_opted_out=True))
    assert (verdict.verdict, verdict.reason_code) == (gate.BLOCK, "contact_opted_out")


def test_opted_out_contact_can_still_get_a_manual_reply():
    assert gate.decide(Origin.CHAT_MANUAL, facts(contact_opted_out=True)).verdict == gate.ALLOW


def test_disconnected_number_defers():
    verdict = gate.decide(Origin.CHAT_MANUAL, facts(instance_status="disconnected"))
    assert verdict.verdict == gate.DEFER
    assert verdict.reason_code == "instance_not_connected"
    assert verdict.defer_until > NOW


def test_paused_number_defers():
    assert gate.decide(Origin.API, facts(instance_paused=True)).reason_code == "instance_paused"


def test_cooldown_defers_until_it_ends():
    until = NOW + timedelta(minutes=5)
    verdict = gate.decide(Origin.API, facts(instance_cooldown_until=until))
    assert (verdict.verdict, verdict.defer_until) == (gate.DEFER, until)


def test_kill_switch_defers_everything():
    verdict = gate.decide(Origin.CHAT_MANUAL, facts(sending_paused=True))
    assert (verdict.verdict, verdict.reason_code) == (gate.DEFER, "org_paused")


def test_block_wins_over_defer():
    verdict = gate.decide(
        Origin.CAMPAIGN, facts(contact_opted_out=True, instance_status="connecting")
    )
    assert verdict.verdict == gate.BLOCK
