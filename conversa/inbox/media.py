"""Media in, never lost: each inbound media message's file, kept through Django's storage.

An inbound media message gets an `Attachment` when it is stored (`attachment_for`, on both the
single and the batch path). The bytes a webhook carried (Evolution's `base64`) are stored at
once and never kept in the message row; otherwise the attachment waits, PENDING, for the
durable job (`fetch_due`, run by every worker pass), which asks the provider for the file,
retries a transient failure with backoff, and after its attempts marks it FAILED, which a
member can put back with `retry_download`.

Whatever the provider says, a file is checked from its bytes (`filetype`): an "image" that is an
executable is refused. Sizes are WhatsApp's own limits per kind. Files are saved under
`org_<id>/<yyyy>/<mm>/<random>.<ext>`, never under the customer's file name.
"""

import base64
import binascii
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from conversa.accounts.models import Member
from conversa.errors import Conflict, NotFound
from conversa.inbox.models import Attachment, Message
from conversa.providers.base import MEDIA_KINDS, MEDIA_MAX_BYTES, ProviderError
from conversa.providers.registry import get_provider
from conversa.realtime import events, publisher

log = logging.getLogger(__name__)

# Served at /metrics: files stored (from a webhook's bytes or fetched), retried, failed.
media_outcomes = Counter("conversa_media_files", "Inbound media files by outcome", ["outcome"])

# What the bytes may be, per kind (a voice note or audio may come in an MP4 container, which
# filetype names as video). Documents may be of any type: they are only ever downloaded.
ACCEPTED = {
    "image": {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/avif"},
    "sticker": {"image/webp", "image/png"},
    "video": {"video/mp4", "video/3gpp", "video/quicktime", "video/webm", "video/x-m4v"},
    "audio": {"audio/*", "video/mp4", "video/3gpp"},
    "voice": {"audio/*", "video/mp4", "video/3gpp"},
}
KIND_WORDS = {
    "image": "an image",
    "sticker": "a sticker",
    "video": "a video",
    "audio": "an audio file",
    "voice": "a voice note",
}
# A claimed type worth keeping for a document whose bytes filetype does not know (text, CSV…).
MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
EXTENSION = re.compile(r"[A-Za-z0-9]{1,8}")


class MediaRefused(Exception):
    """The file is not what its message says, or is past WhatsApp's limit for its kind."""


@dataclass(frozen=True)
class Checked:
    mime_type: str
    extension: str


def check(kind: str, content: bytes, *, claimed_type: str = "", file_name: str = "") -> Checked:
    """The file's type, read from its bytes, if it may be a `kind`; else MediaRefused."""
    limit = MEDIA_MAX_BYTES.get(kind)
    if limit is None:
        raise MediaRefused(f"{kind!r} is not a media kind")
    if len(content) > limit:
        raise MediaRefused(too_large(limit))
    if not content:
        raise MediaRefused("the file is empty")
    found = filetype.guess(content)
    if kind == "document":
        if found is not None:
            return Checked(found.mime, found.extension)
        claimed = claimed_type.split(";", 1)[0].strip().lower()
        suffix = file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        return Checked(
            claimed if MIME_TYPE.fullmatch(claimed) else "application/octet-stream",
            suffix.lower() if EXTENSION.fullmatch(suffix) else "bin",
        )
    accepted = ACCEPTED[kind]
    major = found.mime.split("/", 1)[0] if found else ""
    if found is None or not (found.mime in accepted or f"{major}/*" in accepted):
        what = found.mime if found else "a file of unknown type"
        raise MediaRefused(f"the file is {what}, not {KIND_WORDS[kind]}")
    return Checked(found.mime, found.extension)


def too_large(limit: int) -> str:
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return f"the file is larger than the {size} WhatsApp allows for its kind"


def save_file(organization_id: int, content: bytes, extension: str) -> str:
    """Store the bytes under a random name in the organization's folder; the stored name."""
    now = timezone.now()
    name = f"org_{organization_id}/{now:%Y}/{now:%m}/{secrets.token_hex(16)}.{extension}"
    return default_storage.save(name, ContentFile(content))


def without_bytes(content: dict) -> dict:
    """A message's content as its row keeps it: a media reference without the file's bytes."""
    media = content.get("media")
    if not isinstance(media, dict) or "base64" not in media:
        return content
    return {**content, "media": {k: v for k, v in media.items() if k != "base64"}}


def attachment_for(message: Message, content: dict) -> Attachment | None:
    """The unsaved attachment of a media message (None for other kinds), from the content its
    event carried. Bytes carried in the webhook are checked and stored now (STORED, or FAILED
    with the reason); otherwise it is PENDING, due at once for `fetch_due`."""
    if message.kind not in MEDIA_KINDS:
        return None
    media = content.get("media") if isinstance(content.get("media"), dict) else {}
    attachment = Attachment(
        organization_id=message.organization_id,
        message=message,
        kind=message.kind,
        mime_type=str(media.get("mime_type") or "")[:100],
        file_name=str(media.get("file_name") or "")[:255],
        size=announced_size(media.get("size")),
        next_attempt_at=timezone.now(),
    )
    carried = media.get("base64")
    if isinstance(carried, str) and carried:
        keep_carried(attachment, carried)
    return attachment


def announced_size(value) -> int | None:
    """The size the webhook announced (a number, or Evolution's digits in a string), if sane."""
    if isinstance(value, str) and value.isdigit() and len(value) < 16:
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 2**53 else None


def keep_carried(attachment: Attachment, carried: str) -> None:
    limit = MEDIA_MAX_BYTES[attachment.kind]
    carried = carried.split(",", 1)[1] if carried.startswith("data:") else carried
    try:
        if len(carried) > limit * 4 // 3 + 4:
            raise MediaRefused(too_large(limit))
        content = base64.b64decode(carried)
        checked = check(
            attachment.kind,
            content,
            claimed_type=attachment.mime_type,
            file_name=attachment.file_name,
        )
        attachment.file.name = save_file(attachment.organization_id, content, checked.extension)
    except MediaRefused as exc:
        attachment.state, attachment.error = Attachment.State.FAILED, str(exc)[:255]
        attachment.next_attempt_at = None
    except (binascii.Error, ValueError, OSError):
        # Unreadable bytes, or the storage failing: the job fetches the file from the provider.
        log.warning("attachment of message %s: carried bytes not stored", attachment.message_id)
    else:
        attachment.state, attachment.next_attempt_at = Attachment.State.STORED, None
        attachment.mime_type, attachment.size = checked.mime_type, len(content)
    if attachment.state != Attachment.State.PENDING:
        media_outcomes.labels(attachment.state).inc()


def claim_due(limit: int) -> list[Attachment]:
    """Take up to `limit` PENDING attachments whose time has come, for this worker: each is
    leased by moving its next attempt past the lease and counting the attempt, so a worker
    that dies mid-fetch leaves it due again once the lease runs out.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers take disjoint batches without waiting on
    each other. SQLite: a conditional UPDATE per attachment; 0 rows means another worker took
    it first.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.MEDIA_FETCH_LEASE_SECONDS)
    due = Attachment.objects.filter(
        state=Attachment.State.PENDING, message__isnull=False, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "id")
    claim = {"next_attempt_at": lease, "attempts": F("attempts") + 1}
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            Attachment.objects.filter(id__in=ids).update(**claim)
    else:
        ids = [
            pk
            for pk, at in list(due.values_list("id", "next_attempt_at")[:limit])
            if Attachment.objects.filter(
                pk=pk, state=Attachment.State.PENDING, next_attempt_at=at
            ).update(**claim)
        ]
    return list(
        Attachment.objects.filter(id__in=ids)
        .select_related("message__number__organization")
        .order_by("id")
    )


def fetch_due(limit: int = 10) -> int:
    """The durable job: fetch and store the files of up to `limit` due attachments. Returns
    how many it tried. Run by every worker pass (conversa.engine.worker)."""
    claimed = claim_due(limit)
    for attachment in claimed:
        try:
            fetch(attachment)
        except Exception as exc:
            # A bug or a storage failure with one file must not stop the others; it counts as
            # an attempt like a provider's hiccup, so it cannot loop for ever.
            log.exception("fetching attachment %s crashed", attachment.pk)
            if attachment.attempts < settings.MEDIA_FETCH_ATTEMPTS:
                retry_later(attachment, f"unexpected error: {type(exc).__name__}", None)
            else:
                finish(attachment, state=Attachment.State.FAILED, error="unexpected error")
    return len(claimed)


def fetch(attachment: Attachment) -> None:
    """One attempt at an attachment this worker claimed (`claim_due` counted it).

    1. Ask the message's provider for the file (its kind bounds what is read).
    2. Check the type from the bytes and the size; store it under a random name.
    3. STORED; or, on a transient failure with attempts left, PENDING again after a backoff
       (120 s doubling: about half an hour over 5 attempts); else FAILED with the reason.
    Each outcome is written only while the claim is still this worker's (same attempt count).
    """
    message = attachment.message
    media = dict(message.content.get("media") or {}) if isinstance(message.content, dict) else {}
    media["kind"] = attachment.kind
    try:
        fetched = get_provider(message.number).fetch_media(
            message.number, message.provider_message_id, media
        )
        checked = check(
            attachment.kind,
            fetched.content,
            claimed_type=fetched.mime_type or attachment.mime_type,
            file_name=attachment.file_name,
        )
    except MediaRefused as exc:
        return finish(attachment, state=Attachment.State.FAILED, error=str(exc))
    except ProviderError as exc:
        if exc.transient and attachment.attempts < settings.MEDIA_FETCH_ATTEMPTS:
            return retry_later(attachment, str(exc), exc.retry_after)
        return finish(attachment, state=Attachment.State.FAILED, error=str(exc))
    name = save_file(attachment.organization_id, fetched.content, checked.extension)
    finish(
        attachment,
        state=Attachment.State.STORED,
        file=name,
        mime_type=checked.mime_type,
        size=len(fetched.content),
        error="",
    )


def retry_later(attachment: Attachment, error: str, retry_after: float | None) -> None:
    wait = settings.MEDIA_RETRY_BASE_SECONDS * 2 ** max(attachment.attempts - 1, 0)
    # A provider's Retry-After is honoured up to an hour (a huge one is a fault, not a plan).
    wait = max(wait, min(retry_after or 0, 3600))
    media_outcomes.labels("retried").inc()
    claim = {"pk": attachment.pk, "state": Attachment.State.PENDING}
    Attachment.objects.filter(**claim, attempts=attachment.attempts).update(
        next_attempt_at=timezone.now() + timedelta(seconds=wait), error=error[:255]
    )


def finish(attachment: Attachment, *, state: str, error: str = "", **fields) -> None:
    fields |= {"state": state, "error": error[:255], "next_attempt_at": None}
    moved = Attachment.objects.filter(
        pk=attachment.pk, state=Attachment.State.PENDING, attempts=attachment.attempts
    ).update(**fields)
    if not moved:
        # Another worker took it over after this one's lease ran out; its outcome stands.
        if state == Attachment.State.STORED:
            default_storage.delete(fields["file"])
        return
    media_outcomes.labels(state).inc()
    for name, value in fields.items():
        if name == "file":
            attachment.file.name = value
        else:
            setattr(attachment, name, value)
    announce([attachment])


def announce(attachments: list[Attachment]) -> None:
    """The threads showing these attachments' messages hear of them (they re-fetch)."""
    by_org: dict[int, list[Message]] = {}
    for attachment in attachments:
        if attachment.message is not None:
            by_org.setdefault(attachment.organization_id, []).append(attachment.message)
    for org_id, messages in by_org.items():
        publisher.publish(
            org_id,
            events.AttachmentUpdated(
                conversation_ids=sorted({m.conversation_id for m in messages}),
                message_ids=sorted({m.pk for m in messages}),
            ),
        )


def retry_download(attachment: Attachment, *, acting_member: Member) -> Attachment:
    """Put a failed download back in line, due now, with its attempts counted afresh."""
    if attachment.organization_id != acting_member.organization_id:
        raise NotFound(_("No such file."))
    moved = Attachment.objects.filter(pk=attachment.pk, state=Attachment.State.FAILED).update(
        state=Attachment.State.PENDING, attempts=0, next_attempt_at=timezone.now(), error=""
    )
    if not moved:
        raise Conflict(_("Only a failed download can be retried."))
    attachment.refresh_from_db()
    announce([attachment])
    return attachment
