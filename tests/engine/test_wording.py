"""The Outgoing messages page's words (engine/wording.py): moments in the organization's
time zone and the reader's format, the sending rules' verdicts, each message's state and
story, and why the numbers hold everything — in English and Portuguese, never our internal
event names."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone, translation

from conversa.accounts.services import create_api_token
from conversa.crm import services as crm
from conversa.crm.models import FollowUp
from conversa.engine import services, wording
from conversa.engine.models import GateDecision, MessageIntent
from conversa.numbers.models import Number
from tests.crm.helpers import automation, lead, pipeline, run_worker, stage

# A Saturday afternoon in São Paulo (UTC-3).
NOW = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)


@pytest.fixture
def sao_paulo():
    with timezone.override("America/Sao_Paulo"):
        yield


def test_moments_read_as_a_clock_today_a_weekday_this_week_else_a_date_in_the_readers_format(
    sao_paulo,
):
    assert wording.when(datetime(2026, 12, 5, 17, 2, tzinfo=UTC), NOW) == "2:02 p.m."
    assert wording.when(datetime(2026, 12, 8, 17, 0, tzinfo=UTC), NOW) == "Tue 2 p.m."
    assert wording.when(datetime(2026, 12, 30, 12, 0, tzinfo=UTC), NOW) == "12/30/2026 9 a.m."
    with translation.override("pt-br"):
        assert wording.when(datetime(2026, 12, 8, 17, 0, tzinfo=UTC), NOW) == "Ter 14:00"
        assert wording.when(datetime(2026, 12, 30, 12, 0, tzinfo=UTC), NOW) == "30/12/2026 09:00"


def decision(verdict: str, reason: str, until=None) -> GateDecision:
    return GateDecision(verdict=verdict, reason=reason, defer_until=until)


def test_the_sending_rules_verdicts_read_as_sentences(sao_paulo):
    allow = decision("allow", "All checks passed")
    hours = decision(
        "defer",
        "Outside the allowed sending hours: only operators' replies are sent",
        datetime(2026, 12, 7, 11, 0, tzinfo=UTC),
    )
    block = decision("block", "The contact opted out of automated and campaign messages")
    assert wording.verdict_words(allow, NOW) == "Allowed: all checks passed"
    assert wording.verdict_words(hours, NOW) == (
        "Waiting until Mon 8 a.m.: outside the allowed sending hours: only operators' replies "
        "are sent"
    )
    assert wording.verdict_words(block, NOW) == (
        "Refused: the contact opted out of automated and campaign messages"
    )
    with translation.override("pt-br"):
        assert (
            wording.verdict_words(allow, NOW) == "Permitida: todas as verificações foram aprovadas"
        )
        assert wording.verdict_words(block, NOW).startswith("Recusada: ")


def test_a_scheduled_follow_up_says_when_it_goes_and_by_which_automation(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    moved = lead(org, p)
    crm.move_lead(moved, stage(p, "Proposta"), acting_member=org.owner)
    second = FollowUp.objects.get(lead=moved, position=2)  # due in two days
    intent = MessageIntent.objects.get(pk=second.intent_id)
    text, tone = wording.state(intent)
    assert text == f"Scheduled for {wording.when(second.due_at)}" and tone == "wait"
    assert wording.by_whom(intent) == "by the automation “Proposta follow-up”"
    assert wording.source(intent) == ("Automation", "“Proposta follow-up”")
    assert wording.moment(intent) == second.due_at  # when it goes, not when it was made
    story = [entry.text for entry in wording.story(intent)]
    assert story[0].startswith("Scheduled for ") and "by the automation" in story[0]
    assert "Allowed for now: all checks passed (checked again when it is due)" in story[1]
    assert not any("." in text.split(" ")[0] for text in story)  # no "intent.created"


def test_a_sent_message_says_when_it_was_sent_and_delivered(org, settings):
    settings.SANDBOX_IN_PROCESS = True
    intent, _ = services.reply(org.conversation(), "Olá", acting_member=org.owner)
    run_worker()
    intent = MessageIntent.objects.select_related("job__message").get(pk=intent.pk)
    message = intent.job.message
    message.delivered_at = message.sent_at
    text, tone = wording.state(intent)
    assert text.startswith("Sent ") and " · delivered " in text and tone == "ok"
    assert wording.by_whom(intent) == f"by {org.owner.display_name}"
    assert wording.source(intent) == ("Agent reply", org.owner.display_name)
    assert wording.sending_number(intent) == org.number
    kinds = [entry.raw["kind"] for entry in wording.story(intent)]
    assert kinds[0] == "intent.created" and "job.sent" in kinds  # kept for the admins
    verdicts = [e.text for e in wording.story(intent) if e.raw["kind"] == "gate.allow"]
    # Asked at creation and again just before sending: the second reads as the recheck it is.
    assert verdicts[0].startswith("Allowed: all checks passed")
    assert len(verdicts) == 2 and verdicts[1].startswith("Checked again before sending: ")


def test_the_numbers_holding_everything_are_named(org):
    assert wording.numbers_holding(org.org) == ""
    Number.objects.filter(pk=org.number.pk).update(paused=True)
    assert wording.numbers_holding(org.org) == "all numbers are paused"
    org.number.refresh_from_db()
    assert wording.numbers_holding(org.org, org.number) == (
        f"the number {org.number.name} is paused"
    )
    org.org.sending_paused = True
    assert wording.numbers_holding(org.org) == "sending is paused for the whole organization"


def test_a_failure_says_why_in_words():
    assert wording.failure_words("cancelled: left stage", None) == "Cancelled: left stage"
    assert wording.failure_words("retries spent: timeout", None) == (
        "Not sent: every attempt failed"
    )
    assert wording.failure_words("marked failed by a person", None) == "Marked as not sent"
    assert wording.lower_first("API down") == "API down"


def test_a_message_asked_for_with_an_api_token_names_the_token(client, org):
    token = create_api_token(org.owner, "CRM sync")
    answer = client.post(
        "/api/intents",
        {"phone": "5511988887777", "body": "Pedido confirmado"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    intent_id = answer.json()["id"]
    listing = org.client().get("/intents/").content.decode()
    assert "Another system (API)" in listing and "“CRM sync”" in listing
    page = org.client().get(f"/intents/{intent_id}/").content.decode()
    assert "Created by the API token “CRM sync”" in page
