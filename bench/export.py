"""`conversa bench export`: an export of N messages, CSV and XLSX, written by a `conversa worker`
process, on the configured database.

1. Setup (not timed): a throwaway organization with N messages in bulk, chunk by chunk, in
   conversations of 20 messages: a tenth of them on the first day, the rest on the second, so
   one seed gives two sizes (the first day, N/10 rows; both days, N rows).
2. For each size and format: the export is asked for as the API asks (`request_export`), and
   one fresh `conversa worker` process writes it; timed from the request until the export is
   done. The worker's peak resident memory (VmHWM) is read before it stops: the same at N/10
   and N rows means memory stays flat (the rows are streamed, a chunk at a time).
Figures per run: rows, seconds, rows_per_second, file_mb, worker_peak_rss_mb. Everything is
deleted afterwards.
"""

import os
import subprocess
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import connection, transaction

from bench import dispatch
from bench.cluster import CONVERSA, database_url
from bench.inbox_words import FIRST_NAMES, LAST_NAMES
from conversa.accounts.models import Member, OperationalEvent
from conversa.inbox.models import Contact, Conversation, Message
from conversa.insights import exports
from conversa.insights.models import Export

SEED_CHUNK = 5000
PER_CONVERSATION = 20
FIRST_DAY = date(2026, 1, 5)
BODY = "Olá, meu pedido {n} chegou com a caixa amassada; podem trocar até sexta?"


def seed(org, number, count: int) -> None:
    """`count` messages in conversations of PER_CONVERSATION, a tenth on FIRST_DAY and the rest
    on the day after, inserted in bulk by chunks (memory flat whatever the count)."""
    zone = ZoneInfo(org.time_zone)
    small = count // 10
    start = datetime.combine(FIRST_DAY, clock(9), zone)
    for begin in range(0, count, SEED_CHUNK):
        span = range(begin, min(begin + SEED_CHUNK, count))
        firsts = [i for i in span if i % PER_CONVERSATION == 0]
        people = Contact.objects.bulk_create(
            Contact(
                organization=org,
                phone=f"55{11 + i % 80}9{i:08d}",
                name=f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i * 7 % len(LAST_NAMES)]}",
            )
            for i in firsts
        )
        threads = Conversation.objects.bulk_create(
            Conversation(
                organization=org,
                number=number,
                contact=person,
                status=Conversation.Status.RESOLVED,
                created_at=start,
            )
            for person in people
        )
        by_index = dict(zip(firsts, threads, strict=True))
        Message.objects.bulk_create(
            Message(
                organization=org,
                conversation=by_index[i - i % PER_CONVERSATION],
                number=number,
                direction=Message.Direction.INBOUND if i % 2 else Message.Direction.OUTBOUND,
                status=Message.Status.RECEIVED if i % 2 else Message.Status.READ,
                body=BODY.format(n=i),
                created_at=start + timedelta(days=0 if i < small else 1, milliseconds=i),
            )
            for i in span
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("inbox_contact", "inbox_conversation", "inbox_message"):
                cursor.execute(f"ANALYZE {table}")  # noqa: S608 (our own table names)


def written_by_a_worker(export: Export) -> tuple[float, float]:
    """Seconds from now until a fresh `conversa worker` has written `export`, and its peak
    resident memory in MB."""
    env = {**os.environ, "DATABASE_URL": database_url(), "WORKER_POLL_SECONDS": "0.05"}
    started = time.perf_counter()
    worker = subprocess.Popen(
        [*CONVERSA, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0.0
    try:
        while True:
            export.refresh_from_db()
            peak = max(peak, dispatch.peak_rss_mb(worker.pid))
            if export.status in (Export.Status.DONE, Export.Status.FAILED):
                break
            if time.perf_counter() - started > 3600 or worker.poll() is not None:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        peak = max(peak, dispatch.peak_rss_mb(worker.pid))
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return elapsed, peak


def cleanup(org) -> None:
    """The run's rows and files, deleted in bulk (the ORM's cascade would load them all)."""
    for path in Export.objects.filter(organization=org).values_list("file_path", flat=True):
        if path:
            default_storage.delete(path)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The audit timeline refuses deletes but for an organization going whole.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('conversa.erasing_organization', %s, true)", [str(org.pk)]
                )
        for model in (OperationalEvent, Export, Message, Conversation, Contact):
            model.objects.filter(organization=org)._raw_delete(connection.alias)


def run(messages: int = 1_000_000, formats: tuple[str, ...] = ("csv", "xlsx")) -> dict:
    with dispatch.scratch_number() as (number, _twin):
        org = number.organization
        user = get_user_model().objects.create_user(username=f"bench-{org.slug}@bench.local")
        owner = Member.objects.create(
            organization=org, user=user, role=Member.Role.OWNER, display_name="Bench"
        )
        try:
            began = time.perf_counter()
            seed(org, number, messages)
            seed_seconds = time.perf_counter() - began
            runs = []
            for last_day in (FIRST_DAY, FIRST_DAY + timedelta(days=1)):
                for fmt in formats:
                    export = exports.request_export(
                        org,
                        kind="messages",
                        fmt=fmt,
                        first_day=FIRST_DAY,
                        last_day=last_day,
                        acting_member=owner,
                    )
                    seconds, peak = written_by_a_worker(export)
                    runs.append(
                        {
                            "format": fmt,
                            "rows": export.rows_done,
                            "status": export.status,
                            "seconds": round(seconds, 1),
                            "rows_per_second": round(export.rows_done / seconds) if seconds else 0,
                            "file_mb": round((export.file_size or 0) / 2**20, 1),
                            "worker_peak_rss_mb": round(peak, 1),
                        }
                    )
        finally:
            cleanup(org)
            owner.delete()
            user.delete()
    return {
        "messages": messages,
        "database": connection.vendor,
        "seed_seconds": round(seed_seconds, 1),
        "runs": runs,
        "note": "seconds: from the request to the file stored, one fresh worker process each; "
        "worker_peak_rss_mb: that process's VmHWM (flat from a tenth of the rows to all of them)",
    }
