"""The webhook front door at the ASGI level: POST /webhooks/<provider>/<key> answered without
Django's request cycle.

Webhooks are the hottest path (strangers' servers post at whatever rate their customers
write) and need nothing of the middleware stack: no session, cookie, CSRF token, locale or
template. Measured on `conversa bench ingest`, Django's handler and the sync/async hops of its
middleware took more of the process than storing the message, and so did a thread hop per
request. Here a webhook is read, verified and parsed on the event loop (its number comes from a
short-lived cache), and only storing leaves the loop: one writer thread per process applies
everything that has arrived in one transaction (`GroupCommit`). The answers are the Django
view's (`answer_webhook`, what the test client and WSGI reach). Host validation is skipped on
purpose: it guards cookie-bearing browsers, and a webhook proves itself with its signature or
secret.
"""

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils.datastructures import CaseInsensitiveMapping

from conversa import logs, request_metrics
from conversa.inbound import metrics, services
from conversa.inbound.unparsed import unparsed_item
from conversa.inbound.webhooks import find_number, stored_answer, verified
from conversa.numbers.models import Number

log = structlog.get_logger(__name__)

WEBHOOK = re.compile(r"/webhooks/(?P<provider>[^/]+)/(?P<key>[^/]+)")


def handles(scope: dict) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and WEBHOOK.fullmatch(scope["path"]) is not None
    )


async def webhook_app(scope: dict, receive, send) -> None:
    started = time.perf_counter()
    match = WEBHOOK.fullmatch(scope["path"])
    headers = CaseInsensitiveMapping(
        {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    )
    # This request's task has its own context: what is bound here is this webhook's alone.
    request_id = logs.request_id_from(headers.get("X-Request-ID"))
    structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=request_id)
    body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if body is None:
        status, reply = 413, {"error": "too_large", "detail": "The body is too large"}
    else:
        status, reply = await answer(match["provider"], match["key"], headers, body)
    payload = json.dumps(reply).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if "retry_after" in reply:
        headers.append((b"retry-after", str(reply["retry_after"]).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    elapsed = request_metrics.elapsed(started)
    request_metrics.observe("webhook", "POST", status, elapsed)
    log.info(
        "request.finished",
        method="POST",
        route="webhook",
        provider=match["provider"],
        status=status,
        duration_ms=round(elapsed * 1000, 1),
    )


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


class NumberCache:
    """Webhook address → its number, each read from the database at most every few seconds.

    Every webhook needs its number before anything else (its secret, its organization), and
    reading it was a query per POST. A number's secret or removal therefore reaches the front
    door up to `SECONDS` late; both providers retry what is refused meanwhile. Unknown
    addresses are not remembered, so a number added a moment ago is found at once.
    """

    SECONDS = 5.0

    def __init__(self):
        self.numbers: dict[tuple[str, str], tuple[float, Number]] = {}
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-numbers")
        self.read = sync_to_async(read_number, thread_sensitive=False, executor=reader)

    async def get(self, provider: str, key: str) -> Number | None:
        now = time.monotonic()
        cached = self.numbers.get((provider, key))
        if cached and cached[0] > now:
            return cached[1]
        number = await self.read(provider, key)
        if number is not None:
            if len(self.numbers) > 10_000:
                self.numbers.clear()
            self.numbers[(provider, key)] = (now + self.SECONDS, number)
        return number


def read_number(provider: str, key: str) -> Number | None:
    try:
        return find_number(provider, key)
    finally:
        connection.close()


class GroupCommit:
    """Webhooks that arrive together are stored together: one transaction (and one batch of
    statements) for all of them instead of one each.

    One writer thread per process applies what is waiting; whatever arrives meanwhile waits for
    the next turn, so a lone webhook is applied at once and a burst is applied in a few large
    batches. Every caller returns only after its own events are committed, as if it had
    applied them alone; if a shared batch fails, each webhook of it is applied alone, so one
    bad webhook fails no other.
    """

    MAX_EVENTS = 256

    def __init__(self, apply):
        self.apply = apply
        self.waiting: list[tuple[list, asyncio.Future]] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-writer")
        self.draining: asyncio.Task | None = None
        # Through asgiref, so the realtime publisher's async_to_sync in the writer lands back on
        # this loop, where the in-memory channel layer of the embedded topology lives.
        self.write = sync_to_async(self.apply_turns, thread_sensitive=False, executor=self.writer)

    async def __call__(self, items: list) -> list:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((items, future))
        if self.draining is None:
            self.draining = asyncio.create_task(self.drain())
        return await future

    async def drain(self) -> None:
        try:
            while self.waiting:
                turns, size = [], 0
                while self.waiting and (
                    not turns or size + len(self.waiting[0][0]) <= self.MAX_EVENTS
                ):
                    turns.append(self.waiting.pop(0))
                    size += len(turns[-1][0])
                outcomes = await self.write([items for items, _ in turns])
                for (_, future), outcome in zip(turns, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.draining = None

    def apply_turns(self, turns: list[list]) -> list:
        """Each turn's results (or the exception that failed it), applied together if they can."""
        # Run in the context of whichever webhook started the draining: its request id would
        # be on every webhook's lines, and on the intents their consequences make.
        structlog.contextvars.clear_contextvars()
        try:
            stored = self.apply([item for items in turns for item in items])
        except Exception:
            outcomes = []
            for items in turns:
                try:
                    outcomes.append(self.apply(items))
                except Exception as exc:
                    outcomes.append(exc)
            return outcomes
        outcomes = []
        for items in turns:
            outcomes.append(stored[: len(items)])
            stored = stored[len(items) :]
        return outcomes


def apply_and_release(batch: list) -> list[bool]:
    try:
        return services.apply_events(batch)
    finally:
        # Outside Django's request cycle nothing else hands the connection back to the pool.
        connection.close()


numbers = NumberCache()
shared_commit = GroupCommit(apply_and_release)


async def answer(provider: str, key: str, headers, body: bytes) -> tuple[int, dict]:
    """What a webhook POST gets, as `views.answer_webhook` answers it."""
    try:
        number = await numbers.get(provider, key)
        refusal, parsed = verified(number, headers, body)
        if refusal:
            return refusal
        batch = [(number, item) for item in parsed]
        try:
            stored = await shared_commit(batch) if batch else []
        except Exception as exc:
            # Verified but not storable as parsed (a value the database refuses, an apply
            # bug): the body is kept as one Unparsed event rather than refused.
            stored = await shared_commit(
                [(number, unparsed_item(body, f"could not be stored: {type(exc).__name__}"))]
            )
            log.error("a %s webhook could not be applied (%s): kept unparsed", provider, exc)
        else:
            metrics.observe_lag(number.provider, parsed, stored)
        return stored_answer(stored)
    except Exception:
        log.exception("webhook to %s failed", provider)
        return 500, {"error": "server_error", "detail": "The webhook could not be stored"}
