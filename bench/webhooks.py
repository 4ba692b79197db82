"""`conversa bench webhooks`: outbound webhooks from the outbox to a local receiver, in one
process, on the configured database.

1. Setup: a throwaway organization (bench.dispatch.scratch_number), E endpoints that want
   `message.received`, all pointed at a receiver on 127.0.0.1 that answers 200 at once and
   notes when each (webhook-id, endpoint) arrived; the guard's loopback exception is turned on
   for the run, as for development.
2. Ingest cost: N customers' messages stored through the inbound path (each its own
   transaction, its deliveries written in it), timed, with no endpoint and with E endpoints.
3. Drain: those deliveries sent by the worker's pass (`sending.send_due`, WEBHOOK_CONCURRENCY
   at once) until none is pending: deliveries_per_second.
4. Latency: a sender thread runs the pass in a loop while P more messages are stored at about
   R a second; p50/p99 from the delivery row's creation (the change's commit) to its arrival.
Everything is deleted afterwards. Figures for E = 1 and E = 10; on PostgreSQL, `conversa bench
webhooks` adds the chaos run (bench/webhook_chaos.py).
"""

import http.server
import statistics
import threading
import time

from django.conf import settings
from django.db import connections
from django.utils import timezone

from bench.dispatch import scratch_number
from conversa.inbound import consequences as inbound
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from conversa.webhooks import sending, signing
from conversa.webhooks.models import Delivery, Endpoint


class Receiver:
    def __init__(self):
        self.arrived: dict[tuple[str, str], float] = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived[(self.headers["webhook-id"], self.path)] = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/e{n}"


def store(number, count: int, start: int) -> float:
    """Store `count` customers' messages; the seconds it took."""
    began = time.perf_counter()
    for i in range(start, start + count):
        inbound.receive_message(
            number,
            InboundMessage(
                provider_message_id=simulator.new_message_id(),
                phone=f"55119{i:08d}",
                name="Bench",
                kind="text",
                body=f"Pedido {i}: já saiu?",
            ),
        )
    return time.perf_counter() - began


def drain(org, deadline: float) -> int:
    sent = 0
    while time.monotonic() < deadline:
        done = sending.send_due("bench", 200)
        sent += done
        if not done and not Delivery.objects.filter(organization=org, status="pending").exists():
            break
    return sent


def one_run(endpoints: int, messages: int, paced: int, rate: float) -> dict:
    receiver = Receiver()
    with scratch_number() as (number, _twin):
        org = number.organization
        bare = store(number, messages, 0)
        ids = [
            Endpoint.objects.create(
                organization=org,
                url=receiver.url(n),
                event_types=["message.received"],
                secret=signing.new_secret(),
            ).pk
            for n in range(endpoints)
        ]
        Delivery.objects.filter(organization=org).delete()
        with_endpoints = store(number, messages, messages)
        began = time.perf_counter()
        sent = drain(org, time.monotonic() + 600)
        drained = time.perf_counter() - began
        receiver.arrived.clear()
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                if not sending.send_due("bench", 200):
                    time.sleep(0.01)
            connections.close_all()

        paced_from = timezone.now()
        sender = threading.Thread(target=loop)
        sender.start()
        for i in range(paced):
            store(number, 1, 2 * messages + i)
            time.sleep(1 / rate)
        drain(org, time.monotonic() + 120)
        stop.set()
        sender.join()
        paths = {pk: f"/e{n}" for n, pk in enumerate(ids)}
        made = {
            (event_id, paths[endpoint_id]): at.timestamp()
            for event_id, endpoint_id, at in Delivery.objects.filter(
                organization=org, created_at__gte=paced_from
            ).values_list("event_id", "endpoint_id", "created_at")
        }
        waits = sorted(
            (receiver.arrived[key] - at) * 1000
            for key, at in made.items()
            if key in receiver.arrived
        )
        Delivery.objects.filter(organization=org).delete()
        Endpoint.objects.filter(organization=org).delete()
    receiver.server.shutdown()
    return {
        "endpoints": endpoints,
        "deliveries": sent,
        "deliveries_per_second": round(sent / drained, 1),
        "ingest_ms_per_message_without_endpoints": round(bare * 1000 / messages, 2),
        "ingest_ms_per_message_with_endpoints": round(with_endpoints * 1000 / messages, 2),
        "paced_messages": paced,
        "paced_delivered": len(waits),
        "p50_ms": round(statistics.median(waits), 1) if waits else None,
        "p99_ms": round(waits[max(0, int(len(waits) * 0.99) - 1)], 1) if waits else None,
    }


def run(messages: int = 500, paced: int = 200, rate: float = 50.0) -> dict:
    allowed = settings.ALLOW_PRIVATE_PROVIDER_URLS
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True  # the receiver is on the loopback
    try:
        runs = [one_run(e, messages, paced, rate) for e in (1, 10)]
    finally:
        settings.ALLOW_PRIVATE_PROVIDER_URLS = allowed
    return {
        "database": connections["default"].vendor,
        "concurrency": settings.WEBHOOK_CONCURRENCY,
        "messages": messages,
        "runs": runs,
    }
