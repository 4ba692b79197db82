"""The engine's invariants under several real processes on PostgreSQL (docs/design.md, invariants 1 and 2)."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from bench.cluster import (
    Cluster,
    database_url,
    ledger_duplicates,
    wait_until,
)
from bench.jobs import pending_jobs
from conversa.engine import services
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.numbers.models import Number
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.conftest import make_org
from tests.integration.together import release, spawn

S = ExecutionJob.Status

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)


@pytest.fixture
def org(transactional_db):
    org = make_org()
    # No webhooks in these tests: the ledger and lookups by reference are the provider's word.
    SandboxInstance.objects.filter(pk=org.twin.pk).update(webhook_url="")
    # Thousands of sends in a minute: these tests are about the engine, not the quota.
    Number.objects.filter(pk=org.number.pk).update(hourly_quota=0, daily_quota=0)
    return org


@pytest.fixture
def cluster(org):
    running = Cluster()
    yield running
    running.stop()


def test_twenty_processes_creating_one_key_make_one_intent(org):
    conversation = org.conversation()
    script = Path(__file__).with_name("create_intent_at.py")
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": ""}
    args = [str(script), str(conversation.pk), str(org.owner.pk), "same-key"]
    processes = [spawn(args, env) for _ in range(20)]
    release(processes)
    results = [p.communicate(timeout=60)[0].split() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    ids = {intent_id for intent_id, _ in results}
    assert len(ids) == 1
    assert sorted(created for _, created in results) == ["0"] * 19 + ["1"]
    assert MessageIntent.objects.filter(idempotency_key="same-key").count() == 1
    assert ExecutionJob.objects.count() == 1


def test_four_workers_send_two_thousand_jobs_exactly_once(org, cluster):
    jobs = pending_jobs(org.number, 2000)
    for _ in range(4):
        cluster.worker(batch_size=20)
    wait_until(
        lambda: ExecutionJob.objects.filter(status=S.SENT).count() == len(jobs), 180, "all SENT"
    )
    assert SandboxMessage.objects.filter(from_me=True).count() == 2000
    assert ledger_duplicates() == 0
    workers = set(ExecutionJob.objects.values_list("worker_id", flat=True))
    assert len(workers) == 4, "every worker took part"


def test_four_workers_never_send_past_the_hourly_quota(org, cluster):
    """Each worker counts the quota inside its own transaction; the number's row lock makes them
    take turns, so together they stop exactly at the quota."""
    Number.objects.filter(pk=org.number.pk).update(hourly_quota=50, daily_quota=0)
    pending_jobs(org.number, 300)
    for _ in range(4):
        cluster.worker(batch_size=20, concurrency=10)
    wait_until(
        lambda: (
            not ExecutionJob.objects.filter(
                status__in=[S.PENDING, S.CLAIMED, S.SENDING], run_after__lte=timezone.now()
            ).exists()
        ),
        90,
        "every job sent or deferred to the next hour",
    )
    assert ExecutionJob.objects.filter(status=S.SENT).count() == 50
    assert SandboxMessage.objects.filter(from_me=True).count() == 50
    assert (
        ExecutionJob.objects.filter(status=S.PENDING, run_after__gt=timezone.now()).count() == 250
    )


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(org, cluster):
    simulator.set_faults(SandboxInstance.objects.get(pk=org.twin.pk), latency_ms=300)
    jobs = pending_jobs(org.number, 60)
    victim = cluster.worker(batch_size=10)
    wait_until(
        lambda: ExecutionJob.objects.filter(status=S.SENDING).exists(), 30, "a send in flight"
    )
    held = ExecutionJob.objects.filter(status__in=[S.CLAIMED, S.SENDING]).count()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert held > 1, "the victim held claims when it died"
    cluster.worker(batch_size=10)
    wait_until(
        lambda: ExecutionJob.objects.filter(status=S.SENT).count() == len(jobs), 90, "all SENT"
    )
    assert ledger_duplicates() == 0
    assert SandboxMessage.objects.filter(from_me=True).count() == len(jobs)


def test_one_contacts_messages_arrive_in_order_despite_failures_and_three_workers(org, cluster):
    simulator.set_faults(SandboxInstance.objects.get(pk=org.twin.pk), failure_rate=0.2)
    jobs = pending_jobs(org.number, 50, contacts=1)
    for _ in range(3):
        cluster.worker(batch_size=5)
    wait_until(
        lambda: not ExecutionJob.objects.exclude(status__in=[S.SENT, S.DEAD]).exists(),
        120,
        "every job settled",
    )
    received = list(
        SandboxMessage.objects.filter(from_me=True).order_by("id").values_list("text", flat=True)
    )
    sent_in_order = [
        j.intent.body
        for j in sorted(jobs, key=lambda j: j.id)
        if ExecutionJob.objects.get(pk=j.pk).status == S.SENT
    ]
    assert received == sent_in_order
    assert ledger_duplicates() == 0


def test_chaos_loses_nothing_and_sends_nothing_twice(org, cluster):
    """1,000 intents, 3 workers of which the oldest is killed as soon as it has taken work,
    20 times, a provider that fails 10%, times out 5% (nothing accepted) and hangs 1% after
    accepting."""
    twin = SandboxInstance.objects.get(pk=org.twin.pk)
    simulator.set_faults(twin, failure_rate=0.10, timeout_rate=0.05, hang_rate=0.01)
    jobs = pending_jobs(org.number, 1000, contacts=200)
    workers = [cluster.worker(batch_size=10) for _ in range(3)]
    terminal = [S.SENT, S.FAILED, S.DEAD]
    deadline = time.monotonic() + 600
    kills = 0
    while ExecutionJob.objects.exclude(status__in=terminal).exists():
        assert time.monotonic() < deadline, "chaos did not settle in time"
        # Killed mid-work, however long a loaded machine takes to start a worker (a worker's
        # id names its process).
        taken = ExecutionJob.objects.filter(worker_id__contains=f":{workers[0].pid}:").exists()
        if kills < 20 and taken:
            victim = workers.pop(0)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            workers.append(cluster.worker(batch_size=10))
        time.sleep(0.2)
    sent = dict(ExecutionJob.objects.filter(status=S.SENT).values_list("id", "provider_message_id"))
    receipts = list(
        SandboxMessage.objects.filter(from_me=True).values_list("reference", "message_id")
    )
    assert ledger_duplicates() == 0
    # Every SENT has exactly one receipt, and every receipt is one SENT job.
    assert sorted(receipts) == sorted((f"job:{job_id}", mid) for job_id, mid in sent.items())
    assert len(sent) + ExecutionJob.objects.filter(status__in=[S.FAILED, S.DEAD]).count() == len(
        jobs
    )


def test_sigterm_finishes_the_send_in_hand_and_releases_the_rest(org, cluster):
    simulator.set_faults(SandboxInstance.objects.get(pk=org.twin.pk), latency_ms=300)
    pending_jobs(org.number, 30)
    worker = cluster.worker(batch_size=10)
    wait_until(lambda: ExecutionJob.objects.filter(status=S.SENDING).exists(), 30, "a send")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    assert not ExecutionJob.objects.filter(status__in=[S.CLAIMED, S.SENDING]).exists()
    sent = ExecutionJob.objects.filter(status=S.SENT).count()
    assert sent >= 1
    assert SandboxMessage.objects.filter(from_me=True).count() == sent


def test_new_work_wakes_an_idle_worker_without_waiting_for_its_poll(org):
    cluster = Cluster(WORKER_POLL_SECONDS="120")
    try:
        cluster.worker()

        def listening():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN conversa_jobs'"
                )
                return cursor.fetchone()[0] == 1

        wait_until(listening, 30, "the worker to LISTEN")
        intent, _ = services.reply(org.conversation(), "Olá", acting_member=org.owner)
        # Well under the two-minute poll: only the NOTIFY can have woken it.
        wait_until(lambda: ExecutionJob.objects.get(intent=intent).status == S.SENT, 30, "the send")
    finally:
        cluster.stop()
