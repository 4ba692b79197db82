import uuid

from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.engine import services as engine
from conversa.inbox import services
from conversa.inbox.models import Conversation, Message

MAX_REPLY_LENGTH = 4096


def page_context(request, conversation=None, **extra):
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    conversations = (
        scoped(request.org, Conversation)
        .select_related("contact", "instance")
        .annotate(
            last_body=Subquery(last.values("body")[:1]),
            last_direction=Subquery(last.values("direction")[:1]),
        )
        .order_by("-last_message_at", "-id")[:100]
    )
    return {"conversations": conversations, "current": conversation, **extra}


@login_required
def inbox(request):
    return render(request, "inbox/inbox.html", page_context(request))


@login_required
def conversation_page(request, conversation_id: int):
    conversation = get_for_org_or_404(request.org, Conversation, pk=conversation_id)
    services.mark_read(conversation)
    context = {**page_context(request, conversation), **thread_context(conversation)}
    return render(request, "inbox/inbox.html", context)


@login_required
def conversation_list_fragment(request):
    current_id = request.GET.get("current")
    current = None
    if current_id and current_id.isdigit():
        current = scoped(request.org, Conversation).filter(pk=current_id).first()
    return render(request, "inbox/_conversation_list.html", page_context(request, current))


def thread_context(conversation, **extra):
    messages = conversation.messages.select_related("sender").order_by("created_at", "id")
    # A fresh key per rendered composer: a double click or a resubmitted form sends once.
    return {
        "current": conversation,
        "thread_messages": messages,
        "reply_key": uuid.uuid4(),
        **extra,
    }


@login_required
def thread_fragment(request, conversation_id: int):
    conversation = get_for_org_or_404(request.org, Conversation, pk=conversation_id)
    services.mark_read(conversation)
    return render(request, "inbox/_messages.html", thread_context(conversation))


@login_required
@require_POST
def reply(request, conversation_id: int):
    conversation = get_for_org_or_404(request.org, Conversation, pk=conversation_id)
    body = request.POST.get("body", "").strip()
    error = ""
    if not body:
        error = _("Type a reply before sending.")
    elif len(body) > MAX_REPLY_LENGTH:
        error = _("A WhatsApp message holds at most %(n)s characters.") % {"n": MAX_REPLY_LENGTH}
    if not error:
        engine.reply(
            conversation, body, request.member, request.POST.get("idempotency_key") or None
        )
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.id)
    context = thread_context(conversation, reply_error=error, draft=body if error else "")
    return render(request, "inbox/_thread.html", context, status=422 if error else 200)
