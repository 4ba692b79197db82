"""The webhooks' chaos run: every event delivered at least once, in order per conversation,
none lost, while workers are killed and the receiver misbehaves. `conversa bench webhooks`
prints it; tests/integration/test_webhook_chaos.py runs a small one.

1. A throwaway organization (bench.dispatch.scratch_number) with one endpoint that wants
   `message.received`, pointed at a receiver on 127.0.0.1 (`ChaosReceiver`): it checks every
   request's signature with the `standardwebhooks` library, as a customer's system would,
   answers 500 to 20% of requests and holds 5% past the workers' timeout (those it holds are
   not taken: the sender gave up on them).
2. `events` customers' messages over `conversations` conversations, stored through the inbound
   path: each writes its delivery in the message's own transaction (the outbox).
3. W `conversa worker` processes send them, with short timeouts, leases and retry waits; the
   oldest is killed with SIGKILL once it has claimed deliveries, at most every `kill_every`
   seconds (`max_kills` times at most), and replaced, until none is pending.
Figures: events, attempts (requests the receiver saw; cut_off of them ended mid-body when
their worker was killed), duplicates_seen (a webhook-id taken
again: a worker died between the answer and recording it), lost (events never taken: 0),
out_of_order (conversations whose events were first taken out of order: 0),
signatures_verified and signatures_failed (0).
"""

import http.server
import random
import sys
import threading
import time
from collections import defaultdict

from django.db import connection
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.cluster import Cluster
from bench.dispatch import scratch_number
from bench.webhooks import store
from conversa.webhooks import signing
from conversa.webhooks.models import Delivery, Endpoint

TIMEOUT_SECONDS = 0.5
FAULTS = {"failure_rate": 0.20, "timeout_rate": 0.05}
WORKER_ENV = {
    "ALLOW_PRIVATE_PROVIDER_URLS": "1",  # the receiver is on the loopback
    "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    "WEBHOOK_LEASE_SECONDS": "2",
    "WEBHOOK_FIRST_RETRY_SECONDS": "0.1",
    "WEBHOOK_BATCH": "5",
}


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A killed worker's connection resets mid-request: expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ChaosReceiver:
    """A customer's receiver that fails some requests and keeps, in arrival order, the
    webhook-ids of those it took (answered 2xx in time, signature verified)."""

    def __init__(self, secret: str, seed: int = 7):
        self.verifier = Webhook(secret)
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.attempts = 0
        self.verified = 0
        self.failed_signatures = 0
        self.cut_off = 0
        self.taken: list[str] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                size = int(self.headers.get("Content-Length", "0"))
                try:
                    body = self.rfile.read(size)
                except ConnectionError:
                    body = b""
                if len(body) < size:  # its sender was killed mid-request: nothing to answer
                    with receiver.lock:
                        receiver.attempts += 1
                        receiver.cut_off += 1
                    return
                receiver.answer(self, body)

            def log_message(self, *args):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def answer(self, handler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            self.verifier.verify(body, headers)
            good = True
        except WebhookVerificationError:
            good = False
        with self.lock:
            self.attempts += 1
            self.verified += good
            self.failed_signatures += not good
            draw = self.random.random()
        if not good:
            status = 401
        elif draw < FAULTS["timeout_rate"]:
            time.sleep(TIMEOUT_SECONDS * 3)  # the sender has given up by then
            status = 200
        elif draw < FAULTS["timeout_rate"] + FAULTS["failure_rate"]:
            status = 500
        else:
            status = 200
            with self.lock:
                self.taken.append(headers["webhook-id"])
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(
    events: int = 1000,
    conversations: int = 50,
    workers: int = 3,
    kill_every: float = 1.0,
    max_kills: int | None = None,
    timeout: float = 900,
) -> dict:
    with scratch_number() as (number, _twin):
        org = number.organization
        secret = signing.new_secret()
        receiver = ChaosReceiver(secret)
        Endpoint.objects.create(
            organization=org, url=receiver.url, event_types=["message.received"], secret=secret
        )
        for i in range(events):
            store(number, 1, i % conversations)  # conversation i % C: its customer writes
        cluster = Cluster(**WORKER_ENV)
        try:
            started = time.perf_counter()
            running = [cluster.worker() for _ in range(workers)]
            mine = Delivery.objects.filter(organization=org)
            pending = mine.filter(status=Delivery.Status.PENDING)
            kills, last_kill = 0, time.perf_counter()
            while pending.exists() and time.perf_counter() - started < timeout:
                time.sleep(0.1)
                # Killed mid-work, however long a loaded machine takes to start a worker (a
                # worker's id names its process).
                taken = mine.filter(worker_id__contains=f":{running[0].pid}:").exists()
                killing = max_kills is None or kills < max_kills
                if killing and taken and time.perf_counter() - last_kill >= kill_every:
                    cluster.kill_oldest(running)
                    kills += 1
                    last_kill = time.perf_counter()
            seconds = time.perf_counter() - started
        finally:
            cluster.stop()
            receiver.stop()
        made = list(
            Delivery.objects.filter(organization=org)
            .order_by("pk")
            .values_list("event_id", "conversation_id", "status")
        )
        figures = tally(made, receiver.taken)
        Delivery.objects.filter(organization=org).delete()
        Endpoint.objects.filter(organization=org).delete()
    return {
        "benchmark": "webhooks_chaos",
        "database": connection.vendor,
        "faults": FAULTS,
        "workers": workers,
        "workers_killed": kills,
        "seconds": round(seconds, 1),
        "attempts": receiver.attempts,
        **figures,
        "cut_off": receiver.cut_off,
        "signatures_verified": receiver.verified,
        "signatures_failed": receiver.failed_signatures,
    }


def tally(made: list[tuple[str, int, str]], taken: list[str]) -> dict:
    """Held against the outbox (event id, conversation id, status, in the order the changes
    were made) what the receiver took, in the order it took them."""
    first_taken: dict[str, int] = {}
    for position, event_id in enumerate(taken):
        first_taken.setdefault(event_id, position)
    by_conversation: dict[int, list[str]] = defaultdict(list)
    for event_id, conversation_id, _ in made:
        by_conversation[conversation_id].append(event_id)
    out_of_order = sum(
        1
        for event_ids in by_conversation.values()
        if [e for e in sorted(event_ids, key=lambda e: first_taken.get(e, -1)) if e in first_taken]
        != [e for e in event_ids if e in first_taken]
    )
    return {
        "events": len(made),
        "delivered": sum(1 for *_, status in made if status == Delivery.Status.DELIVERED),
        "duplicates_seen": len(taken) - len(first_taken),
        "lost": sum(1 for event_id, *_ in made if event_id not in first_taken),
        "out_of_order": out_of_order,
        "taken_but_not_sent": len(set(first_taken) - {event_id for event_id, *_ in made}),
    }
