"""`conversa bench ingest`: how fast inbound webhooks are stored, over real HTTP.

A `conversa serve --no-worker` process on the configured database receives N signed webhooks,
one message per POST (Evolution's `messages.upsert`, or a Cloud API envelope signed with the app
secret), from S concurrent senders on keep-alive connections; every message comes from its own
customer with its own id, so each one creates a contact, a conversation and a message. The
bodies are built and signed before the clock starts, so the senders only send.

Figures: messages stored per second (Message rows counted at the end, held against the number
sent), request latency p50/p99, failed requests, duplicates, and the server's peak memory; and
what each message cost in CPU, in the web processes, in the database's backends and in the
senders themselves (the bench's own threads, on the same cores), with the machine's speed at
the time (`machine_probe_ms`): on a shared machine the rate moves from day to day with the
neighbours, the CPU each message takes much less.

`--mix realistic` (Evolution) posts what a busy number really receives: 70% text, 20% photos
(a 200 KB JPEG carried in the webhook, as Evolution's `base64` option sends it: checked from
its bytes and written to storage before the POST is answered), 10% reactions, edits and
statuses about earlier messages. It reports what media costs beside text, and the text rate as
a ratio to the database's own commit rate (`pgbench -N`) measured in the same run.
"""

import base64
import json
import secrets
import socket
import statistics
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django.db.models import Count

from bench import pgbench
from bench.cluster import cpu_seconds, database_pids, machine_probe_ms, web_server
from bench.dispatch import peak_rss_mb
from conversa.accounts.models import Organization
from conversa.inbox.models import Attachment, Contact, ContactIdentity, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.cloud import signature
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent

APP_SECRET = "bench-app-secret"  # noqa: S105 (a throwaway number's)
# The webhook limit per number for the bench's own server only (settings.py reads it from the
# environment): far above any rate one machine reaches, so a run at 1,000+ messages a second
# is not refused with 429s. Production servers keep their configured limit.
UNTHROTTLED = {"WEBHOOK_RATE_LIMIT_NUMBER": "10000000/minute"}


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
        # The photos' files first (rows do not take their files with them), then children,
        # each in one DELETE, rather than one cascade over 80,000 rows.
        for attachment in Attachment.objects.filter(message__number=number).exclude(file=""):
            attachment.file.delete(save=False)
        for model in (ProviderEvent, Message, Conversation):
            model.objects.filter(number=number).delete()
        Contact.objects.filter(organization=org).delete()
        org.delete()
        vacuum_emptied()


# What a run writes and then deletes (contacts take their identities with them).
EMPTIED = (ProviderEvent, Message, Conversation, Contact, ContactIdentity, Attachment)


def vacuum_emptied() -> None:
    """VACUUM the tables a run emptied (PostgreSQL), as autovacuum would given time.

    Without it, runs pile dead rows up where autovacuum is off or behind (as on the test
    machines): measured after a day of runs, 285,000 dead rows a table made the planner's
    range probes walk them, and one lookup spent 11 ms planning; every later run measured that.
    """
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in EMPTIED:
            cursor.execute(f"VACUUM {quote(model._meta.db_table)}")


def customer_phone(n: int) -> str:
    """Customer n's own number: a São Paulo mobile (55 11 9 and eight digits, the first 6-9),
    valid as real senders' numbers are; an invalid one is read twice and costs twice as much
    to normalize."""
    return f"5511{960_000_000 + n}"


def evolution_body(n: int, now: int) -> dict:
    return {
        "event": "messages.upsert",
        "instance": "bench",
        "data": {
            "key": {
                "remoteJid": f"{customer_phone(n)}@s.whatsapp.net",
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
    phone = customer_phone(n)
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


# A 200 KB photo: JPEG's signature (what `filetype` reads), then incompressible bytes.
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + secrets.token_bytes(200 * 1024 - 13)
PHOTO_BASE64 = base64.b64encode(PHOTO).decode()


def evolution_envelope(event: str, data: dict) -> dict:
    return {"event": event, "instance": "bench", "data": data}


def mixed_body(n: int, now: int) -> tuple[str, dict]:
    """The n-th webhook of the realistic mix and what it is: text, media or event (a reaction,
    an edit or a status, each about the text sent ten posts earlier)."""
    slot = n % 10
    if slot < 7 or n < 10:
        return "text", evolution_body(n, now)
    jid = f"{customer_phone(n)}@s.whatsapp.net"
    if slot < 9:
        data = {
            "key": {"remoteJid": jid, "fromMe": False, "id": f"BENCH{n:012d}"},
            "pushName": f"Customer {n}",
            "message": {
                "imageMessage": {
                    "mimetype": "image/jpeg",
                    "fileLength": str(len(PHOTO)),
                    "caption": f"Photo {n}",
                },
                "base64": PHOTO_BASE64,
            },
            "messageType": "imageMessage",
            "messageTimestamp": now,
        }
        return "media", evolution_envelope("messages.upsert", data)
    earlier = n - 9  # slot 0: a text message of the same customer block
    target = {"remoteJid": f"{customer_phone(earlier)}@s.whatsapp.net", "fromMe": False}
    target["id"] = f"BENCH{earlier:012d}"
    flavour = (n // 10) % 3
    if flavour == 0:
        data = {
            "key": {**target, "id": f"BENCHR{n:011d}"},
            "message": {"reactionMessage": {"key": target, "text": "👍"}},
            "messageType": "reactionMessage",
            "messageTimestamp": now,
        }
        return "event", evolution_envelope("messages.upsert", data)
    if flavour == 1:
        edit = {
            "key": target,
            "type": "MESSAGE_EDIT",
            "editedMessage": {"conversation": f"Hello, this is message {earlier} (edited)"},
        }
        data = {
            "key": {**target, "id": f"BENCHE{n:011d}"},
            "message": {"protocolMessage": edit},
            "messageType": "protocolMessage",
            "messageTimestamp": now,
        }
        return "event", evolution_envelope("messages.upsert", data)
    data = {
        "keyId": f"BENCHOUT{n:09d}",
        "remoteJid": target["remoteJid"],
        "fromMe": True,
        "status": "DELIVERY_ACK",
    }
    return "event", evolution_envelope("messages.update", data)


def mixed_requests(number: Number, messages: int) -> tuple[list[tuple[bytes, dict]], dict]:
    now = int(time.time())
    requests, counts = [], {"text": 0, "media": 0, "event": 0}
    headers = {"Content-Type": "application/json", SECRET_HEADER: number.webhook_secret}
    for n in range(messages):
        what, body = mixed_body(n, now)
        counts[what] += 1
        requests.append((json.dumps(body).encode(), headers))
    return requests, counts


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


def send_all(port: int, path: str, requests: list, senders: int) -> tuple[list[float], int, int]:
    """POST every request from `senders` threads, each on its own keep-alive connection.
    Returns each request's latency in seconds, how many did not answer 200, and of those how
    many were throttled (429).

    Each request's bytes (request line, headers and body) are encoded before the clock starts,
    and an answer is read only as far as its status and Content-Length: the senders share the
    server's cores, and the stdlib client's header handling and parsing cost them 0.24 ms of
    CPU a message, which a provider's servers spend on their own machines."""
    encoded = [encode_post(port, path, raw, headers) for raw, headers in requests]
    latencies: list[float] = []
    failed = throttled = 0
    lock = threading.Lock()
    next_index = iter(range(len(encoded)))

    def sender() -> None:
        nonlocal failed, throttled
        mine, bad, slowed = [], 0, 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
            while True:
                with lock:
                    n = next(next_index, None)
                if n is None:
                    break
                started = time.perf_counter()
                sock.sendall(encoded[n])
                status = read_answer(reader)
                mine.append(time.perf_counter() - started)
                bad += status != 200
                slowed += status == 429
        with lock:
            latencies.extend(mine)
            failed += bad
            throttled += slowed

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failed, throttled


def encode_post(port: int, path: str, body: bytes, headers: dict) -> bytes:
    """One HTTP/1.1 POST as it goes on the wire, on a keep-alive connection."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_answer(reader) -> int:
    """The status of the next answer on the connection, its body read to the end."""
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status, length = int(status_line.split()[1]), 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    reader.read(length)
    return status


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's web processes under its supervisor)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid] + [p for child in children for p in process_tree(int(child))]


def used_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes in `after` used since `before` (all of it for one that
    started since)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def server_peak_mb(pid: int) -> float:
    """The largest peak resident memory among the server's processes."""
    return max(peak_rss_mb(p) for p in process_tree(pid))


def run(messages: int, senders: int, provider: str, processes: int = 1, mix: str = "text") -> dict:
    """One run: text only (every post a new customer's text), or the realistic mix, which is
    measured after a text-only run of the same size and pgbench, all in this one run."""
    if mix == "realistic":
        return run_mix(messages, senders, processes)
    return run_shape(messages, senders, provider, processes)


def run_mix(messages: int, senders: int, processes: int) -> dict:
    commits = pgbench.commit_rate()
    text = run_shape(messages, senders, "evolution", processes)
    mixed = run_shape(messages, senders, "evolution", processes, mixed=True)
    ratio = None
    if commits:
        ratio = round(text["messages_per_second"] / commits, 3)
    return {
        "benchmark": "ingest",
        "mix": "realistic",
        "database": connection.vendor,
        "pgbench_tps": commits,
        "text_messages_per_second": text["messages_per_second"],
        "text_ratio_to_pgbench": ratio,
        "text_latency_p99_ms": text["latency_p99_ms"],
        "mixed_messages_per_second": mixed["messages_per_second"],
        "mixed_posts_per_second": mixed["posts_per_second"],
        "mixed_latency_p99_ms": mixed["latency_p99_ms"],
        "media_stored": mixed["media_stored"],
        "media_stored_per_second": mixed["media_stored_per_second"],
        "media_cost": (
            round(text["messages_per_second"] / mixed["messages_per_second"], 2)
            if mixed["messages_per_second"]
            else None
        ),
        "lost": text["lost"] + mixed["lost"],
        "duplicates": text["duplicates"] + mixed["duplicates"],
        "events_applied": mixed["events_applied"],
        "server_peak_rss_mb": max(text["server_peak_rss_mb"], mixed["server_peak_rss_mb"]),
        "runs": {"text": text, "mixed": mixed},
        "note": (
            "text: one new customer's text per POST; mixed: 70% text, 20% 200 KB photos in the"
            " webhook, 10% reactions / edits / statuses; media_cost = text rate / mixed rate;"
            f" {processes} web process(es)"
        ),
    }


def run_shape(
    messages: int,
    senders: int,
    provider: str,
    processes: int = 1,
    mixed: bool = False,
    env: dict[str, str] | None = None,
) -> dict:
    """One run; `env` goes to the server (bench insights turns the Insights upkeep off). The
    bench's own server takes webhooks without the per-number limit's throttling
    (`UNTHROTTLED`): the run measures what ingest stores, not the abuse limit in front of it."""
    with (
        scratch_number(provider) as number,
        web_server("bench-ingest-serve", processes, **UNTHROTTLED, **(env or {})) as (
            process,
            port,
        ),
    ):
        counts = {"text": messages, "media": 0, "event": 0}
        if mixed:
            requests, counts = mixed_requests(number, messages)
        else:
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
        probe = machine_probe_ms()
        web = process_tree(process.pid)
        web_before, database_before = cpu_seconds(web), cpu_seconds(database_pids())
        started, senders_before = time.perf_counter(), time.process_time()
        latencies, failed, throttled = send_all(port, path, requests, senders)
        elapsed = time.perf_counter() - started
        senders_cpu = time.process_time() - senders_before
        web_cpu = used_since(web_before, cpu_seconds(web))
        # The server's pool may open its connections during the run: a backend that was not
        # there before used all of its time on it.
        database_cpu = used_since(database_before, cpu_seconds(database_pids()))
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
        expected = counts["text"] + counts["media"]
        media = Attachment.objects.filter(message__number=number)
        media_stored = media.filter(state=Attachment.State.STORED).count()
        changed = mine.exclude(reactions={}).count() + mine.exclude(edited_at=None).count()
        events_applied = (
            changed + ProviderEvent.objects.filter(number=number, kind="StatusUpdate").count()
        )
        return {
            "benchmark": "ingest",
            "mix": "realistic" if mixed else "text",
            "posts": messages,
            "posts_per_second": round(messages / elapsed, 1),
            "lost": expected - stored,
            "media_sent": counts["media"],
            "media_stored": media_stored,
            "media_stored_per_second": round(media_stored / elapsed, 1),
            "events_sent": counts["event"],
            "events_applied": events_applied,
            "database": connection.vendor,
            "provider": provider,
            "messages": expected,
            "senders": senders,
            "stored": stored,
            "all_stored": stored == expected,
            "failed_requests": failed,
            "throttled_requests": throttled,
            "duplicates": duplicates,
            "contacts": Contact.objects.filter(organization=number.organization).count(),
            "conversations": Conversation.objects.filter(number=number).count(),
            "seconds": round(elapsed, 3),
            "messages_per_second": round(stored / elapsed, 1),
            "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
            "server_peak_rss_mb": round(peak, 1),
            "web_cpu_ms_per_message": round(1000 * web_cpu / max(stored, 1), 2),
            "database_cpu_ms_per_message": round(1000 * database_cpu / max(stored, 1), 2),
            "senders_cpu_ms_per_message": round(1000 * senders_cpu / max(stored, 1), 2),
            "machine_probe_ms": probe,
            "note": f"one message per POST, each from a new customer; {processes} web process(es)",
        }
