"""The compliance invariant, proven over random histories (issue 18 item 8; DESIGN.md
invariants 6, 7 and 11).

A state machine runs real service calls in any order: people added with or without consent,
blocked, tagged; lists imported with consent columns; campaigns started over tags, segments
and imports, paused, resumed, cancelled, cloned; customers writing SAIR and VOLTAR mid-campaign;
consent withdrawn; CRM follow-ups and other AUTOMATION messages; worker passes, and workers
killed after their claim, before their send or after it. It keeps its own account of each
person (consent, opted out, blocked, from which step), written from what it asked for and never
read back from the database, and the sandbox in-process records every send at the moment it
leaves. After every step:
- every CAMPAIGN send went to someone who, at that moment, had a current consent and was
  neither opted out nor blocked; no AUTOMATION send went to someone opted out or blocked;
- nobody received one campaign twice, and each (campaign, contact) has at most one intent;
- every send left once (the ledger per job reference) and through the one send path;
- every campaign intent has the Gate's decisions, and every sent one an ALLOW before it left;
- the database says of each person what the machine's account says.
"""

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conversa.campaigns import consent, contacts, imports, sending
from conversa.campaigns.models import Campaign, Consent, Segment
from conversa.crm import automations, services
from conversa.engine import jobs, worker
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.worker import Worker
from conversa.errors import Refused
from conversa.inbox import services as inbox
from conversa.inbox.models import Contact, Tag
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from conversa.sandbox.provider import InProcessSandbox
from tests.conftest import examples, make_org

Origin = MessageIntent.Origin
J = ExecutionJob.Status
PHONES = [f"55119876500{n:02d}" for n in range(1, 7)]
TAGS = ["clientes", "vip"]
# Who a segment holds: everyone, those without consent, those opted out, those who wrote today.
SEGMENTS = [{}, {"consent": "no"}, {"opted_out": "yes"}, {"wrote_within": 1}]
runs = itertools.count(1)

phones = st.sampled_from(PHONES)
some_phones = st.lists(phones, min_size=1, max_size=4, unique=True)


@dataclass
class Person:
    """The machine's own account of one person, from what it asked the services to do."""

    consent: bool = False
    opted_out: bool = False
    blocked: bool = False
    # The step at which the latest opt-out, withdrawal or block was stored.
    stopped_at: int | None = None
    history: list[str] = field(default_factory=list)


@dataclass
class Sent:
    step: int
    reference: str
    phone: str
    origin: str
    campaign_id: int | None
    contact_id: int


class Recorder:
    """The sandbox in-process, with a note of each send at the moment it leaves: the machine
    judges it then, against its own account (an assertion here would be swallowed by the
    worker's pass, so what is wrong is kept for the invariants)."""

    inline = True
    supports_lookup = True

    def __init__(self):
        self.inner = InProcessSandbox()
        self.machine = None

    def send_text(self, number, phone, body, reference):
        job = ExecutionJob.objects.select_related("intent", "contact").get(
            pk=int(reference.removeprefix("job:"))
        )
        self.machine.leaving(job, reference)
        return self.inner.send_text(number, phone, body, reference)

    def lookup_reference(self, number, reference):
        return self.inner.lookup_reference(number, reference)


RECORDER = Recorder()


class Compliance(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each history is undone afterwards: the next starts from an empty organization, with
        # no job of this one left for its workers.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.o = make_org()
        RECORDER.machine = self
        self.step = 0
        self.people: dict[str, Person] = {}
        self.sent: list[Sent] = []
        self.wrong: list[str] = []
        self.campaigns: list[Campaign] = []
        self.import_ids: list[int] = []
        self.tags = {name: Tag.objects.create(organization=self.o.org, name=name) for name in TAGS}
        self.segments = [
            Segment.objects.create(organization=self.o.org, name=f"S{n}", filters=filters)
            for n, filters in enumerate(SEGMENTS)
        ]
        self.run = next(runs)
        self.keys = itertools.count(1)
        pipeline = services.create_pipeline(
            self.o.org,
            "Vendas",
            acting_member=self.o.owner,
            stages=[{"name": "Novo"}, {"name": "Proposta"}],
        )
        self.proposal = pipeline.stages.get(name="Proposta")
        automations.save_automation(
            self.o.org,
            acting_member=self.o.owner,
            name="Proposta follow-up",
            stage=self.proposal,
            steps=[
                {"delay": 0, "template": "Olá {{contact.first_name}}"},
                {"delay": 2, "delay_unit": "days", "template": "Ainda interessado?"},
            ],
        )

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)
        RECORDER.machine = None

    # Bookkeeping ------------------------------------------------------------------------

    def note(self, phone: str, what: str) -> Person:
        self.step += 1
        person = self.people.setdefault(phone, Person())
        person.history.append(f"{self.step}: {what}")
        return person

    def stopped(self, person: Person) -> None:
        person.stopped_at = self.step

    def contact(self, phone: str) -> Contact:
        return Contact.objects.get(organization=self.o.org, phone=phone)

    def known(self, phone: str) -> bool:
        return phone in self.people

    def leaving(self, job: ExecutionJob, reference: str) -> None:
        """A send at the moment it leaves, judged against the account of its person now."""
        intent, phone = job.intent, job.contact.phone
        self.sent.append(
            Sent(self.step, reference, phone, intent.origin, intent.campaign_id, job.contact_id)
        )
        person = self.people.get(phone, Person())
        story = f"{phone} at step {self.step} ({'; '.join(person.history)})"
        if intent.origin == Origin.CAMPAIGN and not (
            person.consent and not person.opted_out and not person.blocked
        ):
            self.wrong.append(f"campaign {intent.campaign_id} sent to {story}")
        if intent.origin == Origin.AUTOMATION and (person.opted_out or person.blocked):
            self.wrong.append(f"automation sent after the stop at {person.stopped_at}: {story}")

    # People -----------------------------------------------------------------------------

    @initialize(
        people=st.lists(
            st.tuples(
                st.sampled_from([True, True, True, False, None]),
                st.sets(st.sampled_from(TAGS), min_size=1),
            ),
            min_size=2,
            max_size=len(PHONES),
        )
    )
    def an_audience(self, people):
        """Customers who wrote today, agreed (most of them) and are tagged: who campaigns reach
        before anything happens to them."""
        for phone, (agreed, tags) in zip(PHONES, people, strict=False):
            self.add_person(phone, agreed, tags, wrote=True)

    @rule(
        phone=phones,
        agreed=st.sampled_from([True, True, False, None]),
        tags=st.sets(st.sampled_from(TAGS)),
        wrote=st.sampled_from([True, True, False]),
    )
    def add_person(self, phone, agreed, tags, wrote):
        person = self.note(phone, f"added, consent {agreed}, tags {sorted(tags)}")
        contact = inbox.upsert_contact(self.o.org, phone, "Ana Souza")
        contact.tags.add(*[self.tags[name] for name in tags])
        if agreed is not None:
            consent.record_consent(contact, granted=agreed, channel=Consent.Channel.AGENT)
            person.consent = agreed
            if not agreed:
                self.stopped(person)
        if wrote:
            # Free text reaches only people within the 24-hour window.
            self.o.customer_writes(phone, "Oi", name="Ana Souza")

    @rule(
        rows=st.lists(
            st.tuples(phones, st.sampled_from(["sim", "não", ""]), st.sampled_from(["", *TAGS])),
            min_size=1,
            max_size=4,
            unique_by=lambda row: row[0],
        )
    )
    def import_a_list(self, rows):
        # Each file is its own (its rows' consent keys are the file's): a serial column.
        text = "telefone;nome;etiquetas;consentimento;lote\n" + "".join(
            f"{phone};Bia Lima;{tag};{answer};{self.run}-{self.step}\n"
            for phone, answer, tag in rows
        )
        upload = imports.upload(
            self.o.org, file_name="lista.csv", data=text.encode(), acting_member=self.o.owner
        )
        imports.set_mapping(
            upload,
            {0: "phone", 1: "name", 2: "tags", 3: "consent", 4: "custom"},
            acting_member=self.o.owner,
        )
        imports.start(upload, acting_member=self.o.owner)
        while imports.run_due("import-worker"):
            pass
        self.import_ids.append(upload.pk)
        for phone, answer, _tag in rows:
            person = self.note(phone, f"imported, consent {answer!r}")
            if answer:
                person.consent = answer == "sim"
                if not person.consent:
                    self.stopped(person)

    @precondition(lambda self: self.people)
    @rule(data=st.data(), granted=st.booleans())
    def record_consent(self, data, granted):
        phone = data.draw(st.sampled_from(sorted(self.people)))
        person = self.note(phone, f"consent {'granted' if granted else 'withdrawn'}")
        consent.record_consent(self.contact(phone), granted=granted, channel=Consent.Channel.AGENT)
        person.consent = granted
        if not granted:
            self.stopped(person)

    @rule(phone=phones, word=st.sampled_from(["SAIR", "sair", "Parar!", "STOP"]))
    def customer_opts_out(self, phone, word):
        person = self.note(phone, f"wrote {word}")
        self.o.customer_writes(phone, word)
        person.opted_out, person.consent = True, False
        self.stopped(person)

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def customer_opts_back_in(self, data):
        phone = data.draw(st.sampled_from(sorted(self.people)))
        person = self.note(phone, "wrote VOLTAR")
        self.o.customer_writes(phone, "VOLTAR")
        # Back in for automated messages; marketing needs a consent of its own.
        person.opted_out = False

    @precondition(lambda self: self.people)
    @rule(data=st.data(), blocked=st.booleans())
    def block(self, data, blocked):
        phone = data.draw(st.sampled_from(sorted(self.people)))
        person = self.note(phone, "blocked" if blocked else "unblocked")
        contacts.set_blocked(
            self.contact(phone), blocked, reason="teste", acting_member=self.o.owner
        )
        person.blocked = blocked
        if blocked:
            self.stopped(person)

    # Campaigns --------------------------------------------------------------------------

    @rule(
        tags=st.sets(st.sampled_from(TAGS), min_size=1),
        segments=st.sets(st.integers(0, len(SEGMENTS) - 1)),
        with_imports=st.booleans(),
        pace=st.sampled_from([0, 0, 0, 30]),
    )
    def start_campaign(self, tags, segments, with_imports, pace):
        self.step += 1
        draft = sending.Draft(
            name=f"Campanha {self.step}",
            body="Olá {{contact.first_name}}, temos ofertas!",
            number_ids=(self.o.number.pk,),
            tag_ids=tuple(self.tags[name].pk for name in sorted(tags)),
            segment_ids=tuple(self.segments[n].pk for n in sorted(segments)),
            import_ids=tuple(self.import_ids[-2:]) if with_imports else (),
            pace_per_minute=pace,
        )
        campaign = sending.save_campaign(self.o.org, draft, acting_member=self.o.owner)
        try:
            sending.start(campaign, acting_member=self.o.owner)
        except Refused:
            return  # no audience: it stays a draft
        self.campaigns.append(campaign)
        with pytest.raises(Refused):
            sending.start(campaign, acting_member=self.o.owner)

    @precondition(lambda self: self.campaigns)
    @rule(data=st.data(), action=st.sampled_from(["pause", "resume", "cancel", "clone", "add"]))
    def change_campaign(self, data, action):
        self.step += 1
        campaign = data.draw(st.sampled_from(self.campaigns))
        campaign.refresh_from_db()
        try:
            if action == "clone":
                copy = sending.clone(campaign, acting_member=self.o.owner)
                sending.start(copy, acting_member=self.o.owner)
                self.campaigns.append(copy)
            elif action == "add":
                # A pass run again, as two workers' passes would: it adds nobody twice.
                sending.add_recipients(campaign)
            else:
                getattr(sending, action)(campaign, acting_member=self.o.owner)
        except Refused:
            pass

    @rule()
    def campaign_pass(self):
        self.step += 1
        sending.run_due()

    @rule()
    def everything_due_now(self):
        """Paced messages and later follow-up steps made due at once (a paused campaign's are
        too: the Gate must hold them)."""
        self.step += 1
        ExecutionJob.objects.filter(
            organization=self.o.org, status__in=[J.PENDING, J.RETRY_WAIT]
        ).update(run_after=timezone.now())

    # Automation -------------------------------------------------------------------------

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def lead_enters_the_stage(self, data):
        phone = data.draw(st.sampled_from(sorted(self.people)))
        self.note(phone, "a lead entered Proposta")
        services.create_lead(
            self.contact(phone), self.proposal, "Plano anual", acting_member=self.o.owner
        )

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def automation_message(self, data):
        phone = data.draw(st.sampled_from(sorted(self.people)))
        self.note(phone, "an automation message asked for")
        engine.create_intent(
            self.o.org,
            contact=self.contact(phone),
            body="Seu pedido chegou",
            origin=Origin.AUTOMATION,
            idempotency_key=f"auto:{self.run}:{next(self.keys)}",
            number=self.o.number,
        )

    # Workers ----------------------------------------------------------------------------

    @rule(batch=st.integers(1, 20))
    def worker_pass(self, batch):
        self.step += 1
        Worker(batch_size=batch, worker_id="worker").run_once()

    @rule()
    def workers_drain(self):
        """Workers claim and send until nothing runnable is left."""
        self.step += 1
        while claimed := jobs.claim_batch("drain", 50):
            engine.execute_jobs(claimed, "drain")

    @rule(
        batch=st.integers(1, 5), how=st.sampled_from(["after claim", "before send", "after send"])
    )
    def worker_killed(self, batch, how):
        """A worker dies with its claim in hand: after claiming, after its Gate moved the jobs
        to SENDING, or after the provider took them but before it recorded the answer."""
        self.step += 1
        claimed = jobs.claim_batch("doomed", batch)
        if how == "after claim" or not claimed:
            return
        loaded = list(
            ExecutionJob.objects.select_related("intent", "number", "contact", "message")
            .filter(pk__in=claimed)
            .order_by("id")
        )
        with transaction.atomic():
            sending_now = engine.decide_before_send(loaded, timezone.now())
        with transaction.atomic():
            engine.add_messages(sending_now)
        if how == "after send":
            for job in sending_now:
                engine.send(job)

    @rule()
    def leases_expire(self):
        """Time passes beyond the dead worker's leases: the reaper and the reconciliation."""
        self.step += 1
        later = timezone.now() + timedelta(
            seconds=django_settings.WORKER_LEASE_SECONDS + django_settings.ECHO_GRACE_SECONDS + 1
        )
        jobs.reap(now=later)
        engine.reconcile_uncertain(now=later)

    # Invariants -------------------------------------------------------------------------

    @invariant()
    def nothing_left_to_the_wrong_person(self):
        assert not self.wrong, "\n".join(self.wrong)

    @invariant()
    def nobody_receives_a_campaign_twice(self):
        seen = {}
        for sent in self.sent:
            if sent.campaign_id is not None:
                key = (sent.campaign_id, sent.contact_id)
                assert key not in seen, f"campaign {key[0]} sent twice to {sent.phone}"
                seen[key] = sent
        doubled = (
            MessageIntent.objects.filter(organization=self.o.org, origin=Origin.CAMPAIGN)
            .values("campaign", "contact")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        assert not doubled.exists(), list(doubled)

    @invariant()
    def every_send_left_once_through_the_one_path(self):
        twin = SandboxInstance.objects.get(pk=self.o.twin.pk)
        ledger = list(
            SandboxMessage.objects.filter(instance=twin, from_me=True).values_list(
                "reference", flat=True
            )
        )
        assert len(ledger) == len(set(ledger)), "a job left twice"
        assert sorted(ledger) == sorted(s.reference for s in self.sent)

    @invariant()
    def the_gate_decided_every_campaign_intent(self):
        intents = MessageIntent.objects.filter(organization=self.o.org, origin=Origin.CAMPAIGN)
        assert not intents.filter(decisions__isnull=True).exists()
        for sent in self.sent:
            if sent.origin in (Origin.CAMPAIGN, Origin.AUTOMATION):
                job = ExecutionJob.objects.get(pk=int(sent.reference.removeprefix("job:")))
                assert GateDecision.objects.filter(
                    intent_id=job.intent_id, verdict=GateDecision.Verdict.ALLOW
                ).exists()

    @invariant()
    def the_database_agrees_with_the_account(self):
        found = {
            c.phone: c
            for c in Contact.objects.filter(organization=self.o.org, phone__in=list(self.people))
        }
        for phone, person in self.people.items():
            contact = found[phone]
            stored = (contact.marketing_consent, contact.opted_out, contact.blocked)
            assert stored == (person.consent, person.opted_out, person.blocked), (
                phone,
                stored,
                person.history,
            )


def test_no_message_reaches_anyone_it_must_not_whatever_happens(db, monkeypatch, settings_fs):
    monkeypatch.setattr(engine, "get_provider", lambda number: RECORDER)
    # A worker's pass first drops connections left over from an earlier pass; here it would
    # drop the test's own, inside the transaction each history is undone in.
    monkeypatch.setattr(worker, "close_old_connections", lambda: None)
    run_state_machine_as_test(
        Compliance,
        settings=settings(
            max_examples=examples(20, in_full_on="sqlite"),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.fixture
def settings_fs(settings, tmp_path):
    """Imported files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
