"""The composer's files and the thread's reactions, both sent through the engine (the one send
path), and the organization's read-receipt setting."""

import uuid

from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404
from conversa.engine import outbox
from conversa.engine.models import MessageIntent
from conversa.errors import Conflict, Refused
from conversa.inbox import read_receipts, thread, uploads, views
from conversa.inbox.models import Conversation, Message
from conversa.inbox.settings_views import manager_view
from conversa.numbers.models import Number
from conversa.web import declared_length, operator_view


@operator_view
@require_POST
def compose(request, conversation_id: int):
    """The composer's form: a text or a note as `views.reply` takes them; with files, one
    message per file, the text as the caption."""
    if declared_length(request) > uploads.MAX_REQUEST:
        # Refused before the body is read: nothing of it is parsed or spooled.
        conversation = views.load(request, conversation_id)
        limit = uploads.readable(uploads.MAX_REQUEST)
        error = _("Send at most %(size)s of files at a time.") % {"size": limit}
        return views.after_send(request, conversation, error)
    files = request.FILES.getlist("files")
    if not files:
        return views.reply(request, conversation_id)
    conversation = views.load(request, conversation_id)
    caption = request.POST.get("body", "").strip()
    error = files_problem(request, conversation, files, caption)
    checked = []
    if not error:
        voice = request.POST.get("voice") == "1"
        cloud = conversation.number.provider == Number.Provider.CLOUD
        try:
            checked = [uploads.check(f, voice=voice, cloud=cloud) for f in files]
        except Refused as exc:
            error = str(exc)
    if not error:
        key = request.POST.get("idempotency_key") or str(uuid.uuid4())
        try:
            outbox.send_files(
                conversation, checked, caption, f"chat:{key}", acting_member=request.member
            )
        except Refused as exc:
            error = str(exc)
    return views.after_send(request, conversation, error, draft=caption if error else "")


def files_problem(request, conversation: Conversation, files: list, caption: str) -> str:
    """Why these files cannot be sent from the composer, before any is read; "" if they can."""
    if request.POST.get("mode") == "note":
        return _("A note cannot carry files: switch to Reply to send them.")
    if len(files) > uploads.MAX_FILES:
        return _("Send at most %(n)s files at a time.") % {"n": uploads.MAX_FILES}
    if len(caption) > outbox.MAX_CAPTION:
        return _("A caption holds at most %(n)s characters.") % {"n": outbox.MAX_CAPTION}
    if thread.service_window(conversation).templates_only:
        return _("The 24-hour window is closed: only an approved template can be sent.")
    return ""


@operator_view
@require_POST
def react(request, conversation_id: int, message_id: int):
    """React to a customer's message (or take the reaction back, with an empty emoji)."""
    conversation = views.load(request, conversation_id)
    message = get_for_org_or_404(request.org, Message, pk=message_id, conversation=conversation)
    emoji = request.POST.get("emoji", "")
    key = request.POST.get("idempotency_key") or str(uuid.uuid4())
    # A refusal (an emoji not offered) is shown by operator_view as the page's toast.
    intent = outbox.react(
        message,
        emoji,
        f"chat:react:{message.pk}:{key}:{emoji}"[:255],
        acting_member=request.member,
    )[0]
    if intent.status == MessageIntent.Status.BLOCKED:
        # A reaction has no message of its own to show the Gate's reason on: say it here.
        raise Conflict(_(intent.latest_decision.reason))
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.id)
    return render(request, "inbox/_messages.html", views.messages_context(conversation))


@manager_view
def read_receipts_setting(request):
    """Whether opening a conversation tells the customer their messages were read."""
    if request.method == "POST":
        read_receipts.set_read_receipts(
            request.org, request.POST.get("enabled") == "1", acting_member=request.member
        )
        return redirect(f"{reverse('manage-read-receipts')}?saved=1")
    context = {"section": "read_receipts", "enabled": request.org.send_read_receipts}
    return render(request, "inbox/manage_read_receipts.html", context)
