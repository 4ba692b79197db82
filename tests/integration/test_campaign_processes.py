"""A campaign started by two processes at once while workers run their campaign passes and
send: one intent per recipient, and each message leaves once (the simulator's ledger is the
proof). Invariant 11 under real concurrency, on PostgreSQL (issue 18 item 8)."""

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from bench.cluster import Cluster, database_url, ledger_duplicates, wait_until
from conversa.campaigns import consent, sending
from conversa.campaigns.models import CampaignRecipient, Consent
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox.models import Contact, Conversation, Tag
from conversa.numbers.models import Number
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.conftest import make_org
from tests.integration.together import release, spawn

S = ExecutionJob.Status
SCRIPT = Path(__file__).with_name("campaign_at.py")
PEOPLE = 40

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)


@pytest.fixture
def org(transactional_db):
    org = make_org()
    SandboxInstance.objects.filter(pk=org.twin.pk).update(webhook_url="")
    Number.objects.filter(pk=org.number.pk).update(hourly_quota=0, daily_quota=0)
    return org


@pytest.fixture
def cluster(org):
    # Workers run their campaign pass (the audience's newcomers) as often as they can.
    running = Cluster(CAMPAIGN_PASS_SECONDS="0.1")
    yield running
    running.stop()


def audience(org, tag: Tag) -> None:
    """PEOPLE customers who agreed and wrote within the hour, tagged; a third of them no
    longer agree (they must be skipped, not sent to)."""
    for n in range(PEOPLE):
        contact = Contact.objects.create(
            organization=org.org, phone=f"5511977{n:06d}", name=f"Cliente {n}"
        )
        contact.tags.add(tag)
        consent.record_consent(contact, granted=n % 3 != 0, channel=Consent.Channel.AGENT)
        Conversation.objects.create(
            organization=org.org,
            number=org.number,
            contact=contact,
            last_inbound_at=timezone.now() - timedelta(hours=1),
        )


def racer(*args) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": ""}
    return spawn([str(SCRIPT), *map(str, args)], env)


def test_two_starts_and_the_workers_passes_at_once_make_one_intent_each_sent_once(org, cluster):
    tag = Tag.objects.create(organization=org.org, name="clientes")
    audience(org, tag)
    draft = sending.Draft(
        name="Black Friday",
        body="Olá {{contact.first_name}}, temos ofertas!",
        number_ids=(org.number.pk,),
        tag_ids=(tag.pk,),
        pace_per_minute=0,
    )
    campaign = sending.save_campaign(org.org, draft, acting_member=org.owner)
    for _ in range(2):
        cluster.worker(batch_size=10)
    processes = [
        racer("start", campaign.pk, org.owner.pk),
        racer("pass"),
        racer("start", campaign.pk, org.owner.pk),
        racer("pass"),
    ]
    release(processes)
    results = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert sorted([results[0], results[2]]).count("refused") == 1, "one start only"

    agreed = PEOPLE - len(range(0, PEOPLE, 3))
    intents = MessageIntent.objects.filter(campaign=campaign)
    wait_until(
        lambda: (
            ExecutionJob.objects.filter(intent__campaign=campaign, status=S.SENT).count() == agreed
        ),
        120,
        "every agreed person's message sent",
    )
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == PEOPLE
    assert intents.count() == agreed
    assert not intents.values("contact").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert ledger_duplicates() == 0
    ledger = SandboxMessage.objects.filter(instance_id=org.twin.pk, from_me=True)
    assert ledger.count() == agreed
    refused = Contact.objects.filter(organization=org.org, marketing_consent=False)
    assert not ledger.filter(chat_phone__in=refused.values("phone")).exists()
