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

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils.datastructures import CaseInsensitiveMapping

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


def answer(provider: str, key: str, headers, body: bytes) -> tuple[int, dict]:
    try:
        return answer_webhook(provider, key, headers, body)
    except Exception:
        log.exception("webhook to %s failed", provider)
        return 500, {"error": "server_error", "detail": "The webhook could not be stored"}
    finally:
        # Outside Django's request cycle nothing else hands the connection back to the pool.
        connection.close()


answer_in_thread = sync_to_async(answer, thread_sensitive=False)
