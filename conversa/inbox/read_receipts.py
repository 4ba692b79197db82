"""Blue ticks for the customer when an agent opens a conversation (the organization's
`send_read_receipts`).

Best effort and never in the page's way: a read receipt is not a message, so it does not go
through the engine; the provider is called on a small pool of threads once the request's
transaction has committed, with everything the call needs read beforehand (the thread touches
no database). A failure is only logged, without the customer's number or the message id.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import transaction

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import record
from conversa.inbox.models import Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.base import ProviderError
from conversa.providers.registry import get_provider

log = logging.getLogger(__name__)

# The newest unread messages get a receipt each (WhatsApp marks the earlier ones read too).
MAX_RECEIPTS = 10
pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="read-receipts")


def conversation_opened(conversation: Conversation) -> None:
    """The agent is looking at the conversation: tell the customer their unread messages were
    read, if the organization wants it. Call before the unread count is cleared."""
    if not conversation.unread_count or not conversation.organization.send_read_receipts:
        return
    number, phone = conversation.number, conversation.contact.phone
    if not phone:
        return  # known only by a username or a linked id: nowhere to address the receipt
    unread = min(conversation.unread_count, MAX_RECEIPTS)
    ids = list(
        conversation.messages.filter(direction=Message.Direction.INBOUND)
        .exclude(provider_message_id="")
        .order_by("-created_at", "-id")
        .values_list("provider_message_id", flat=True)[:unread]
    )
    if ids:
        transaction.on_commit(lambda: pool.submit(send, number, phone, ids))


def send(number: Number, phone: str, provider_message_ids: list[str]) -> None:
    """Mark the messages read at the provider, oldest first; stop at the first failure."""
    try:
        provider = get_provider(number)
        if not hasattr(provider, "mark_read"):
            return
        for message_id in reversed(provider_message_ids):
            provider.mark_read(number, phone, message_id)
    except ProviderError as exc:
        log.warning(
            "read receipt not sent on number %s: status %s, transient %s",
            number.pk,
            exc.status,
            exc.transient,
        )
    except Exception as exc:
        # A thread's exception would vanish with its future: say it happened (the type only,
        # as its text may quote the customer's data).
        log.error("read receipt failed on number %s: %s", number.pk, type(exc).__name__)


def set_read_receipts(org: Organization, enabled: bool, *, acting_member: Member) -> None:
    """Whether opening a conversation tells the customer their messages were read."""
    if org.send_read_receipts == enabled:
        return
    org.send_read_receipts = enabled
    org.save(update_fields=["send_read_receipts"])
    record(org.id, "organization.read_receipts_changed", org, actor=acting_member, on=enabled)
