"""Follow-ups under several real processes on PostgreSQL: racing moves schedule each step
once, racing dispatches send each step once, a worker killed mid-dispatch duplicates
nothing (the simulator's ledger is the proof)."""

import os
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from bench.cluster import Cluster, database_url, ledger_duplicates, wait_until
from conversa.crm import automations, services
from conversa.crm.models import FollowUp, StageChange
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.numbers.models import Number
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.conftest import make_org
from tests.crm.helpers import automation, lead, pipeline, stage
from tests.integration.together import release, spawn

S = ExecutionJob.Status
SCRIPT = Path(__file__).with_name("followup_at.py")
TOKEN = "internal-test-token"
TWO_NOW = [{"template": "Oi {{contact.first_name}}"}, {"template": "Segue a proposta"}]

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
    running = Cluster()
    yield running
    running.stop()


def racer(*args) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "CONVERSA_INTERNAL_TOKEN": TOKEN,
    }
    return spawn([str(SCRIPT), *map(str, args)], env)


def outputs(processes) -> list[str]:
    release(processes)
    results = [p.communicate(timeout=90)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    return results


def test_ten_processes_moving_one_lead_into_one_stage_schedule_each_step_once(org):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    results = outputs(
        [racer("move", the_lead.pk, stage(p, "Proposta").pk, org.owner.pk) for _ in range(10)]
    )
    assert sorted(results).count("noop") == 9
    assert StageChange.objects.filter(lead=the_lead, from_stage__isnull=False).count() == 1
    keys = MessageIntent.objects.filter(follow_up__lead=the_lead).values_list(
        "idempotency_key", flat=True
    )
    assert len(keys) == len(set(keys)) == 3
    assert FollowUp.objects.filter(lead=the_lead).count() == 3


def deferred_due_steps(org, leads: int) -> int:
    """`leads` leads moved into a stage whose two steps are due now, then held back as a Gate
    DEFER would hold them (their jobs' run_after an hour away): due, not runnable."""
    p = pipeline(org)
    automation(org, stage(p, "Proposta"), steps=TWO_NOW)
    for n in range(leads):
        services.move_lead(
            lead(org, p, phone=f"55119777{n:05d}"), stage(p, "Proposta"), acting_member=org.owner
        )
    held = ExecutionJob.objects.filter(intent__follow_up__isnull=False)
    held.update(run_after=timezone.now() + timedelta(hours=1))
    return held.count()


def test_the_button_and_the_internal_endpoint_at_once_send_every_due_step_once(org, cluster):
    steps = deferred_due_steps(org, 40)
    for _ in range(2):
        cluster.worker(batch_size=10)
    made = outputs(
        [
            racer("button", org.org.pk, org.owner.pk),
            racer("internal", org.org.slug),
            racer("button", org.org.pk, org.owner.pk),
            racer("internal", org.org.slug),
        ]
    )
    assert sum(map(int, made)) >= steps, "together they made every due step runnable"
    wait_until(lambda: ExecutionJob.objects.filter(status=S.SENT).count() == steps, 120, "all sent")
    assert ledger_duplicates() == 0
    assert SandboxMessage.objects.filter(from_me=True).count() == steps
    assert not ExecutionJob.objects.exclude(status=S.SENT).exists()


def test_a_worker_killed_mid_dispatch_duplicates_nothing(org, cluster):
    simulator.set_faults(SandboxInstance.objects.get(pk=org.twin.pk), latency_ms=300)
    steps = deferred_due_steps(org, 30)
    victim = cluster.worker(batch_size=10)
    automations.dispatch_now(org.org, acting_member=org.owner)
    wait_until(
        lambda: ExecutionJob.objects.filter(status=S.SENDING).exists(), 30, "a send in flight"
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    cluster.worker(batch_size=10)
    wait_until(lambda: ExecutionJob.objects.filter(status=S.SENT).count() == steps, 120, "all sent")
    assert ledger_duplicates() == 0
    assert SandboxMessage.objects.filter(from_me=True).count() == steps
