"""The one realtime publisher.

Events are the typed ones of `conversa.realtime.events`, checked where they are made. They are
sent after the surrounding transaction commits, so a socket never hears of a row it cannot read
yet, nor of one that was rolled back.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conversa.realtime import events

log = logging.getLogger(__name__)


def org_group(org_id: int) -> str:
    return f"org.{org_id}"


def publish(org_id: int, event: events.Event | str, **legacy_ids: int | list[int]) -> None:
    """Send `event` to every socket of the organization once the transaction commits.

    One event for a batch: a batch and a single object have the same shape (plural id lists).
    """
    if isinstance(event, str):
        event = legacy_event(event, legacy_ids)
    elif legacy_ids or not isinstance(event, events.Event):
        raise TypeError(f"publish takes one realtime event, not {event!r} and {legacy_ids}")
    payload = event.payload()
    transaction.on_commit(lambda: _send(org_id, payload))


def _send(org_id: int, payload: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            org_group(org_id), {"type": "conversa.event", "event": payload}
        )
    except Exception:
        # A realtime hiccup must never undo or fail the committed change: pages also re-fetch.
        log.exception("realtime publish failed for %s", payload["type"])


# Until conversa/inbox/services.py (and `inbox.publish_messages`' caller in conversa/inbound.py)
# publishes typed events: its calls as they were, a type's name with singular or plural keys,
# each made the event's plural list and checked like any event. Delete this block, and the `str`
# case of `publish`, once it does.
MESSAGE_RECEIVED = events.MessageReceived.type
MESSAGE_SENT = events.MessageSent.type
MESSAGE_STATUS_UPDATED = events.MessageStatusUpdated.type
CONVERSATION_UPDATED = events.ConversationUpdated.type


def legacy_event(event_type: str, ids: dict[str, int | list[int]]) -> events.Event:
    lists = {}
    for name, value in ids.items():
        lists[f"{name.removesuffix('_ids').removesuffix('_id')}_ids"] = (
            value if isinstance(value, list) else [value]
        )
    return events.CATALOGUE[event_type](**lists)


def publish_batch(org_id: int, event_type: str, **id_lists: list[int]) -> None:
    publish(org_id, event_type, **id_lists)
