"""`conversa bench insights`: how fast the Insights page and API answer at size, what keeping
their counts costs the ingest path, and how long the database takes to back up and restore.

1. Seed (not timed, in batches, with the Insights upkeep off on PostgreSQL: a bulk load) one
   scratch organization: two numbers, four queues, twenty agents, N conversations over the last
   `days` days (one contact each; most answered, most older ones resolved, most assigned), and
   M messages (10 per conversation unless told), in and out, outbound ones in every status;
   five tags, most conversations with one or two.
   Then `aggregates.rebuild` counts them (timed: `rebuild_seconds`).
2. The owner, signed in (Django's test client, in this process: the view and the queries, not
   the network), asks R times for the page and R times for the API, for the last 30 days;
   p50/p95 of each in ms, and the machine's speed just before (`machine_probe_ms`).
3. Ingest (PostgreSQL), beside the seeded organization: `bench ingest`'s text run (a
   `conversa serve --no-worker` receiving signed webhooks over HTTP, `--processes` web
   processes as there), with the Insights upkeep between two runs without it, the rate of
   each, the share the upkeep costs, and the web's and the database's CPU per message with
   it.
4. `conversa backup` of this database (the seeded organization in it) and `conversa restore`
   of it into a scratch database: the seconds of each.
The scratch organization (and the scratch database) are deleted at the end. Figures as JSON,
with the peak memory of this process and of the ingest server.
"""

import gc
import os
import random
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from bench import ingest
from bench.cluster import machine_probe_ms
from bench.dispatch import peak_rss_mb
from conversa import backups
from conversa.accounts.models import Member, Organization
from conversa.inbox.models import Contact, Conversation, Message, Queue, Tag
from conversa.insights import aggregates
from conversa.insights.models import DailyCount, Duration, Handled, HourlyCount, WeeklyCount
from conversa.numbers.models import Number

BATCH = 5000
OUT_STATUSES = ["read"] * 5 + ["delivered"] * 3 + ["sent", "failed"]


def upkeep(on: bool) -> None:
    """The Insights triggers on or off for this session (PostgreSQL; SQLite keeps them on)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('conversa.insights_upkeep', %s, false)", ["on" if on else "off"]
            )


def seed(conversations: int, messages: int, days: int) -> tuple[Organization, Member]:
    rng = random.Random(19)
    suffix = secrets.token_hex(3)
    org = Organization.objects.create(
        name=f"bench insights {suffix}", slug=f"bench-insights-{suffix}"
    )
    User = get_user_model()

    def member(role: str, n: int) -> Member:
        user = User.objects.create(username=f"{role}{n}-{suffix}@bench-insights.bench")
        return Member.objects.create(
            organization=org, user=user, role=role, display_name=f"{role} {n}"
        )

    owner = member(Member.Role.OWNER, 0)
    agents = [member(Member.Role.AGENT, n) for n in range(20)]
    numbers = [
        Number.objects.create(
            organization=org,
            name=f"bench number {n}",
            provider=Number.Provider.SANDBOX,
            provider_name=f"bench-insights-{suffix}-{n}",
            status=Number.Status.CONNECTED,
        )
        for n in range(2)
    ]
    queues = [Queue.objects.create(organization=org, name=f"Queue {n}") for n in range(4)]
    tags = [Tag.objects.create(organization=org, name=f"tag {n}") for n in range(5)]
    Tagged = Conversation.tags.through
    now = timezone.now()
    span = timedelta(days=days).total_seconds()
    per = max(messages // max(conversations, 1), 1)
    left = messages
    for first in range(0, conversations, BATCH):
        size = min(BATCH, conversations - first)
        with transaction.atomic():
            contacts = Contact.objects.bulk_create(
                Contact(organization=org, phone=f"5511{first + n:09d}", name=f"Cliente {first + n}")
                for n in range(size)
            )
            threads = []
            for n, contact in enumerate(contacts):
                created = now - timedelta(
                    seconds=span * (1 - (first + n + rng.random()) / conversations)
                )
                answered = rng.random() < 0.85
                resolved = answered and rng.random() < 0.6 and created < now - timedelta(hours=6)
                response = created + timedelta(minutes=rng.randint(1, 240))
                threads.append(
                    Conversation(
                        organization=org,
                        number=numbers[(first + n) % 2],
                        contact=contact,
                        status=Conversation.Status.RESOLVED
                        if resolved
                        else Conversation.Status.OPEN,
                        queue=queues[(first + n) % 4] if (first + n) % 10 else None,
                        assignee=agents[(first + n) * 7 % 20]
                        if answered or (first + n) % 3
                        else None,
                        created_at=created,
                        opened_at=created,
                        last_message_at=created,
                        first_inbound_at=created,
                        first_response_at=response if answered else None,
                        resolved_at=response + timedelta(hours=rng.randint(1, 48))
                        if resolved
                        else None,
                    )
                )
            threads = Conversation.objects.bulk_create(threads)
            # Most conversations have a tag or two (the per-tag table's counts at size).
            Tagged.objects.bulk_create(
                Tagged(conversation_id=thread.pk, tag_id=tag.pk)
                for thread in threads
                for tag in rng.sample(tags, rng.choice([0, 1, 1, 2]))
            )
            rows = []
            for thread in threads:
                count = min(per, left)
                left -= count
                for k in range(count):
                    outbound = k % 2 == 1
                    rows.append(
                        Message(
                            organization=org,
                            conversation=thread,
                            number=thread.number,
                            direction="out" if outbound else "in",
                            status=rng.choice(OUT_STATUSES) if outbound else "received",
                            sender=thread.assignee if outbound else None,
                            body="Olá, tudo bem?",
                            created_at=min(thread.created_at + timedelta(minutes=7 * k), now),
                        )
                    )
            Message.objects.bulk_create(rows, batch_size=BATCH)
    return org, owner


def drop(org: Organization) -> None:
    """The scratch organization, its big tables in one DELETE each (the Insights' own too: the
    upkeep is off, so no trigger clears them)."""
    users = list(Member.objects.filter(organization=org).values_list("user_id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM inbox_conversation_tags WHERE conversation_id IN "
            "(SELECT id FROM inbox_conversation WHERE organization_id = %s)",
            [org.pk],
        )
        for model in (
            Message,
            Conversation,
            Contact,
            HourlyCount,
            DailyCount,
            WeeklyCount,
            Duration,
            Handled,
        ):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE organization_id = %s", [org.pk]
            )  # noqa: S608
    org.delete()
    get_user_model().objects.filter(pk__in=users).delete()


def times_ms(client: Client, url: str, requests: int) -> list[float]:
    for _ in range(2):  # warm-up: templates, translations, the connection
        assert client.get(url).status_code == 200
    # What stays loaded set aside from the garbage collector, as the server does once started
    # (conversa.asgi.settle): else a full collection walks it every few requests.
    gc.collect()
    gc.freeze()
    spent = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        spent.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
    return spent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(share * len(ordered)), len(ordered) - 1)], 1)


def ingest_rates(messages: int, senders: int, processes: int) -> dict:
    """The ingest bench's text run with the upkeep, between two without it (PostgreSQL only:
    SQLite's triggers have no switch)."""
    if connection.vendor != "postgresql" or not messages:
        return {}
    off = {"INSIGHTS_UPKEEP": "off"}
    # The run with the upkeep between two without it, whose rates are averaged: the first run
    # of a bench was often the slowest (a quarter slower in three of four runs), which, alone
    # before or after, read as the upkeep's cost or gain.
    before = ingest.run_shape(messages, senders, "evolution", processes, env=off)
    with_upkeep = ingest.run_shape(messages, senders, "evolution", processes)
    after = ingest.run_shape(messages, senders, "evolution", processes, env=off)
    runs = (before, with_upkeep, after)
    a = with_upkeep["messages_per_second"]
    b = round((before["messages_per_second"] + after["messages_per_second"]) / 2, 1)
    return {
        "ingest_messages_per_second": a,
        "ingest_messages_per_second_without_upkeep": b,
        "ingest_upkeep_cost_pct": round(100 * (b - a) / b, 1) if b else None,
        "ingest_lost": sum(run["lost"] for run in runs),
        "ingest_throttled": sum(run["throttled_requests"] for run in runs),
        "ingest_server_peak_rss_mb": max(run["server_peak_rss_mb"] for run in runs),
        "ingest_web_cpu_ms_per_message": with_upkeep["web_cpu_ms_per_message"],
        "ingest_database_cpu_ms_per_message": with_upkeep["database_cpu_ms_per_message"],
        "ingest_processes": processes,
    }


def backup_and_restore() -> dict:
    """This database backed up, and restored into a scratch one (deleted afterwards)."""
    source = dict(connection.settings_dict)
    with tempfile.TemporaryDirectory(prefix="bench-insights-") as folder:
        archive = Path(folder) / "bench.tar"
        started = time.perf_counter()
        backups.create_backup(archive, database=source, media_root=None, media_left_out="bench")
        backed_up = time.perf_counter() - started
        target = dict(source)
        if connection.vendor == "postgresql":
            target["NAME"] = f"bench_restore_{secrets.token_hex(4)}"
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{target["NAME"]}"')
        else:
            target["NAME"] = str(Path(folder) / "restored.sqlite3")
        try:
            started = time.perf_counter()
            backups.restore_backup(archive, database=target, media_root=Path(folder) / "media")
            restored = time.perf_counter() - started
        finally:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{target["NAME"]}" WITH (FORCE)')
        return {
            "backup_seconds": round(backed_up, 2),
            "restore_seconds": round(restored, 2),
            "backup_mb": round(archive.stat().st_size / 2**20, 1),
        }


def run(
    conversations: int = 100_000,
    messages: int | None = None,
    days: int = 30,
    requests: int = 50,
    ingest_messages: int = 20_000,
    senders: int = 32,
    backup: bool = True,
    processes: int = 2,
) -> dict:
    messages = messages if messages is not None else 10 * conversations
    started = time.perf_counter()
    upkeep(False)
    try:
        org, owner = seed(conversations, messages, days)
    finally:
        upkeep(True)
    seeded = time.perf_counter() - started
    try:
        started = time.perf_counter()
        hourly_rows = aggregates.rebuild(org)
        rebuilt = time.perf_counter() - started
        started = time.perf_counter()
        aggregates.fold_all()  # the durations' business seconds, as the workers would
        settled = time.perf_counter() - started
        if connection.vendor == "postgresql":
            # As autovacuum would after a bulk load: the statistics, and the visibility map
            # that lets the figures read the covering indexes alone.
            with connection.cursor() as cursor:
                for table in (
                    "inbox_conversation",
                    "inbox_conversation_tags",
                    "inbox_message",
                    "insights_hourlycount",
                    "insights_dailycount",
                    "insights_weeklycount",
                    "insights_delta",
                    "insights_duration",
                    "insights_handled",
                ):
                    cursor.execute(f"VACUUM ANALYZE {table}")
        client = Client(HTTP_HOST="localhost")
        client.force_login(owner.user)
        probe = machine_probe_ms()
        page = times_ms(client, "/insights/?period=30d", requests)
        api = times_ms(client, "/api/insights?period=30d", requests)
        figures = {
            "benchmark": "insights",
            "database": connection.vendor,
            "conversations": conversations,
            "messages": messages,
            "days": days,
            "seed_seconds": round(seeded, 1),
            "rebuild_seconds": round(rebuilt, 2),
            "settle_seconds": round(settled, 2),
            "hourly_rows": hourly_rows,
            "requests": requests,
            "page_p50_ms": round(statistics.median(page), 1),
            "page_p95_ms": percentile(page, 0.95),
            "api_p50_ms": round(statistics.median(api), 1),
            "api_p95_ms": percentile(api, 0.95),
            # The machine's speed just before (bench.cluster): the same page's p95 moves with it.
            "machine_probe_ms": probe,
        }
        if backup:  # while the seeded organization is in it
            figures |= backup_and_restore()
        # At size: beside the seeded organization's rows. Run after dropping them, it measured
        # a database that had just lost over a million rows which nothing vacuums where
        # autovacuum is off (as on the test machines): half the rate or less, upkeep or not.
        figures |= ingest_rates(ingest_messages, senders, processes)
    finally:
        upkeep(False)
        try:
            drop(org)
        finally:
            upkeep(True)
    figures["peak_rss_mb"] = round(peak_rss_mb(os.getpid()), 1)
    figures["note"] = (
        f"{requests} GETs each of /insights/?period=30d and /api/insights?period=30d by the owner,"
        " in this process (Django's test client: view and queries, no network); ingest: bench"
        " ingest's text run with the Insights triggers, between two without them; backup of this"
        " whole database and restore into a scratch one"
    )
    return figures
