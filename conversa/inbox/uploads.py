"""Files a member sends: the type read from the bytes (filetype, never the name or the browser's
word for it), WhatsApp's limits for each kind, and the file stored (Django's default storage)
as an Attachment before any intent is made."""

import uuid
from dataclasses import dataclass
from pathlib import PurePath

import filetype
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from conversa.accounts.models import Member, Organization
from conversa.errors import Refused
from conversa.inbox.models import Attachment

KB, MB = 1024, 1024 * 1024

# WhatsApp's media types and sizes (Meta's media reference; Evolution forwards to the same
# WhatsApp servers). A type outside these is refused rather than sent as something it is not.
KINDS_BY_TYPE = {
    "image/jpeg": "image",
    "image/png": "image",
    "video/mp4": "video",
    "video/3gpp": "video",
    "audio/aac": "audio",
    "audio/mp4": "audio",
    "audio/mpeg": "audio",
    "audio/amr": "audio",
    "audio/ogg": "audio",
    "image/webp": "sticker",
    "application/pdf": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
    "text/plain": "document",
}
LIMITS = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "voice": 16 * MB,
    "document": 100 * MB,
    "sticker": 500 * KB,
}
# Plain text has no signature to read: a .txt or .csv whose start is UTF-8 text.
TEXT_SUFFIXES = {".txt", ".csv"}
MAX_FILES = 10
# One composer send, all files together: WhatsApp's largest file and room for the form.
MAX_REQUEST = 101 * MB
MAX_NAME = 200


@dataclass(frozen=True)
class Checked:
    """An uploaded file that WhatsApp takes, with its kind and type read from its bytes."""

    upload: UploadedFile
    kind: str
    mime_type: str
    file_name: str
    size: int


def sniff(upload: UploadedFile) -> str:
    """The file's type from its first bytes; "" when nothing WhatsApp takes."""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    guessed = filetype.guess(head)
    if guessed is not None:
        return guessed.mime
    if PurePath(upload.name or "").suffix.lower() in TEXT_SUFFIXES and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 3:
                return ""
        return "text/plain"
    return ""


def check(upload: UploadedFile, *, voice: bool = False, cloud: bool = False) -> Checked:
    """The file as WhatsApp would take it, or Refused saying why, in words for the sender.

    With `voice` an audio file goes as a voice note (other files as they are); on a Cloud API
    number (`cloud`) Meta plays only OGG (Opus) files as one.
    """
    name = get_valid_filename(PurePath(upload.name or "file").name)[-MAX_NAME:] or "file"
    mime_type = sniff(upload)
    kind = KINDS_BY_TYPE.get(mime_type)
    if kind is None:
        raise Refused(
            _(
                "“%(name)s” cannot be sent on WhatsApp. Send photos as JPEG or PNG, videos as "
                "MP4, audio as MP3, M4A, AAC, AMR or OGG, and documents as PDF, Office files "
                "or plain text."
            )
            % {"name": name},
            field="files",
        )
    if voice and kind == "audio":
        if cloud and mime_type != "audio/ogg":
            raise Refused(
                _("On this number a voice note must be an OGG (Opus) audio file."), field="files"
            )
        kind = "voice"
    if upload.size > LIMITS[kind]:
        raise Refused(
            _("“%(name)s” is %(size)s; WhatsApp takes at most %(limit)s for this kind of file.")
            % {"name": name, "size": readable(upload.size), "limit": readable(LIMITS[kind])},
            field="files",
        )
    if upload.size == 0:
        raise Refused(_("“%(name)s” is empty.") % {"name": name}, field="files")
    return Checked(upload, kind, mime_type, name, upload.size)


def readable(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.1f} MB"
    return f"{max(size // KB, 1)} KB"


def store(org: Organization, checked: Checked, *, acting_member: Member | None) -> Attachment:
    """Save the file through the default storage (local files or S3) as a stored Attachment
    of `org`, under a name no one can guess; linked to its message when the engine makes it."""
    attachment = Attachment(
        organization=org,
        kind=checked.kind,
        state=Attachment.State.STORED,
        mime_type=checked.mime_type,
        file_name=checked.file_name,
        size=checked.size,
        uploaded_by=acting_member,
    )
    checked.upload.seek(0)
    attachment.file.save(
        f"outbound/{org.pk}/{uuid.uuid4().hex}/{checked.file_name}", checked.upload
    )
    return attachment


def discard(attachment: Attachment) -> None:
    """Remove a stored upload that no intent uses (a repeated send): its file, then its row."""
    attachment.file.delete(save=False)
    attachment.delete()
