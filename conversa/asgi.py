"""ASGI entry point: webhook POSTs through their own front door (`inbound.front_door`), the rest
of HTTP through Django, WebSockets through Channels, and a lifespan that runs the in-process
worker beside the web app when `conversa serve` asks for it."""

import asyncio
import gc
import itertools
import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")

import django  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402


class ReleasingASGIHandler(ASGIHandler):
    """Django's ASGI handler, except that the task that waits for the client to go away ends
    quietly instead of raising RequestAborted.

    Django 5.2's `handle` treats both the same: whichever of that task and the request's
    finishes first, the other is cancelled, and the exception is caught and dropped. But the
    dropped exception's traceback holds `handle`'s frame, which holds the task, which holds
    the exception: the request and everything it loaded (rows, model numbers) become a
    reference cycle only a full garbage collection frees. With a request every few ms those
    collections ran every few seconds and took 60–270 ms each, the slowest requests of
    `bench inbox` (Django ticket #36700). `tests/test_asgi.py` checks no request leaves a
    cycle behind, so a Django upgrade that changes `handle` shows up there."""

    async def listen_for_disconnect(self, receive):
        message = await receive()
        if message["type"] != "http.disconnect":
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


django.setup(set_prefix=False)
django_asgi = ReleasingASGIHandler()

from conversa.checks import refuse_to_start_insecure  # noqa: E402

# `conversa serve` ran the system checks already; a server importing this module directly
# (uvicorn conversa.asgi:application) did not, and must refuse the same insecure settings.
refuse_to_start_insecure()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from conversa.engine import wakeup  # noqa: E402
from conversa.engine.worker import Worker  # noqa: E402
from conversa.inbound import front_door  # noqa: E402
from conversa.realtime.origin import SameOriginValidator  # noqa: E402
from conversa.realtime.routing import websocket_urlpatterns  # noqa: E402

log = logging.getLogger(__name__)

router = ProtocolTypeRouter(
    {
        "http": django_asgi,
        # Scheme, host and port of the Origin must be the socket's own (realtime/origin.py).
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


async def run_worker(worker: Worker) -> None:
    # Each pass runs in a worker thread spawned from this loop, so the realtime publisher's
    # async_to_sync lands back on this loop, where the in-memory channel layer lives.
    run_once = sync_to_async(worker.run_once, thread_sensitive=False)
    wait = sync_to_async(wakeup.wait, thread_sensitive=False)
    while not worker.stopping.is_set():
        try:
            if await run_once() == 0:
                await wait(settings.WORKER_POLL_SECONDS)
        except Exception:
            log.exception("in-process worker pass failed")
            await asyncio.sleep(settings.WORKER_POLL_SECONDS)
    await sync_to_async(worker.close, thread_sensitive=False)()


# What stays loaded for the process's life (Django, the apps, and what the first requests load
# lazily: URL maps, schemas, templates) is set aside from the garbage collector, at startup and
# again after this many requests: a full collection otherwise walks those ~100,000 objects
# (60–130 ms), and requests' short-lived cycles (a DatabaseWrapper per request, the request
# and its lazy user) set one off every few seconds.
SETTLED_AFTER = 200
served = itertools.count(1)


def settle() -> None:
    gc.collect()
    gc.freeze()


async def lifespan(receive, send) -> None:
    worker = Worker(batch_size=16, concurrency=4) if settings.INPROCESS_WORKER else None
    task = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            settle()
            if worker:
                task = asyncio.create_task(run_worker(worker))
                log.info("in-process worker %s started", worker.worker_id)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if worker and task:
                worker.stop()
                await task
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif front_door.handles(scope):
        await front_door.webhook_app(scope, receive, send)
    else:
        await router(scope, receive, send)
    if scope["type"] == "http" and next(served) == SETTLED_AFTER:
        settle()
