"""The one realtime publisher.

Events are the typed ones of `conversa.realtime.events`, checked where they are made. They are
sent after the surrounding transaction commits, so a socket never hears of a row it cannot read
yet, nor of one that was rolled back.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conversa.realtime import events

log = logging.getLogger(__name__)

# Who else hears of every organization event, synchronously and inside the transaction that
# made it: outbound webhooks write their deliveries there, so a delivery exists exactly when
# the change does (never "after commit, best effort"). Each takes (org_id, event); apps above
# this layer add themselves in their AppConfig.ready().
subscribers: list = []

# What subscribers read to decide, read once per batch of changes (`batch`) rather than once per
# event: a webhook's batch publishes several events of one organization, and nothing in it
# changes what they read (an organization's webhook endpoints).
_batch: ContextVar[dict | None] = ContextVar("publisher_batch", default=None)
# The sends of a batch's committed events, made together when the batch ends.
_held: ContextVar[list | None] = ContextVar("publisher_held", default=None)


@contextmanager
def batch() -> Iterator[None]:
    """A batch of changes: inside it, `remembered` reads each key once, and the events its
    transaction commits go to the sockets together as it ends (enter it outside the
    transaction). A webhook batch's writer thread sends several events, and each send is a
    hop to the event loop and back (measured at 3% of the webhook front door's CPU)."""
    token, held = _batch.set({}), _held.set([])
    try:
        yield
    finally:
        sends = _held.get()
        _held.reset(held)
        _batch.reset(token)
        if sends:
            _deliver(sends)


def remembered(key: tuple, read: Callable[[], Any]) -> Any:
    """`read()`, once per key inside a `batch` (each time outside one)."""
    memo = _batch.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def org_group(org_id: int) -> str:
    return f"org.{org_id}"


def member_group(member_id: int) -> str:
    """The sockets of one member (all their tabs, on any process): their notifications."""
    return f"member.{member_id}"


def publish(org_id: int, event: events.Event) -> None:
    """Send `event` to every socket of the organization once the transaction commits.

    One event for a batch: a batch and a single object have the same shape (plural id lists).
    """
    if not isinstance(event, events.Event):
        raise TypeError(f"publish takes one realtime event, not {event!r}")
    payload = event.payload()
    for subscriber in subscribers:
        subscriber(org_id, event)
    transaction.on_commit(lambda: _send(org_id, payload))


def publish_to_member(member_id: int, event: events.Event) -> None:
    """Send `event` to one member's own sockets only, once the transaction commits: what is
    theirs alone (a notification) never reaches a colleague or another organization."""
    if not isinstance(event, events.Event):
        raise TypeError(f"publish takes one realtime event, not {event!r}")
    payload = event.payload()
    transaction.on_commit(lambda: _send_to(member_group(member_id), payload))


def _send(org_id: int, payload: dict) -> None:
    _send_to(org_group(org_id), payload)


def _send_to(group: str, payload: dict) -> None:
    held = _held.get()
    if held is None:
        _deliver([(group, payload)])
    else:
        held.append((group, payload))


def _deliver(sends: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_group_send)(layer, sends)
    except Exception:
        # A realtime hiccup must never undo or fail the committed change: pages also re-fetch.
        log.exception("realtime publish failed for %s", [payload["type"] for _, payload in sends])


async def _group_send(layer, sends: list[tuple[str, dict]]) -> None:
    for group, payload in sends:
        await layer.group_send(group, {"type": "conversa.event", "event": payload})
