"""`conversa bench chaos`: nothing lost, nothing sent twice, while workers die and the provider
misbehaves.

N intents (bulk-created, each with its PENDING job) are sent by W `conversa worker` processes
through the sandbox over real HTTP. The sandbox fails 10% of sends (5xx), times out on 5% (nothing
accepted) and hangs on 1% after accepting (the ambiguous case). One worker is killed with SIGKILL
every second and replaced, until every job is settled. Then the sandbox's ledger is held against
the jobs: every SENT job has exactly one receipt and every receipt is one SENT job.
"""

import time
from collections import Counter

from django.db import connection
from django.db.models import Count

from bench.cluster import Cluster, ledger_duplicates
from bench.dispatch import peak_rss_mb, scratch_number
from bench.jobs import pending_jobs
from conversa.accounts.models import OperationalEvent
from conversa.engine.models import ExecutionJob
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxMessage

S = ExecutionJob.Status
SETTLED = [S.SENT, S.FAILED, S.DEAD]
FAULTS = {"failure_rate": 0.10, "timeout_rate": 0.05, "hang_rate": 0.01}


def run(intents: int, workers: int, kill_every: float = 1.0, timeout: float = 3600) -> dict:
    with scratch_number() as (number, twin):
        simulator.set_faults(twin, **FAULTS)
        created = pending_jobs(number, intents, contacts=max(1, intents // 5))
        cluster = Cluster()
        try:
            started = time.perf_counter()
            running = [cluster.worker() for _ in range(workers)]
            mine = ExecutionJob.objects.filter(number=number)
            kills, peak, last_kill = 0, 0.0, time.perf_counter()
            while mine.exclude(status__in=SETTLED).exists():
                if time.perf_counter() - started > timeout:
                    break
                time.sleep(0.2)
                peak = max(peak, *(peak_rss_mb(p.pid) for p in running))
                if time.perf_counter() - last_kill >= kill_every:
                    cluster.kill_oldest(running)
                    kills += 1
                    last_kill = time.perf_counter()
            elapsed = time.perf_counter() - started
        finally:
            cluster.stop()
        statuses = Counter(mine.values_list("status", flat=True))
        sent = dict(mine.filter(status=S.SENT).values_list("id", "provider_message_id"))
        receipts = dict(
            SandboxMessage.objects.filter(instance=twin, from_me=True).values_list(
                "reference", "message_id"
            )
        )
        expected = {f"job:{job_id}": message_id for job_id, message_id in sent.items()}
        settled_how: Counter = Counter()
        for verb, how, n in (
            OperationalEvent.objects.filter(
                object_type="messageintent",
                object_id__in=[job.intent_id for job in created],
                verb__in=["job.sent", "job.requeued"],
            )
            .values_list("verb", "data__how")
            .annotate(n=Count("id"))
        ):
            settled_how[f"{verb} ({how})" if how else verb] += n
        return {
            "benchmark": "chaos",
            "database": connection.vendor,
            "intents": intents,
            "workers": workers,
            "faults": FAULTS,
            "workers_killed": kills,
            "seconds": round(elapsed, 1),
            "settled_per_second": round(intents / elapsed, 1),
            "statuses": dict(statuses),
            "unsettled": intents - sum(statuses[s] for s in SETTLED),
            "how_sent": dict(settled_how),
            "duplicates": ledger_duplicates(twin),
            "sent_without_receipt": len(set(expected) - set(receipts)),
            "receipts_without_sent": len(set(receipts) - set(expected)),
            "receipt_id_mismatches": sum(
                1 for ref, mid in expected.items() if ref in receipts and receipts[ref] != mid
            ),
            "worker_peak_rss_mb": round(peak, 1),
        }
