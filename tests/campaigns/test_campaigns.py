"""Campaigns: who is added and why others are skipped, one intent per person whatever happens,
the pace, pause, resume, cancel, clone, finishing, replies, progress (issue 18, item 6)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count, F
from django.utils import timezone

from conversa.campaigns import consent, pacing, progress, sending
from conversa.campaigns.models import Campaign, CampaignRecipient, Consent, Segment
from conversa.crm import followups
from conversa.engine import gate, jobs
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.errors import Refused
from conversa.inbox.models import Contact, Conversation, Message, Tag
from conversa.numbers.models import Number
from conversa.providers.base import SendResult
from tests.campaigns.test_imports import HEADER, run, upload
from tests.conftest import cloud_number, make_org
from tests.engine.test_gate import facts as gate_facts

Skip = CampaignRecipient.Skip
J = ExecutionJob.Status


class Provider:
    """Stands in for WhatsApp where only the engine's bookkeeping is under test (the run to
    completion over real HTTP is test_a_campaign_runs_to_completion_through_the_simulator)."""

    def __init__(self):
        self.sent = []

    def send_text(self, number, phone, body, reference):
        self.sent.append((phone, body))
        return SendResult(provider_message_id=f"PID-{reference}")


@pytest.fixture
def provider(monkeypatch):
    fake = Provider()
    monkeypatch.setattr(engine, "get_provider", lambda number: fake)
    return fake


def person(org, phone, name="Ana Souza", *, agreed=True, wrote=True, **fields) -> Contact:
    contact = Contact.objects.create(organization=org.org, phone=phone, name=name, **fields)
    if agreed:
        consent.record_consent(contact, granted=True, channel=Consent.Channel.AGENT)
    if wrote:
        # Free text goes only to people inside the 24-hour window.
        Conversation.objects.create(
            organization=org.org,
            number=org.number,
            contact=contact,
            last_inbound_at=timezone.now() - timedelta(hours=1),
        )
    contact.refresh_from_db()
    return contact


def tagged(org, name="clientes") -> Tag:
    tag, _ = Tag.objects.get_or_create(organization=org.org, name=name)
    return tag


def campaign_for(org, tag, **fields) -> Campaign:
    draft = sending.Draft(
        name=fields.pop("name", "Black Friday"),
        body=fields.pop("body", "Olá {{contact.first_name}}, temos ofertas!"),
        number_ids=(org.number.pk,),
        tag_ids=(tag.pk,),
        pace_per_minute=fields.pop("pace_per_minute", 0),
        **fields,
    )
    return sending.save_campaign(org.org, draft, acting_member=org.owner)


def drain():
    while claimed := jobs.claim_batch("w1", 50):
        engine.execute_jobs(claimed, "w1")


def test_the_audience_is_everyone_who_may_receive_it_and_the_rest_is_skipped_with_reasons(
    org, provider
):
    tag = tagged(org)
    people = {
        "ok": person(org, "5511900000001"),
        "no_consent": person(org, "5511900000002", agreed=False),
        "opted_out": person(org, "5511900000003", opted_out=True),
        "blocked": person(org, "5511900000004", blocked=True),
        "blank": person(org, "5511900000005", name=""),
        "window": person(org, "5511900000006", wrote=False),
        "no_phone": person(org, "", name="Sem Telefone"),
    }
    for contact in people.values():
        contact.tags.add(tag)
    campaign = campaign_for(org, tag)
    counts = sending.start(campaign, acting_member=org.owner)
    assert counts == {
        "queued": 1,
        Skip.NO_CONSENT: 1,
        Skip.OPTED_OUT: 1,
        Skip.BLOCKED: 1,
        Skip.BLANK_VARIABLE: 1,
        Skip.OUTSIDE_WINDOW: 1,
        Skip.INVALID_NUMBER: 1,
    }
    [intent] = MessageIntent.objects.filter(campaign=campaign)
    assert intent.contact == people["ok"]
    assert intent.origin == MessageIntent.Origin.CAMPAIGN
    assert intent.idempotency_key == f"campaign:{campaign.pk}:contact:{people['ok'].pk}"
    assert intent.body == "Olá Ana, temos ofertas!"
    drain()
    assert provider.sent == [("5511900000001", "Olá Ana, temos ofertas!")]
    shown = progress.progress(campaign)
    assert (shown.recipients, shown.sent, shown.queued, shown.skipped_total) == (7, 1, 0, 6)


def test_each_person_is_one_recipient_however_they_match_and_a_start_never_repeats(org):
    tag, vip = tagged(org), tagged(org, "vip")
    ana = person(org, "5511900000001")
    ana.tags.add(tag, vip)
    segment = Segment.objects.create(organization=org.org, name="Todos", filters={})
    campaign = campaign_for(org, tag)
    campaign.tags.add(vip)
    campaign.segments.add(segment)
    assert sending.start(campaign, acting_member=org.owner) == {"queued": 1}
    with pytest.raises(Refused):
        sending.start(campaign, acting_member=org.owner)
    # A pass run again, or twice at once, adds nobody twice.
    assert sending.add_recipients(campaign) == {}
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 1
    assert MessageIntent.objects.filter(campaign=campaign).count() == 1


def test_people_who_join_the_audience_later_are_added_once_by_the_worker_pass(org, provider):
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    campaign = campaign_for(org, tag, start_at=timezone.now() + timedelta(hours=1))
    sending.start(campaign, acting_member=org.owner)
    person(org, "5511900000002", name="Bia").tags.add(tag)
    assert sending.run_due() == 1
    assert sending.run_due() == 0
    keys = set(MessageIntent.objects.filter(campaign=campaign).values_list("contact__phone"))
    assert keys == {("5511900000001",), ("5511900000002",)}
    # Not before its start time.
    assert not jobs.claim_batch("w1", 10)


def test_a_campaign_finishes_when_nothing_is_left_and_cannot_run_again_but_can_be_cloned(
    org, provider
):
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    campaign = campaign_for(org, tag)
    sending.start(campaign, acting_member=org.owner)
    assert not sending.finish_if_done(campaign)
    drain()
    sending.run_due()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED and campaign.finished_at
    with pytest.raises(Refused, match="clone"):
        sending.start(campaign, acting_member=org.owner)
    copy = sending.clone(campaign, acting_member=org.owner)
    assert copy.status == Campaign.Status.DRAFT and copy.cloned_from == campaign
    assert copy.name == "Copy of Black Friday"
    assert list(copy.tags.all()) == [tag] and list(copy.numbers.all()) == [org.number]
    # The copy is a new campaign: its people get its own intents.
    assert sending.start(copy, acting_member=org.owner) == {"queued": 1}


def test_someone_who_opts_out_mid_campaign_receives_nothing_more(org, provider):
    tag = tagged(org)
    ana, bia = person(org, "5511900000001"), person(org, "5511900000002", name="Bia Lima")
    for contact in (ana, bia):
        contact.tags.add(tag)
    campaign = campaign_for(org, tag)
    sending.start(campaign, acting_member=org.owner)
    followups.set_opted_out(bia, reason="SAIR")
    drain()
    assert [phone for phone, _ in provider.sent] == ["5511900000001"]
    shown = progress.progress(campaign)
    assert shown.sent == 1 and shown.skipped == {Skip.OPTED_OUT: 1}


def test_the_copies_of_checked_keys_always_equal_their_source(org, provider):
    """The database no longer checks the keys a row copies from one it references
    (accounts.models.COPIED): the code that writes them must copy them exactly, on the bulk
    path of a start as on the one-intent path."""
    tag = tagged(org)
    ana, bia = person(org, "5511900000001"), person(org, "5511900000002", name="Bia Lima")
    skipped = person(org, "5511900000003", agreed=False)
    for contact in (ana, bia, skipped):
        contact.tags.add(tag)
    sending.start(campaign_for(org, tag), acting_member=org.owner)
    engine.create_intent(
        org.org,
        contact=ana,
        body="Seu pedido saiu para entrega.",
        origin=MessageIntent.Origin.API,
        idempotency_key="copies:1",
    )
    drain()
    jobs_made = ExecutionJob.objects.filter(organization=org.org)
    assert jobs_made.count() == 3
    assert not jobs_made.exclude(organization_id=F("intent__organization_id")).exists()
    assert not jobs_made.exclude(contact_id=F("intent__contact_id")).exists()
    decisions = GateDecision.objects.filter(intent__organization=org.org)
    assert decisions.count() >= 3
    assert not decisions.exclude(organization_id=F("intent__organization_id")).exists()
    recipients = CampaignRecipient.objects.filter(campaign__organization=org.org)
    assert recipients.count() == 3
    assert not recipients.exclude(organization_id=F("campaign__organization_id")).exists()
    queued = recipients.filter(intent__isnull=False)
    assert queued.count() == 2
    assert not queued.exclude(number_id=F("intent__number_id")).exists()
    assert recipients.get(intent__isnull=True).number_id is None


def test_a_consent_withdrawn_after_the_start_is_refused_by_the_gate_before_sending(org, provider):
    tag = tagged(org)
    ana = person(org, "5511900000001")
    ana.tags.add(tag)
    campaign = campaign_for(org, tag)
    sending.start(campaign, acting_member=org.owner)
    consent.record_consent(ana, granted=False, channel=Consent.Channel.AGENT)
    drain()
    assert provider.sent == []
    assert progress.progress(campaign).skipped == {Skip.NO_CONSENT: 1}


def test_pause_holds_every_waiting_message_and_resume_sends_them_at_the_pace(org, provider):
    tag = tagged(org)
    for n in range(4):
        person(org, f"551190000000{n}").tags.add(tag)
    campaign = campaign_for(org, tag, pace_per_minute=2)
    sending.start(campaign, acting_member=org.owner)
    due = sorted(MessageIntent.objects.values_list("not_before", flat=True))
    assert [b - a for a, b in zip(due, due[1:], strict=False)] == [timedelta(seconds=30)] * 3
    sending.pause(campaign, acting_member=org.owner)
    assert not jobs.claim_batch("w1", 10)
    # A job a worker had claimed just before the pause is held by the Gate, not sent.
    job = ExecutionJob.objects.order_by("pk").first()
    ExecutionJob.objects.filter(pk=job.pk).update(run_after=timezone.now())
    drain()
    assert provider.sent == []
    assert GateDecision.objects.filter(reason_code="campaign_paused").exists()
    with pytest.raises(Refused):
        sending.pause(campaign, acting_member=org.owner)
    sending.resume(campaign, acting_member=org.owner)
    due = sorted(ExecutionJob.objects.values_list("run_after", flat=True))
    assert due[0] <= timezone.now() + timedelta(seconds=1)
    assert due[-1] - due[0] == timedelta(seconds=90)
    drain()
    assert len(provider.sent) == 1  # the first is due now; the rest at the pace


def test_cancel_stops_every_message_not_yet_sending_and_it_cannot_restart(org, provider):
    tag = tagged(org)
    for n in range(3):
        person(org, f"551190000000{n}").tags.add(tag)
    campaign = campaign_for(org, tag, pace_per_minute=1)
    sending.start(campaign, acting_member=org.owner)
    assert sending.cancel(campaign, acting_member=org.owner) == 3
    drain()
    assert provider.sent == []
    assert progress.progress(campaign).cancelled == 3
    with pytest.raises(Refused):
        sending.start(campaign, acting_member=org.owner)
    with pytest.raises(Refused):
        sending.cancel(campaign, acting_member=org.owner)


def test_the_pace_counts_only_within_the_campaigns_dayparts():
    tz = ZoneInfo("America/Sao_Paulo")
    hours = {"mon": [["09:00", "09:02"]], "tue": [["09:00", "18:00"]]}
    monday_8 = datetime(2026, 12, 7, 8, 0, tzinfo=tz)
    pacer = pacing.Pacer(monday_8, 1, hours, tz)
    slots = [pacer.next().astimezone(tz) for _ in range(4)]
    assert [s.strftime("%a %H:%M") for s in slots] == [
        "Mon 09:00",
        "Mon 09:01",
        "Tue 09:00",
        "Tue 09:01",
    ]
    unlimited = pacing.Pacer(monday_8.astimezone(UTC), 0, {}, tz)
    assert unlimited.next() == unlimited.next() == monday_8


def test_the_gate_holds_a_paused_campaign_and_refuses_a_cancelled_ones_messages():
    base = {"now": datetime(2026, 12, 7, 12, tzinfo=UTC), "time_zone": "UTC"}
    origin = MessageIntent.Origin.CAMPAIGN
    assert gate.decide(origin, gate_facts(**base)).verdict == gate.ALLOW
    paused = gate.decide(origin, gate_facts(**base, campaign_status="paused"))
    assert (paused.verdict, paused.reason_code) == (gate.DEFER, "campaign_paused")
    cancelled = gate.decide(origin, gate_facts(**base, campaign_status="cancelled"))
    assert (cancelled.verdict, cancelled.reason_code) == (gate.BLOCK, "campaign_cancelled")
    evening = gate_facts(
        **base, campaign_status="running", campaign_hours={"mon": [["08:00", "10:00"]]}
    )
    held = gate.decide(origin, evening)
    assert (held.verdict, held.reason_code) == (gate.DEFER, "outside_campaign_hours")
    assert held.defer_until == datetime(2026, 12, 14, 8, tzinfo=UTC)


def test_a_reply_within_the_window_counts_for_the_campaign_once(org, provider):
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    campaign = campaign_for(org, tag, reply_window_hours=2)
    sending.start(campaign, acting_member=org.owner)
    drain()
    org.customer_writes("5511900000001", "Quero!")
    org.customer_writes("5511900000001", "Quanto custa?")
    recipient = CampaignRecipient.objects.get(campaign=campaign)
    assert recipient.replied_at is not None
    first = recipient.replied_at
    shown = progress.progress(campaign)
    assert shown.replied == 1
    recipient.refresh_from_db()
    assert recipient.replied_at == first


def test_a_reply_after_the_window_does_not_count(org, provider):
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    campaign = campaign_for(org, tag, reply_window_hours=1)
    sending.start(campaign, acting_member=org.owner)
    drain()
    Message.objects.filter(job__intent__campaign=campaign).update(
        sent_at=timezone.now() - timedelta(hours=2)
    )
    org.customer_writes("5511900000001", "Oi")
    assert progress.progress(campaign).replied == 0


def test_a_campaign_refuses_what_is_not_its_organizations_and_bad_settings(org, other_org):
    tag = tagged(org)
    foreign = tagged(other_org)

    def draft(**fields):
        base = {"name": "X", "body": "Oi", "number_ids": (org.number.pk,), "tag_ids": (tag.pk,)}
        return sending.Draft(**{**base, **fields})

    bad = [
        draft(number_ids=(other_org.number.pk,)),
        draft(tag_ids=(foreign.pk,)),
        draft(name=" "),
        draft(body=""),
        draft(body="Oi", template={"name": "promo", "language": "pt_BR", "variables": []}),
        draft(body="Oi {{contact.idade anos}}"),
        draft(body="", template={"name": "promo", "language": "pt_BR", "variables": []}),
        draft(pace_per_minute=10_000),
        draft(reply_window_hours=0),
        draft(start_at=timezone.now() + timedelta(days=400)),
        draft(sending_hours={"mon": [["25:00", "26:00"]]}),
    ]
    for each in bad:
        with pytest.raises(Refused):
            sending.save_campaign(org.org, each, acting_member=org.owner)
    assert not Campaign.objects.exists()
    campaign = sending.save_campaign(org.org, draft(), acting_member=org.owner)
    sending.start(campaign, acting_member=org.owner)
    with pytest.raises(Refused):
        sending.save_campaign(org.org, draft(name="Y"), acting_member=org.owner, campaign=campaign)


def test_a_start_without_numbers_or_audience_says_what_is_missing(org):
    campaign = sending.save_campaign(
        org.org, sending.Draft(name="X", body="Oi"), acting_member=org.owner
    )
    with pytest.raises(Refused, match="number"):
        sending.start(campaign, acting_member=org.owner)
    campaign.numbers.add(org.number)
    with pytest.raises(Refused, match="segment, a tag"):
        sending.start(campaign, acting_member=org.owner)


def test_a_template_campaign_fills_its_values_and_skips_blank_ones(org):
    cloud = cloud_number(org, provider_name="123", app_secret="s" * 16)
    tag = tagged(org)
    ana = person(org, "5511900000001", wrote=False, custom_fields={"cidade": "Recife"})
    bia = person(org, "5511900000002", name="Bia", wrote=False)
    for contact in (ana, bia):
        contact.tags.add(tag)
    template = {
        "name": "promo_natal",
        "language": "pt_BR",
        "variables": ["{{contact.first_name}}", "{{contact.cidade}}"],
    }
    draft = sending.Draft(
        name="Natal", template=template, number_ids=(cloud.pk,), tag_ids=(tag.pk,)
    )
    campaign = sending.save_campaign(org.org, draft, acting_member=org.owner)
    assert sending.start(campaign, acting_member=org.owner) == {
        "queued": 1,
        Skip.BLANK_VARIABLE: 1,
    }
    intent = MessageIntent.objects.get(campaign=campaign)
    assert intent.template["variables"] == ["Ana", "Recife"]
    assert intent.number == cloud


def test_numbers_share_the_audience_and_a_refused_numbers_share_waits_on_it(org, provider):
    second = make_org().number
    second.organization = org.org
    Number.objects.filter(pk=second.pk).update(organization=org.org)
    tag = tagged(org)
    for n in range(4):
        contact = person(org, f"551190000000{n}", wrote=False)
        contact.tags.add(tag)
        # Free text goes from the number the person wrote to.
        Conversation.objects.create(
            organization=org.org,
            number=second if n % 2 else org.number,
            contact=contact,
            last_inbound_at=timezone.now() - timedelta(hours=1),
        )
    Number.objects.filter(pk=second.pk).update(cooldown_until=timezone.now() + timedelta(hours=1))
    draft = sending.Draft(
        name="Dois", body="Oi", number_ids=(org.number.pk, second.pk), tag_ids=(tag.pk,)
    )
    campaign = sending.save_campaign(org.org, draft, acting_member=org.owner)
    sending.start(campaign, acting_member=org.owner)
    by_number = dict(
        MessageIntent.objects.filter(campaign=campaign)
        .values_list("number_id")
        .annotate(n=Count("pk"))
    )
    assert set(by_number.values()) == {2}
    first_share = ExecutionJob.objects.filter(number=org.number, status=J.PENDING)
    while first_share.exists():
        first_share.update(run_after=timezone.now())  # a number's sends are spaced out
        drain()
    assert len(provider.sent) == 2
    shares = {share.number.pk: share for share in progress.number_shares(campaign)}
    assert shares[second.pk].waiting == 2 and "cools down" in shares[second.pk].hold
    assert shares[org.number.pk].waiting == 0 and shares[org.number.pk].hold == ""


def test_a_banned_numbers_share_says_so_and_waits_on_it(org, provider):
    tag = tagged(org)
    person(org, "5511900000001").tags.add(tag)
    campaign = campaign_for(org, tag)
    sending.start(campaign, acting_member=org.owner)
    Number.objects.filter(pk=org.number.pk).update(
        status=Number.Status.DISCONNECTED, connection_reason="banned"
    )
    drain()
    assert provider.sent == []
    [share] = progress.number_shares(campaign)
    assert share.waiting == 1
    assert share.hold == "Banned by WhatsApp: its messages wait for this number."


def test_an_imported_list_is_an_audience_of_the_people_its_rows_named(org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    imp = upload(org, HEADER + "11 98888-7777;Ana;;;sim;\n11 97777-6666;Bia;;;;\n")
    run(imp)
    person(org, "5511900000009", name="Outra")  # consented, not in the list
    draft = sending.Draft(
        name="Lista",
        body="Oi {{contact.first_name}}",
        number_ids=(org.number.pk,),
        import_ids=(imp.pk,),
        pace_per_minute=0,
    )
    campaign = sending.save_campaign(org.org, draft, acting_member=org.owner)
    counts = sending.start(campaign, acting_member=org.owner)
    # Ana agreed in the file but never wrote (free text needs the 24-hour window); Bia did not.
    assert counts == {Skip.OUTSIDE_WINDOW: 1, Skip.NO_CONSENT: 1}
    assert set(
        CampaignRecipient.objects.filter(campaign=campaign).values_list("contact__name", flat=True)
    ) == {"Ana", "Bia"}


def test_custom_fields_are_read_only_when_a_variable_names_one():
    from types import SimpleNamespace

    from conversa.campaigns import messages

    def campaign(body="", template=None):
        return SimpleNamespace(body=body, template=template)

    assert not messages.uses_custom_fields(
        campaign("Olá {{contact.first_name}}, da {{organization.name}}")
    )
    assert messages.uses_custom_fields(campaign("Olá {{contact.first_name}} de {{contact.cidade}}"))
    assert messages.uses_custom_fields(
        campaign(template={"name": "t", "variables": ["{{contact.cidade}}"]})
    )
