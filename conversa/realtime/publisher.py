"""The one realtime publisher.

Events are small dictionaries with a type and ids only (no message text, no phone numbers):
pages re-fetch what changed. They are sent after the surrounding transaction commits, so a
socket never hears of a row it cannot read yet, nor of one that was rolled back.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

MESSAGE_RECEIVED = "MESSAGE_RECEIVED"
MESSAGE_SENT = "MESSAGE_SENT"
MESSAGE_STATUS_UPDATED = "MESSAGE_STATUS_UPDATED"
CONVERSATION_UPDATED = "CONVERSATION_UPDATED"
CONVERSATION_ASSIGNED = "CONVERSATION_ASSIGNED"
OPERATOR_STATUS = "OPERATOR_STATUS"
# A contact's own data changed (its tags): its panel re-fetches.
CONTACT_UPDATED = "CONTACT_UPDATED"
INSTANCE_UPDATED = "INSTANCE_UPDATED"
INTENT_UPDATED = "INTENT_UPDATED"
# A lead was created, changed or moved; its follow-ups were scheduled or cancelled.
LEAD_UPDATED = "LEAD_UPDATED"
FOLLOWUPS_UPDATED = "FOLLOWUPS_UPDATED"


def org_group(org_id: int) -> str:
    return f"org.{org_id}"


def publish(org_id: int, event_type: str, **ids: int | list[int]) -> None:
    """Send `{type, **ids}` to every socket of the organization once the transaction commits.

    A batch names its objects in plural keys (`message_ids`, `conversation_ids`, `intent_ids`):
    one event for the batch instead of one per row.
    """
    payload = {"type": event_type, **ids}
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


def publish_batch(org_id: int, event_type: str, **id_lists: list[int]) -> None:
    """One event for a batch (`message_ids=[…]`); a batch of one keeps the singular keys
    (`message_id=…`), as if it had been published on its own."""
    if all(len(ids) == 1 for ids in id_lists.values()):
        publish(
            org_id, event_type, **{name.removesuffix("s"): ids[0] for name, ids in id_lists.items()}
        )
    else:
        publish(org_id, event_type, **id_lists)
