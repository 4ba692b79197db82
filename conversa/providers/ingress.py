"""The webhook front door at the ASGI level: POST /webhooks/<provider>/<key> answered without
Django's request cycle.

Webhooks are the hottest path (strangers' servers post at whatever rate their customers
write) and need nothing of the middleware stack: no session, cookie, CSRF token, locale or
template. Measured on `conversa bench ingest`, Django's handler and the sync/async hops of its
middleware took more of the process than storing the message. Here the body is read on the
event loop and handed to one worker thread, which runs the same `answer_webhook` as the Django
view (what the test client and WSGI reach). Host validation is skipped on purpose: it guards
cookie-bearing browsers, and a webhook proves itself with its signature or secret.
"""

import json
import logging
import re
import threading

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils.datastructures import CaseInsensitiveMapping

from conversa.providers import services
from conversa.providers.views import answer_webhook

log = logging.getLogger(__name__)

WEBHOOK = re.compile(r"/webhooks/(?P<provider>[^/]+)/(?P<key>[^/]+)")


def handles(scope: dict) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and WEBHOOK.fullmatch(scope["path"]) is not None
    )


async def webhook_app(scope: dict, receive, send) -> None:
    match = WEBHOOK.fullmatch(scope["path"])
    body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if body is None:
        status, answer = 413, {"error": "too_large", "detail": "The body is too large"}
    else:
        headers = CaseInsensitiveMapping(
            {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        )
        status, answer = await answer_in_thread(match["provider"], match["key"], headers, body)
    payload = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


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


class Turn:
    def __init__(self, items: list):
        self.items = items
        self.ready = threading.Event()
        self.promoted = False
        self.stored: list[bool] = []
        self.error: Exception | None = None


class GroupCommit:
    """Webhooks that arrive together are stored together: one transaction (and one batch of
    statements) for all of them instead of one each.

    The first caller leads: it applies everything waiting, hands each caller its own result,
    then passes the lead to the next caller waiting, if any. A lone webhook is applied at once
    by its own thread, so nothing waits for company. Every caller returns only after its
    events are committed, as if it had applied them alone.
    """

    MAX_TURNS = 64

    def __init__(self, apply):
        self.apply = apply
        self.lock = threading.Lock()
        self.waiting: list[Turn] = []
        self.leading = False

    def __call__(self, items: list) -> list[bool]:
        turn = Turn(items)
        with self.lock:
            self.waiting.append(turn)
            lead = not self.leading
            self.leading = True
        if not lead:
            turn.ready.wait()
        if lead or turn.promoted:
            self.lead()
        if turn.error is not None:
            raise turn.error
        return turn.stored

    def lead(self) -> None:
        with self.lock:
            batch = self.waiting[: self.MAX_TURNS]
            del self.waiting[: self.MAX_TURNS]
        try:
            stored = self.apply([item for turn in batch for item in turn.items])
        except Exception:
            # Shared, one webhook's failure would be everyone's: apply each alone instead.
            for turn in batch:
                try:
                    turn.stored = self.apply(turn.items)
                except Exception as exc:
                    turn.error = exc
        else:
            for turn in batch:
                turn.stored, stored = stored[: len(turn.items)], stored[len(turn.items) :]
        with self.lock:
            following = self.waiting[0] if self.waiting else None
            if following:
                following.promoted = True
            else:
                self.leading = False
        for turn in batch:
            turn.ready.set()
        if following:
            following.ready.set()


shared_commit = GroupCommit(services.apply_events)


def answer(provider: str, key: str, headers, body: bytes) -> tuple[int, dict]:
    try:
        return answer_webhook(provider, key, headers, body, apply=shared_commit)
    except Exception:
        log.exception("webhook to %s failed", provider)
        return 500, {"error": "server_error", "detail": "The webhook could not be stored"}
    finally:
        # Outside Django's request cycle nothing else hands the connection back to the pool.
        connection.close()


answer_in_thread = sync_to_async(answer, thread_sensitive=False)
