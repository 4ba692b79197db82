"""Sending the outbox: the worker's pass claims due deliveries and posts each to its endpoint.

1. Claim: PostgreSQL takes a batch with `FOR UPDATE SKIP LOCKED`, so several workers take
   disjoint batches; SQLite claims each row with a conditional UPDATE (0 rows: another worker
   got it). A claim is a lease: a worker that dies mid-send leaves a delivery that is sent again
   once the lease ends (at least once; the `webhook-id` is the same, so receivers deduplicate).
2. Order: a delivery is not claimable while an earlier one of the same conversation to the same
   endpoint is still pending, so one conversation's events arrive in order.
3. Send: signed (signing.py), through the provider calls' guarded transport (no private,
   loopback or metadata address outside development, the address pinned, no redirects), a
   timeout of a few seconds, at most WEBHOOK_RESPONSE_LIMIT bytes of the answer read.
4. Outcome (outcome.py): 2xx delivered; 410 disables the endpoint; anything else is retried
   with exponential backoff and jitter for up to three days.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from conversa.providers.http import guarded_transport
from conversa.providers.outbound import UnsafeAddress
from conversa.webhooks import outcome, signing
from conversa.webhooks.models import Delivery

log = logging.getLogger(__name__)
P = Delivery.Status

# One pooled client per process; redirects are never followed (a hop is a new, unchecked URL),
# and no proxy from the environment (the guard would judge the proxy's address instead).
client = httpx.Client(transport=guarded_transport(), trust_env=False, follow_redirects=False)
EXCERPT = 1024


def claimable(now):
    earlier = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        conversation_id=OuterRef("conversation_id"),
        status=P.PENDING,
        pk__lt=OuterRef("pk"),
    )
    return (
        Delivery.objects.filter(status=P.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .exclude(Exists(earlier))
    )


def claim_due(worker_id: str, limit: int, now=None) -> list[int]:
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    claim = {"lease_until": lease, "worker_id": worker_id}
    due = claimable(now).order_by("next_attempt_at", "id")
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)[
                    :limit
                ]
            )
            Delivery.objects.filter(id__in=ids).update(**claim)
        return ids
    claimed = []
    for pk, held in list(due.values_list("id", "lease_until")[:limit]):
        if Delivery.objects.filter(pk=pk, status=P.PENDING, lease_until=held).update(**claim):
            claimed.append(pk)
    return claimed


pool: ThreadPoolExecutor | None = None


def send_due(worker_id: str, limit: int | None = None, concurrency: int | None = None) -> int:
    """One pass: claim up to `limit` due deliveries and send them, `concurrency` at once.
    Returns how many were attempted."""
    global pool
    ids = claim_due(worker_id, limit or settings.WEBHOOK_BATCH)
    concurrency = concurrency or settings.WEBHOOK_CONCURRENCY
    if concurrency <= 1 or len(ids) <= 1:
        for pk in ids:
            attempt(pk, worker_id)
        return len(ids)
    if pool is None:
        pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhooks")
    list(pool.map(lambda pk: in_thread(pk, worker_id), ids))
    return len(ids)


def in_thread(pk: int, worker_id: str) -> None:
    try:
        attempt(pk, worker_id)
    except Exception:
        log.exception("webhook delivery %s crashed; it is sent again when its lease ends", pk)
    finally:
        # The pool's threads open their own connections: none outlives its task.
        connections.close_all()


def attempt(pk: int, worker_id: str) -> None:
    """Send delivery `pk` once and record what came of it."""
    delivery = Delivery.objects.select_related("endpoint").filter(pk=pk).first()
    if delivery is None:
        return  # its endpoint was deleted since the claim: nothing to send it to
    endpoint = delivery.endpoint
    body = delivery.body.encode()
    headers = signing.headers(endpoint.secrets(), delivery.event_id, int(time.time()), body)
    headers["content-type"] = "application/json"
    headers["user-agent"] = "Conversa-Webhooks/1"
    started = timezone.now()
    clock = time.monotonic()
    status, text, error, retry_after = post(endpoint.url, body, headers)
    latency = int((time.monotonic() - clock) * 1000)
    outcome.record(
        delivery,
        worker_id=worker_id,
        started=started,
        status=status,
        latency_ms=latency,
        response=text,
        error=error,
        retry_after=retry_after,
    )


def post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str, float | None]:
    """(status or None, the answer's first KB, why there was no answer, Retry-After seconds)."""
    try:
        with client.stream(
            "POST", url, content=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= settings.WEBHOOK_RESPONSE_LIMIT:
                    break  # the rest is not read: an endless answer cannot fill the memory
            text = b"".join(chunks)[:EXCERPT].decode("utf-8", "replace")
            value = response.headers.get("retry-after", "")
            retry_after = float(value) if value.isdigit() else None
            return response.status_code, text, "", retry_after
    except httpx.TimeoutException:
        return None, "", "timed out", None
    except httpx.TransportError as exc:
        if isinstance(exc.__cause__, UnsafeAddress):
            return None, "", "refused: a private or reserved address", None
        return None, "", f"could not connect: {type(exc).__name__}", None
