"""Customers' files, served only to members of the organization that owns them.

There is no public media URL: `/media/<id>` checks the member first, and answers 404 to anyone
else (another organization's member, a visitor), so a file's existence does not leak. Local
files are streamed with headers that keep a browser from running them; S3 files are a redirect
to a signed URL that expires in minutes, given after the same check.
"""

import re

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from conversa.accounts.scoping import get_for_org_or_404
from conversa.inbox import access, media
from conversa.inbox.models import Attachment
from conversa.web import operator_view

# Shown in the page (inline); a document is always downloaded.
INLINE_KINDS = {"image", "sticker", "video", "audio", "voice"}
UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]+")


def member_attachment(request, attachment_id: int) -> Attachment:
    """The attachment, for a signed-in member of its organization; 404 for anyone else (a
    visitor too: no login redirect that would tell the file exists)."""
    if not request.user.is_authenticated or request.org is None:
        raise Http404("No such file")
    attachment = get_for_org_or_404(request.org, Attachment, pk=attachment_id)
    conversation_id = attachment.message.conversation_id if attachment.message_id else None
    if conversation_id is not None:
        # A customer's file is read as its conversation is: by those who may work on it.
        access.conversation_for(request.org, request.member, conversation_id)
    return attachment


def download_name(attachment: Attachment) -> str:
    """The customer's file name, made safe for a header: no path, no control characters."""
    extension = attachment.file.name.rsplit(".", 1)[-1] if "." in attachment.file.name else "bin"
    name = attachment.file_name.replace("\\", "/").rsplit("/", 1)[-1]
    name = UNSAFE_NAME.sub("_", name).strip(" ._")[:120]
    return name or f"{attachment.kind}.{extension}"


@require_GET
def media_file(request, attachment_id: int):
    """GET /media/<id>: the file, to a member of its organization only."""
    attachment = member_attachment(request, attachment_id)
    if attachment.state != Attachment.State.STORED or not attachment.file.name:
        raise Http404("No such file")
    inline = attachment.kind in INLINE_KINDS
    disposition = content_disposition_header(not inline, download_name(attachment))
    if settings.S3_BUCKET:
        # The signed link answers with our type and disposition (S3's response-* parameters).
        url = default_storage.url(
            attachment.file.name,
            parameters={
                "ResponseContentType": attachment.mime_type or "application/octet-stream",
                "ResponseContentDisposition": disposition,
            },
            expire=settings.MEDIA_SIGNED_URL_SECONDS,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        handle = default_storage.open(attachment.file.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("No such file") from exc
    response = FileResponse(handle, content_type=attachment.mime_type or "application/octet-stream")
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the file can run nothing, load nothing and be framed by no one.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'none'"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@operator_view
@require_GET
def media_card(request, attachment_id: int):
    """The attachment as the thread shows it: a pending one re-asks for this until it is
    stored or failed."""
    attachment = member_attachment(request, attachment_id)
    return render(request, "inbox/_attachment.html", {"attachment": attachment})


@operator_view
@require_POST
def retry_download(request, attachment_id: int):
    """POST /media/<id>/retry: a failed download goes back in line."""
    attachment = member_attachment(request, attachment_id)
    attachment = media.retry_download(attachment, acting_member=request.member)
    if request.htmx:
        return render(request, "inbox/_attachment.html", {"attachment": attachment})
    if attachment.message is None:
        return redirect("inbox")
    return redirect("conversation", conversation_id=attachment.message.conversation_id)
