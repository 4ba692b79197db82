"""`conversa bench ingest`: how fast inbound webhooks are stored, over real HTTP.

A `conversa serve --no-worker` process on the configured database receives N signed webhooks,
one message per POST (Evolution's `messages.upsert`, or a Cloud API envelope signed with the app
secret), from S concurrent senders on keep-alive connections; every message comes from its own
customer with its own id, so each one creates a contact, a conversation and a message. The
bodies are built and signed before the clock starts, so the senders only send.

Figures: messages stored per second (Message rows counted at the end, held against the number
sent), request latency p50/p99, failed requests, duplicates, and the server's peak memory.
"""

import http.client
import json
import secrets
import statistics
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django.db.models import Count

from bench.cluster import web_server
from bench.dispatch import peak_rss_mb
from conversa.accounts.models import Organization
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.cloud import signature
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent

APP_SECRET = "bench-app-secret"  # noqa: S105 (a throwaway number's)


@contextmanager
def scratch_number(provider: str):
    """A throwaway organization with one connected number on `provider`; everything it received
    is deleted afterwards."""
    suffix = secrets.token_hex(3)
    org = Organization.objects.create(name=f"bench {suffix}", slug=f"bench-{suffix}")
    number = Number.objects.create(
        organization=org,
        name="bench inbound",
        provider=provider,
        provider_name=f"bench-{suffix}",
        provider_token="bench",  # noqa: S106
        app_secret=APP_SECRET if provider == Number.Provider.CLOUD else "",
        status=Number.Status.CONNECTED,
    )
    try:
        yield number
    finally:
        # Children first, each in one DELETE, rather than one cascade over 80,000 rows.
        for model in (ProviderEvent, Message, Conversation):
            model.objects.filter(number=number).delete()
        Contact.objects.filter(organization=org).delete()
        org.delete()


def evolution_body(n: int, now: int) -> dict:
    return {
        "event": "messages.upsert",
        "instance": "bench",
        "data": {
            "key": {
                "remoteJid": f"5511{n:09d}@s.whatsapp.net",
                "fromMe": False,
                "id": f"BENCH{n:012d}",
            },
            "pushName": f"Customer {n}",
            "message": {"conversation": f"Hello, this is message {n}"},
            "messageType": "conversation",
            "messageTimestamp": now,
        },
    }


def cloud_body(n: int, now: int) -> dict:
    phone = f"5511{n:09d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "bench"},
        "contacts": [{"profile": {"name": f"Customer {n}"}, "wa_id": phone}],
        "messages": [
            {
                "from": phone,
                "id": f"wamid.BENCH{n:012d}",
                "timestamp": str(now),
                "type": "text",
                "text": {"body": f"Hello, this is message {n}"},
            }
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


def signed_requests(number: Number, messages: int) -> list[tuple[bytes, dict]]:
    """Every POST's body and headers, built up front."""
    now = int(time.time())
    requests = []
    for n in range(messages):
        headers = {"Content-Type": "application/json"}
        if number.provider == Number.Provider.CLOUD:
            raw = json.dumps(cloud_body(n, now)).encode()
            headers["X-Hub-Signature-256"] = "sha256=" + signature(APP_SECRET, raw)
        else:
            raw = json.dumps(evolution_body(n, now)).encode()
            headers[SECRET_HEADER] = number.webhook_secret
        requests.append((raw, headers))
    return requests


def send_all(port: int, path: str, requests: list, senders: int) -> tuple[list[float], int]:
    """POST every request from `senders` threads, each on its own keep-alive connection (the
    stdlib client: the lightest, so the machine's cores go to the server). Returns each
    request's latency in seconds and how many did not answer 200."""
    latencies: list[float] = []
    failed = 0
    lock = threading.Lock()
    next_index = iter(range(len(requests)))

    def sender() -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while True:
            with lock:
                n = next(next_index, None)
            if n is None:
                break
            raw, headers = requests[n]
            started = time.perf_counter()
            conn.request("POST", path, body=raw, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            bad += response.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            failed += bad

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failed


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's web processes under its supervisor)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid] + [p for child in children for p in process_tree(int(child))]


def server_peak_mb(pid: int) -> float:
    """The largest peak resident memory among the server's processes."""
    return max(peak_rss_mb(p) for p in process_tree(pid))


def run(messages: int, senders: int, provider: str, processes: int = 1) -> dict:
    with (
        scratch_number(provider) as number,
        web_server("bench-ingest-serve", processes) as (process, port),
    ):
        requests = signed_requests(number, messages)
        path = f"/webhooks/{provider}/{number.webhook_key}"
        peak = 0.0
        sending = threading.Event()
        sending.set()

        def watch_memory() -> None:
            nonlocal peak
            while sending.is_set():
                peak = max(peak, server_peak_mb(process.pid))
                time.sleep(0.2)

        watcher = threading.Thread(target=watch_memory)
        watcher.start()
        started = time.perf_counter()
        latencies, failed = send_all(port, path, requests, senders)
        elapsed = time.perf_counter() - started
        sending.clear()
        watcher.join()
        peak = max(peak, server_peak_mb(process.pid))
        mine = Message.objects.filter(number=number)
        stored = mine.count()
        duplicates = sum(
            n - 1
            for n in mine.values("provider_message_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("n", flat=True)
        )
        latencies.sort()
        return {
            "benchmark": "ingest",
            "database": connection.vendor,
            "provider": provider,
            "messages": messages,
            "senders": senders,
            "stored": stored,
            "all_stored": stored == messages,
            "failed_requests": failed,
            "duplicates": duplicates,
            "contacts": Contact.objects.filter(organization=number.organization).count(),
            "conversations": Conversation.objects.filter(number=number).count(),
            "seconds": round(elapsed, 3),
            "messages_per_second": round(stored / elapsed, 1),
            "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
            "server_peak_rss_mb": round(peak, 1),
            "note": f"one message per POST, each from a new customer; {processes} web process(es)",
        }
