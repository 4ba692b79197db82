"""`conversa bench dispatch`: how fast the engine sends, on the configured database.

N PENDING jobs are claimed and sent by W `conversa worker` processes against the sandbox called
in-process (it accepts instantly), so the figure is the engine's. Beside it, the database floor:
the same number of rows inserted then updated by plain psycopg / sqlite3 over W connections.
"""

import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench.cluster import ledger_duplicates
from bench.jobs import pending_jobs
from conversa.accounts.models import Organization
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.numbers.models import Number
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage

S = ExecutionJob.Status


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process: its peak resident memory."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def database_floor(rows: int, connections: int) -> float:
    """Seconds for `connections` clients to insert `rows` rows then update each once."""
    per = rows // connections
    vendor = connection.vendor
    table = f"bench_floor_{secrets.token_hex(4)}"
    if vendor == "postgresql":
        import psycopg

        s = connection.settings_dict
        dsn = f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} dbname={s['NAME']}"
        dsn += f" user={s['USER']}" if s.get("USER") else ""

        def connect():
            return psycopg.connect(dsn, autocommit=True)

        create = f"CREATE TABLE {table} (id bigserial primary key, status text, n int)"
        insert = f"INSERT INTO {table} (status, n) VALUES ('pending', %s) RETURNING id"
        update = f"UPDATE {table} SET status = 'sent' WHERE id = %s"
    else:
        path = settings.DATABASES["default"]["NAME"]

        def connect():
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn

        create = f"CREATE TABLE {table} (id integer primary key, status text, n int)"
        insert = f"INSERT INTO {table} (status, n) VALUES ('pending', ?) RETURNING id"
        update = f"UPDATE {table} SET status = 'sent' WHERE id = ?"
    setup = connect()
    setup.execute(create)

    def client():
        conn = connect()
        ids = [conn.execute(insert, (n,)).fetchone()[0] for n in range(per)]
        for row_id in ids:
            conn.execute(update, (row_id,))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    setup.execute(f"DROP TABLE {table}")
    setup.close()
    return elapsed


@contextmanager
def scratch_number():
    """A throwaway organization with one connected, unlimited sandbox number and its twin on the
    sandbox's side; everything it sent is deleted afterwards."""
    suffix = secrets.token_hex(3)
    org = Organization.objects.create(name=f"bench {suffix}", slug=f"bench-{suffix}")
    number = Number.objects.create(
        organization=org,
        name="bench",
        provider=Number.Provider.SANDBOX,
        provider_name=f"bench-{suffix}",
        status=Number.Status.CONNECTED,
        hourly_quota=0,
        daily_quota=0,
    )
    twin = simulator.create_instance(number.provider_name)
    SandboxInstance.objects.filter(pk=twin.pk).update(state="open")
    twin.refresh_from_db()
    try:
        yield number, twin
    finally:
        SandboxMessage.objects.filter(instance=twin).delete()
        twin.delete()
        MessageIntent.objects.filter(organization=org).delete()
        org.delete()


def send_with_workers(jobs, expected: int, workers: int, batch_size: int) -> tuple[float, float]:
    """Run `workers` worker processes (the sandbox in-process, in null mode) until `expected`
    of `jobs` are SENT, or an hour has passed. Returns the seconds it took and the workers'
    peak resident memory in MB."""
    env = {**os.environ, "SANDBOX_IN_PROCESS": "1", "WORKER_POLL_SECONDS": "0.05"}
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL", "")
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "conversa.cli", "worker"),
                *("--batch-size", str(batch_size), "--concurrency", str(batch_size)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    peak = 0.0
    while jobs.filter(status=S.SENT).count() < expected:
        peak = max(peak, *(peak_rss_mb(p.pid) for p in processes))
        if time.perf_counter() - started > 3600:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)
    return elapsed, peak


def run(jobs: int, workers: int, batch_size: int = 200) -> dict:
    with scratch_number() as (number, twin):
        created = pending_jobs(number, jobs, contacts=jobs)
        mine = ExecutionJob.objects.filter(number=number)
        elapsed, peak = send_with_workers(mine, len(created), workers, batch_size)
        latencies = sorted(
            (job.updated_at - job.intent.created_at).total_seconds()
            for job in mine.filter(status=S.SENT)
            .select_related("intent")
            .only("updated_at", "intent__created_at")
        )
        sent = len(latencies)
        floor = database_floor(jobs, workers)
        return {
            "benchmark": "dispatch",
            "database": connection.vendor,
            "jobs": jobs,
            "workers": workers,
            "batch_size": batch_size,
            "sent": sent,
            "seconds": round(elapsed, 3),
            "messages_per_second": round(sent / elapsed, 1),
            "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "latency_p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3)
            if latencies
            else None,
            "duplicates": ledger_duplicates(twin),
            "receipts": SandboxMessage.objects.filter(instance=twin).count(),
            "database_floor_seconds": round(floor, 3),
            "ratio_to_floor": round(elapsed / floor, 1),
            "worker_peak_rss_mb": round(peak, 1),
            "note": "latency counts from the intent's creation, so it includes the queue",
        }
