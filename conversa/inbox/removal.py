"""Removing messages' texts and files while keeping the messages: what the retention policy
(engine.retention) and the erasure of a contact (campaigns.privacy) both do.

A removed message keeps its row (direction, status, times: the counts, reports and threads stay
whole) with an empty body, content and edit history, and `removed` saying why; the thread shows
a placeholder instead. Its attachment's file is deleted from storage and the row kept as REMOVED
(an outbound send's intent refers to it), without the customer's file name.
"""

from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, QuerySet, Sum

from conversa.inbox.models import Attachment, Message
from conversa.realtime import events, publisher

BATCH = 500


@dataclass
class Removed:
    messages: int = 0
    files: int = 0
    bytes: int = 0

    def __iadd__(self, other: "Removed") -> "Removed":
        self.messages += other.messages
        self.files += other.files
        self.bytes += other.bytes
        return self


def with_files(attachments: QuerySet) -> QuerySet:
    return attachments.exclude(file="").exclude(state=Attachment.State.REMOVED)


def remove_files(attachments: QuerySet) -> Removed:
    """Delete these attachments' files from storage, then their file and name from the rows
    (kept as REMOVED). The files go first: a crash after them leaves rows that the next run
    clears (a missing file is no error), never a cleared row whose file is still stored."""
    done = Removed()
    for attachment in with_files(attachments):
        if attachment.file.name:
            default_storage.delete(attachment.file.name)
        done.files += 1
        done.bytes += attachment.size or 0
    attachments.update(
        state=Attachment.State.REMOVED, file="", file_name="", error="", next_attempt_at=None
    )
    return done


def measure(messages: QuerySet) -> Removed:
    """What `remove` would take from these messages (not yet removed), without touching them."""
    pending = messages.filter(removed="")
    files = with_files(Attachment.objects.filter(message__in=pending.values("id"))).aggregate(
        n=Count("id"), size=Sum("size")
    )
    return Removed(pending.count(), files["n"], files["size"] or 0)


def remove(messages: QuerySet, reason: str) -> Removed:
    """Empty these messages and delete their files, `BATCH` messages at a time (each batch its
    own transaction, so a large backlog holds no long lock and a crash loses only the batch in
    hand); returns what was removed. Running it again on the same messages finds nothing.

    Each batch: 1. its files are deleted from storage and its attachment rows lose their file
    and name (`remove_files`); 2. its messages are emptied and marked `reason`; 3. their
    threads hear of it.
    """
    total = Removed()
    pending = messages.filter(removed="").order_by("id")
    while ids := list(pending.values_list("id", flat=True)[:BATCH]):
        total += remove_batch(ids, reason)
    return total


def remove_batch(ids: list[int], reason: str) -> Removed:
    with transaction.atomic():
        done = remove_files(Attachment.objects.filter(message_id__in=ids))
        done.messages = len(ids)
        Message.objects.filter(id__in=ids).update(body="", content={}, history=[], removed=reason)
    changed = Message.objects.filter(id__in=ids).values_list(
        "organization_id", "conversation_id", "id"
    )
    by_org: dict[int, list[tuple[int, int]]] = {}
    for org_id, conversation_id, message_id in changed:
        by_org.setdefault(org_id, []).append((conversation_id, message_id))
    for org_id, rows in by_org.items():
        publisher.publish(
            org_id,
            events.MessageChanged(
                conversation_ids=sorted({c for c, _ in rows}),
                message_ids=sorted(m for _, m in rows),
            ),
        )
    return done
