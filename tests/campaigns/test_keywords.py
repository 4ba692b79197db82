"""Opt-out keywords: matched on normalized text, applied in the transaction that stores the
customer's message (opted out, queued automated and campaign messages cancelled, consent
withdrawn, one confirmation however often the webhook comes), and WhatsApp's own marketing
preference honoured the same way."""

import copy
import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from conversa.accounts.models import OperationalEvent
from conversa.campaigns import consent, keywords
from conversa.campaigns.models import Consent, OptOutKeywords
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.errors import Forbidden, Refused
from conversa.inbox.models import Contact
from conversa.numbers.models import Number
from conversa.providers.models import ProviderEvent
from tests.conftest import cloud_number

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads" / "cloud"
SECRET = "app-secret-for-tests"  # noqa: S105
PHONE = "16315551234"  # the Postman example's customer
Origin = MessageIntent.Origin
J = ExecutionJob.Status


@pytest.mark.parametrize(
    ("text", "match", "expected"),
    [
        ("SAIR", "whole", "SAIR"),
        ("  sair!! ", "whole", "SAIR"),
        ("Sáir.", "whole", "SAIR"),
        ("Descadastrar", "whole", "DESCADASTRAR"),
        ("stop", "whole", "STOP"),
        ("não quero sair agora", "whole", ""),
        ("saira", "whole", ""),
        ("não quero sair agora", "anywhere", "SAIR"),
        ("Por favor, PARAR!", "anywhere", "PARAR"),
        ("saira daqui", "anywhere", ""),
        ("", "anywhere", ""),
    ],
)
def test_keywords_match_on_normalized_text(text, match, expected):
    assert keywords.matching(text, OptOutKeywords().opt_out, match) == expected


def test_normalization_drops_case_accents_and_punctuation():
    assert keywords.normalize("  Não, CANCELAR!!! ") == "nao cancelar"
    assert keywords.normalize("…") == ""
    # A keyword the organization writes with an accent matches one typed without.
    assert keywords.matching("nao", ["NÃO"], "whole") == "NÃO"


@pytest.fixture
def cloud(org) -> Number:
    return cloud_number(org, provider_name="27681414235104944", app_secret=SECRET)


def signed_post(client, number: Number, payload: dict):
    raw = json.dumps(payload).encode()
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        f"/webhooks/cloud/{number.webhook_key}",
        data=raw,
        content_type="application/json",
        headers={"X-Hub-Signature-256": f"sha256={digest}"},
    )


def customer_text(body: str, message_id: str) -> dict:
    """The Postman example's text message, saying `body`, sent now."""
    payload = json.loads((PAYLOADS / "text_message_postman.json").read_text())
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update(id=message_id, timestamp=str(int(time.time())), text={"body": body})
    return payload


def queued(org, contact, origin: str, key: str) -> MessageIntent:
    intent, _ = engine.create_intent(
        org.org,
        contact=contact,
        body="Promoção!",
        origin=origin,
        idempotency_key=key,
        number=org.number,
        not_before=timezone.now() + timedelta(hours=1),
    )
    assert intent.job.status == J.PENDING
    return intent


def test_a_keyword_webhook_opts_out_cancels_and_confirms_once(client, org, cloud):
    assert signed_post(client, cloud, customer_text("Oi", "wamid.first")).status_code == 200
    contact = org.contact(PHONE)
    consent.record_consent(contact, granted=True, channel="web_form", evidence="form")
    automation = queued(org, contact, Origin.AUTOMATION, "auto-1")
    campaign = queued(org, contact, Origin.CAMPAIGN, "camp-1")
    sair = customer_text("Sair!", "wamid.sair")
    answers = [signed_post(client, cloud, sair).json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [1, 0, 0]
    contact.refresh_from_db()
    assert contact.opted_out and not contact.marketing_consent
    withdrawal = consent.current(contact)
    assert (withdrawal.granted, withdrawal.channel, withdrawal.evidence) == (
        False,
        Consent.Channel.KEYWORD,
        "Sair!",
    )
    for intent in (automation, campaign):
        job = ExecutionJob.objects.get(intent=intent)
        assert (job.status, job.last_error) == (J.FAILED, "cancelled: opted out")
    audit = OperationalEvent.objects.get(verb="contact.opted_out", object_id=contact.pk)
    assert audit.data["reason"] == "keyword: SAIR"
    [reply] = MessageIntent.objects.filter(contact=contact, origin=Origin.CONFIRMATION)
    assert reply.body == OptOutKeywords().opt_out_reply
    assert reply.conversation.number == cloud
    assert reply.job.status == J.PENDING  # allowed by the Gate, waiting for a worker


def test_a_sentence_with_the_keyword_changes_nothing_in_whole_message_mode(client, org, cloud):
    signed_post(client, cloud, customer_text("não quero sair agora", "wamid.1"))
    contact = org.contact(PHONE)
    assert not contact.opted_out
    assert not MessageIntent.objects.filter(origin=Origin.CONFIRMATION).exists()


def test_anywhere_mode_and_own_words(client, org, cloud):
    keywords.update_settings(
        org.org,
        opt_out=["chega", "SAIR"],
        opt_in=["voltar"],
        match="anywhere",
        opt_out_reply="Ok, parou.",
        opt_in_reply="",
        acting_member=org.owner,
    )
    signed_post(client, cloud, customer_text("Chega de promoção!", "wamid.1"))
    contact = org.contact(PHONE)
    assert contact.opted_out
    reply = MessageIntent.objects.get(origin=Origin.CONFIRMATION)
    assert reply.body == "Ok, parou."
    # No consent to withdraw: no record is made.
    assert consent.current(contact) is None


def test_opt_in_keyword_clears_opt_out_without_granting_consent(client, org, cloud):
    signed_post(client, cloud, customer_text("SAIR", "wamid.1"))
    # Someone not opted out who writes VOLTAR gets nothing back.
    signed_post(client, cloud, customer_text("voltar", "wamid.2"))
    contact = org.contact(PHONE)
    assert not contact.opted_out
    assert not contact.marketing_consent
    replies = MessageIntent.objects.filter(origin=Origin.CONFIRMATION).order_by("id")
    assert [r.body for r in replies] == [
        OptOutKeywords().opt_out_reply,
        OptOutKeywords().opt_in_reply,
    ]
    signed_post(client, cloud, customer_text("VOLTAR", "wamid.3"))
    assert MessageIntent.objects.filter(origin=Origin.CONFIRMATION).count() == 2
    assert OperationalEvent.objects.filter(verb="contact.opted_in", object_id=contact.pk).exists()


def test_a_campaign_to_a_contact_without_consent_is_refused(org):
    contact = org.conversation().contact
    intent, _ = engine.create_intent(
        org.org,
        contact=contact,
        body="Promoção!",
        origin=Origin.CAMPAIGN,
        idempotency_key="api-campaign-1",
        number=org.number,
        created_by=org.owner,
    )
    assert intent.status == MessageIntent.Status.BLOCKED
    decision = intent.decisions.get()
    assert decision.reason_code == "no_marketing_consent"
    assert not ExecutionJob.objects.filter(intent=intent).exists()


def preference(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def test_cloud_marketing_preferences_stop_and_resume(client, org, cloud):
    contact = org.conversation(phone="16505551234").contact
    consent.record_consent(contact, granted=True, channel="import", evidence="row 2")
    campaign = queued(org, contact, Origin.CAMPAIGN, "camp-1")
    stop = preference("user_preferences_stop_derived.json")
    for _ in range(2):
        assert signed_post(client, cloud, stop).status_code == 200
    contact.refresh_from_db()
    assert contact.opted_out and not contact.marketing_consent
    [withdrawal] = Consent.objects.filter(contact=contact, granted=False)
    assert withdrawal.channel == Consent.Channel.CLOUD_PREFERENCE
    assert withdrawal.evidence == "User requested to stop marketing messages"
    assert ExecutionJob.objects.get(intent=campaign).status == J.FAILED
    # WhatsApp showed the customer their choice: no confirmation from us.
    assert not MessageIntent.objects.filter(origin=Origin.CONFIRMATION).exists()
    signed_post(client, cloud, preference("user_preferences_resume_meta_docs.json"))
    contact.refresh_from_db()
    assert not contact.opted_out and not contact.marketing_consent


def test_an_unknown_preference_is_kept_unparsed(client, org, cloud):
    payload = copy.deepcopy(preference("user_preferences_stop_derived.json"))
    payload["entry"][0]["changes"][0]["value"]["user_preferences"][0]["category"] = "calls"
    assert signed_post(client, cloud, payload).json()["stored"] == 1
    assert not Contact.objects.filter(organization=org.org, opted_out=True).exists()
    event = ProviderEvent.objects.get(number=cloud)
    assert event.kind == "Unparsed" and "calls" in event.reason


def test_settings_are_checked_and_audited(org):
    def save(**changes):
        wanted = dict(
            opt_out=["SAIR"],
            opt_in=["VOLTAR"],
            match="whole",
            opt_out_reply="",
            opt_in_reply="",
            acting_member=org.owner,
        )
        return keywords.update_settings(org.org, **{**wanted, **changes})

    with pytest.raises(Refused, match="at least one"):
        save(opt_out=["  ", ""])
    with pytest.raises(Refused, match="both stop and resume"):
        save(opt_in=["sair!"])
    with pytest.raises(Refused, match="no letter or digit"):
        save(opt_out=["!!"])
    with pytest.raises(Forbidden):
        save(acting_member=org.member())
    saved = save(opt_out=["SAIR", "sair", "Parar"])
    assert saved.opt_out == ["SAIR", "Parar"]
    assert keywords.settings_for(org.org.pk).opt_out == ["SAIR", "Parar"]
    assert OperationalEvent.objects.filter(verb="keywords.updated").count() == 1


def test_api_reads_defaults_and_replaces_them(org):
    headers = {"Authorization": f"Bearer {org.api_token()}"}
    api = Client()
    got = api.get("/api/opt-out-keywords", headers=headers).json()
    assert got["opt_out"][0] == "SAIR" and got["match"] == "whole"
    body = {"opt_out": ["SAIR", "CHEGA"], "opt_in": ["VOLTAR"], "match": "anywhere"}
    put = api.put("/api/opt-out-keywords", body, content_type="application/json", headers=headers)
    assert put.status_code == 200, put.content
    assert put.json()["opt_out"] == ["SAIR", "CHEGA"] and put.json()["opt_out_reply"] == ""
    empty = api.put(
        "/api/opt-out-keywords",
        {**body, "opt_out": []},
        content_type="application/json",
        headers=headers,
    )
    assert empty.status_code == 422
    clash = api.put(
        "/api/opt-out-keywords",
        {**body, "opt_in": ["chega"]},
        content_type="application/json",
        headers=headers,
    )
    assert clash.status_code == 422
    assert "both stop and resume" in json.dumps(clash.json())
