"""`conversa bench campaign`: a campaign to N people, from its start to its last message, on the
configured database.

1. Setup (not timed): a throwaway organization with an unlimited sandbox number and N contacts
   tagged "Newsletter", inserted in bulk chunk by chunk: 80% with a marketing consent recorded
   (and its evidence), one in 50 opted out, one in 100 blocked, and a conversation each in which
   they wrote an hour ago, but one in 20 who last wrote three days ago (outside the 24-hour
   window of free text). So every skip reason the audience can have is exercised.
2. Intents (timed): `sending.start` on a free-text campaign to the tag at pace 0, as the page's
   Start button runs it: the audience read, each person a recipient and an intent or a skip.
3. Sending (timed): W `conversa worker` processes with the sandbox in-process (it accepts at
   once), run as `bench dispatch` runs them (as many provider calls at once as a batch), until
   none of the campaign's jobs is left open. Meanwhile this process opts a few
   hundred of the queued people out through `crm.followups.set_opted_out`, as the contact page
   does, and notes when each opt-out was stored.
4. Then `bench dispatch` with as many jobs (up to 20,000) and the same workers, for the
   engine's pace without a campaign around it.
Figures: intents_seconds, sent_per_second (and dispatch's), duplicates (people who received the
campaign more than once), sent_to_ineligible (messages that reached someone without consent,
blocked or opted out before the run, or that the Gate let go to someone after their opt-out was
stored): both must be 0. Everything is deleted afterwards.
"""

import contextlib
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from bench import dispatch
from bench.cluster import CONVERSA, database_url, ledger_duplicates
from bench.inbox_words import FIRST_NAMES, LAST_NAMES
from conversa.accounts.models import Member, OperationalEvent
from conversa.campaigns import progress, sending
from conversa.campaigns.models import Campaign, CampaignRecipient, Consent
from conversa.crm import followups
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox.models import Contact, Conversation, Message, Tag
from conversa.sandbox.models import SandboxMessage

S = ExecutionJob.Status
SEED_CHUNK = 5000
CHANNEL = Consent.Channel.WEB_FORM
SEEDED = (
    "inbox_contact",
    "inbox_conversation",
    "inbox_contact_tags",
    "campaigns_consent",
)
BODY = "Olá {{contact.first_name}}, a coleção de inverno chegou: 20% para você até domingo."


def kind(i: int) -> dict:
    """Contact i's facts: 80% consented, 2% opted out, 1% blocked, 5% outside the window."""
    return {
        "consented": i % 10 not in (3, 7),
        "opted_out": i % 50 == 2,
        "blocked": i % 100 == 1,
        "recent": i % 20 != 9,
    }


def seed(org, number, tag: Tag, count: int) -> None:
    """`count` contacts with their consents, conversations and the tag, in bulk by chunks (a
    few statements per chunk, so memory stays flat whatever the count)."""
    now = timezone.now()
    for begin in range(0, count, SEED_CHUNK):
        span = range(begin, min(begin + SEED_CHUNK, count))
        facts = [kind(i) for i in span]
        people = Contact.objects.bulk_create(
            Contact(
                organization=org,
                phone=f"55{11 + i % 80}9{i:08d}",
                name=f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i * 7 % len(LAST_NAMES)]}",
                marketing_consent=f["consented"],
                opted_out=f["opted_out"],
                blocked=f["blocked"],
            )
            for i, f in zip(span, facts, strict=True)
        )
        Consent.objects.bulk_create(
            Consent(
                organization=org,
                contact=contact,
                granted=True,
                channel=CHANNEL,
                evidence="Newsletter sign-up form, checkbox ticked",
                recorded_at=now - timedelta(days=30),
            )
            for contact, f in zip(people, facts, strict=True)
            if f["consented"]
        )
        Conversation.objects.bulk_create(
            Conversation(
                organization=org,
                number=number,
                contact=contact,
                status=Conversation.Status.RESOLVED,
                last_inbound_at=now - (timedelta(hours=1) if f["recent"] else timedelta(days=3)),
                last_message_at=now - (timedelta(hours=1) if f["recent"] else timedelta(days=3)),
            )
            for contact, f in zip(people, facts, strict=True)
        )
        Contact.tags.through.objects.bulk_create(
            Contact.tags.through(contact_id=contact.pk, tag_id=tag.pk) for contact in people
        )
    if connection.vendor == "postgresql":
        # The seed settles before the start is timed, as a real audience has long since: its
        # rows vacuumed (the start would otherwise be the first to read, and so write, their
        # hint bits) and its pages written out (else the checkpoint that follows a bulk load
        # writes them during the start). CHECKPOINT needs a superuser or pg_checkpoint.
        with connection.cursor() as cursor:
            for table in SEEDED:
                cursor.execute(f"VACUUM ANALYZE {table}")  # our own table names
            with contextlib.suppress(DatabaseError), transaction.atomic():
                cursor.execute("CHECKPOINT")


def reset_peak_rss() -> None:
    """Start this process's peak memory (VmHWM) afresh, so it measures what follows only."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def workers_until_done(campaign: Campaign, workers: int, batch_size: int, during) -> tuple:
    """Run `workers` worker processes (the sandbox in-process) until none of the campaign's
    jobs is open, calling `during()` once they are started. Returns the seconds it took, the
    workers' peak memory in MB and what `during` returned."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SANDBOX_IN_PROCESS": "1",
        "WORKER_POLL_SECONDS": "0.05",
    }
    open_jobs = ExecutionJob.objects.filter(intent__campaign=campaign, status__in=sending.OPEN_JOBS)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                *CONVERSA,
                "worker",
                "--batch-size",
                str(batch_size),
                "--concurrency",
                str(batch_size),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    peak = 0.0
    try:
        result = during()
        while open_jobs.exists():
            peak = max(peak, *(dispatch.peak_rss_mb(p.pid) for p in processes))
            if time.perf_counter() - started > 3600:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        peak = max(peak, *(dispatch.peak_rss_mb(p.pid) for p in processes))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    return elapsed, peak, result


def opt_out(contacts: list[Contact], owner: Member) -> dict[int, object]:
    """Opt each contact out as the contact page does; contact id → when it was stored (the
    audit entry written right after the flag, in its own autocommit)."""
    stored = {}
    for contact in contacts:
        followups.set_opted_out(contact, acting_member=owner, reason="bench")
        stored[contact.pk] = (
            OperationalEvent.objects.filter(
                organization_id=contact.organization_id,
                verb="contact.opted_out",
                object_id=contact.pk,
            )
            .values_list("created_at", flat=True)
            .get()
        )
    return stored


def ineligible_sends(campaign: Campaign, twin, stored: dict) -> tuple[int, int]:
    """Messages of the campaign that reached someone who may not receive it: without consent,
    blocked or opted out before the start (any message), or opted out mid-run with the Gate's
    go-ahead to send given after their opt-out was stored. Also how many left after the opt-out
    had been given the go-ahead before it (in flight: the design lets a send under way go)."""
    phones = set(
        Contact.objects.filter(organization=campaign.organization)
        .exclude(pk__in=list(stored))
        .filter(Q(marketing_consent=False) | Q(opted_out=True) | Q(blocked=True))
        .values_list("phone", flat=True)
    )
    received = SandboxMessage.objects.filter(instance=twin, from_me=True)
    before = received.filter(chat_phone__in=phones).count() if phones else 0
    late = in_flight = 0
    allowed = GateDecision.objects.filter(
        intent__campaign=campaign,
        intent__contact_id__in=list(stored),
        intent__job__status=S.SENT,
        verdict=GateDecision.Verdict.ALLOW,
    ).values_list("intent__contact_id", "created_at")
    last_allow: dict[int, object] = {}
    for contact_id, at in allowed:
        last_allow[contact_id] = max(at, last_allow.get(contact_id, at))
    for contact_id, at in last_allow.items():
        if at >= stored[contact_id]:
            late += 1
        else:
            in_flight += 1
    return before + late, in_flight


def cleanup(org) -> None:
    """The run's rows, deleted in bulk (the ORM's cascade would load them all)."""
    models = [
        OperationalEvent,
        GateDecision,
        CampaignRecipient,
        ExecutionJob,
        Message,
        MessageIntent,
        Consent,
        Conversation,
        Contact,
    ]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The audit timeline refuses deletes but for an organization going whole, which
            # this one does next (Organization.delete): its events go in bulk here.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('conversa.erasing_organization', %s, true)", [str(org.pk)]
                )
        Contact.tags.through.objects.filter(tag__organization=org)._raw_delete(connection.alias)
        for model in models:
            model.objects.filter(organization=org)._raw_delete(connection.alias)
        for campaign in Campaign.objects.filter(organization=org):
            campaign.numbers.clear()
            campaign.tags.clear()
        Campaign.objects.filter(organization=org)._raw_delete(connection.alias)


def run(
    recipients: int = 100_000,
    workers: int = 2,
    batch_size: int = 200,
    opt_outs: int = 300,
    compare: bool = True,
    profile: bool = False,
) -> dict:
    with dispatch.scratch_number() as (number, twin):
        org = number.organization
        user = get_user_model().objects.create_user(username=f"bench-{org.slug}@bench.local")
        owner = Member.objects.create(organization=org, user=user, role=Member.Role.OWNER)
        try:
            figures = measure(
                org, number, twin, owner, recipients, workers, batch_size, opt_outs, profile
            )
        finally:
            cleanup(org)
            owner.delete()
            user.delete()
    if compare and figures["sent"]:
        # As many jobs, up to dispatch's usual 20,000: its rate is flat by then.
        jobs = min(figures["sent"], 20_000)
        other = dispatch.run(jobs=jobs, workers=workers, batch_size=batch_size)
        figures["dispatch_sent_per_second"] = other["messages_per_second"]
        figures["ratio_to_dispatch"] = round(
            figures["sent_per_second"] / other["messages_per_second"], 2
        )
    else:
        figures["dispatch_sent_per_second"] = figures["ratio_to_dispatch"] = None
    return figures


def measure(org, number, twin, owner, recipients, workers, batch_size, opt_outs, profile) -> dict:
    tag = Tag.objects.create(organization=org, name="Newsletter")
    began = time.perf_counter()
    seed(org, number, tag, recipients)
    seed_seconds = time.perf_counter() - began
    campaign = sending.save_campaign(
        org,
        sending.Draft(
            name="Coleção de inverno",
            body=BODY,
            number_ids=(number.pk,),
            tag_ids=(tag.pk,),
            pace_per_minute=0,
        ),
        acting_member=owner,
    )
    reset_peak_rss()
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    added = sending.start(campaign, acting_member=owner)
    if profiler:
        profiler.disable()
    intents_seconds = time.perf_counter() - began
    start_rss = dispatch.peak_rss_mb(os.getpid())
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue(), file=sys.stderr)

    print(f"start: {intents_seconds:.2f} s for {recipients} people, {added}", file=sys.stderr)
    # Spread over the queue, in the order the workers send it: some already sent when their
    # opt-out lands, some about to be, most still waiting.
    queued = list(
        CampaignRecipient.objects.filter(campaign=campaign, intent__isnull=False)
        .order_by("intent_id")
        .values_list("contact_id", flat=True)
    )
    step = max(1, len(queued) // max(1, opt_outs))
    chosen = list(Contact.objects.filter(pk__in=queued[::step][:opt_outs]).order_by("pk"))
    seconds, worker_peak, stored = workers_until_done(
        campaign, workers, batch_size, lambda: opt_out(chosen, owner)
    )
    campaign.refresh_from_db()
    # The workers' campaign pass may not have come round since the last send.
    sending.finish_if_done(campaign)
    shown = progress.progress(campaign)
    sent = ExecutionJob.objects.filter(intent__campaign=campaign, status=S.SENT).count()
    duplicates = (
        SandboxMessage.objects.filter(instance=twin, from_me=True)
        .values("chat_phone")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    ineligible, in_flight = ineligible_sends(campaign, twin, stored)
    return {
        "benchmark": "campaign",
        "database": connection.vendor,
        "recipients": shown.recipients,
        "seed_seconds": round(seed_seconds, 1),
        "intents_seconds": round(intents_seconds, 2),
        "queued_at_start": added.get("queued", 0),
        "skipped": shown.skipped,
        "workers": workers,
        "sent": sent,
        "sending_seconds": round(seconds, 2),
        "sent_per_second": round(sent / seconds, 1),
        "status": campaign.status,
        "opted_out_mid_run": len(stored),
        "in_flight_at_opt_out": in_flight,
        "duplicates": duplicates,
        "ledger_duplicates": ledger_duplicates(twin),
        "sent_to_ineligible": ineligible,
        "peak_rss_mb": round(start_rss, 1),
        "worker_peak_rss_mb": round(worker_peak, 1),
        "note": "peak_rss_mb: this process during sending.start; skipped includes mid-run"
        " opt-outs the Gate refused",
    }
