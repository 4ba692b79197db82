"""The operator view: the conversation list, the thread and the contact panel, each also a
fragment that htmx re-fetches when a realtime event names it."""

import uuid
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.assistant import helpers
from conversa.engine import held, outbox, resend
from conversa.engine import services as engine
from conversa.errors import Forbidden, Refused
from conversa.inbox import (
    access,
    canned_replies,
    deadlines,
    listing,
    notes,
    notifications,
    ownership,
    read_receipts,
    services,
    states,
    tags,
    thread,
)
from conversa.inbox.listing import Filters
from conversa.inbox.models import Conversation, Message, Queue, Tag
from conversa.numbers.models import Number
from conversa.surveys import services as survey
from conversa.web import local_midnight, number, operator_view

MAX_REPLY_LENGTH = 4096
TABS = {
    listing.MINE: gettext_lazy("Mine"),
    listing.QUEUE: gettext_lazy("Queue"),
    listing.ALL: gettext_lazy("All"),
}
STATUSES = [
    (listing.ACTIVE, gettext_lazy("Active")),
    *Conversation.Status.choices,
    ("any", gettext_lazy("Any status")),
]
LIST_PARAMS = (
    "tab",
    "status",
    "operator",
    "number",
    "tag",
    "q",
    "queue",
    "by",
    "since",
    "until",
    "rating",
    "member",
)
WINDOW_BY = (*listing.WINDOWS, listing.REPLIED, listing.RATED, listing.REOPENED)
TEMPLATE_LANGUAGES = ["pt_BR", "en_US", "es"]


def list_state(request) -> tuple[str | None, Filters, str]:
    """The list's tab, filters and their query string, from the request's parameters."""
    params = request.GET
    status = params.get("status", listing.ACTIVE)
    by = params.get("by", "")
    rating = params.get("rating", "")
    if rating and rating not in listing.RATINGS:
        raise Refused(_("Choose a rating from 1 to 5, or any rating."), field="rating")
    filters = Filters(
        status="" if status == "any" else status,
        operator=number(params.get("operator")),
        number=number(params.get("number")),
        tag=number(params.get("tag")),
        q=params.get("q", "").strip()[:200],
        queue=number(params.get("queue")),
        by=by if by in WINDOW_BY else "",
        since=local_midnight(request.org, params.get("since")),
        until=local_midnight(request.org, params.get("until"), after=True),
        rating=rating,
        member=number(params.get("member")),
    )
    kept = {k: params[k] for k in LIST_PARAMS if params.get(k)}
    return params.get("tab") or None, filters, urlencode(kept)


def list_context(request, current: Conversation | None = None) -> dict:
    member = request.member
    tab, filters, query = list_state(request)
    counts = None
    if tab not in listing.tabs_for(member):
        # First visit: my own work when I have some, else what waits for someone.
        counts = listing.count_tabs(request.org, member, filters)
        tab = listing.MINE if counts.get(listing.MINE) else listing.QUEUE
    page = listing.list_conversations(
        request.org,
        member,
        tab=tab,
        filters=filters,
        cursor=request.GET.get("cursor"),
        limit=number(request.GET.get("limit")) or listing.PAGE_SIZE,
        counts=counts is None,
    )
    counts = counts or page.counts
    more = None
    if page.next_cursor:
        params = {**request.GET.dict(), "tab": tab, "cursor": page.next_cursor, "more": "1"}
        params.pop("limit", None)
        params.pop("push", None)
        if current:
            params["current"] = current.pk
        more = f"{reverse('conversation-list')}?{urlencode(params)}"
    clocks = deadlines.sla_states(page.conversations) if page.conversations else {}
    for c in page.conversations:
        c.last_media = thread.media(c.last_kind or "text")
        c.sla_clock = clocks.get(c.pk)
        c.breached = bool(c.sla_clock and c.sla_clock.state == deadlines.BREACHED)
    breached = breached_by_tab(request.org, member, filters)
    cap = listing.count_cap(filters)
    supervising = member.supervises
    return {
        "today": timezone.localdate(),
        "page": page,
        "conversations": page.conversations,
        "tab": tab,
        "tabs": [
            (key, TABS[key], listing.count_label(counts[key], cap), breached[key])
            for key in listing.tabs_for(member)
        ],
        "filters": filters,
        "status_param": request.GET.get("status", listing.ACTIVE),
        "statuses": STATUSES,
        "list_query": query,
        "more_url": more,
        "current": current,
        "operators": scoped(request.org, Member).order_by("display_name") if supervising else [],
        "numbers": scoped(request.org, Number).order_by("name"),
        "tags": scoped(request.org, Tag).order_by("name"),
        "queues": scoped(request.org, Queue).order_by("name"),
        "window": window_words(request, filters),
        "filtering": bool(
            filters.q
            or filters.operator
            or filters.number
            or filters.tag
            or filters.queue
            or filters.windowed
            or filters.rating
            or filters.status != listing.ACTIVE
        ),
    }


WINDOW_WORDS = {
    "opened": gettext_lazy("Opened"),
    "resolved": gettext_lazy("Resolved"),
    "responded": gettext_lazy("First answered"),
    listing.REPLIED: gettext_lazy("Replied to"),
    listing.RATED: gettext_lazy("Rated"),
    listing.REOPENED: gettext_lazy("Reopened"),
}


def window_words(request, filters: Filters) -> dict | None:
    """The time window in use (from Insights' links), as the list shows it: what it applies
    to, its days as given, and the list's address without it."""
    if not (filters.windowed or filters.rating):
        return None
    kept = {k: request.GET[k] for k in LIST_PARAMS if request.GET.get(k)}
    for key in ("by", "since", "until", "rating", "member"):
        kept.pop(key, None)
    label = WINDOW_WORDS.get(filters.by, WINDOW_WORDS[listing.RATED])
    who = filters.member and scoped(request.org, Member).filter(pk=filters.member).first()
    if filters.rating in listing.RATINGS[1:]:
        label = _("Rated %(n)s of 5") % {"n": filters.rating}
    if who and filters.by == listing.REPLIED:
        label = _("Replied to by %(name)s") % {"name": who.display_name}
    elif who and (filters.rating or filters.by == listing.RATED):
        label = _("%(what)s, resolved by %(name)s") % {"what": label, "name": who.display_name}
    return {
        "label": label,
        "since": filters.since and filters.since.date(),
        "until": filters.until and (filters.until - timedelta(days=1)).date(),
        "clear": f"{reverse('inbox')}?{urlencode(kept)}",
    }


def breached_by_tab(org, member: Member, filters: Filters) -> dict[str, int]:
    """How many conversations in each tab (under the same filters) are past an SLA due time,
    in one query over the overdue ones only (found through their due times' indexes)."""
    overdue = listing.filtered(org, filters, Conversation.breached(timezone.now()))
    conditions = {tab: listing.tab_condition(member, tab) for tab in listing.tabs_for(member)}
    return overdue.aggregate(
        **{tab: Count("pk", filter=c) if c else Count("pk") for tab, c in conditions.items()}
    )


def head_context(request, conversation: Conversation, **extra) -> dict:
    member = request.member
    supervising = member.supervises
    mine = conversation.assignee_id == member.pk
    return {
        "current": conversation,
        "mine": mine,
        "supervising": supervising,
        "can_claim": conversation.assignee_id is None,
        "can_release": conversation.assignee_id is not None and (mine or supervising),
        "can_transfer": mine or supervising,
        "team": scoped(request.org, Member).order_by("display_name"),
        "queues": scoped(request.org, Queue).order_by("name"),
        "snooze_presets": snooze_presets(),
        "snooze_min": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "priorities": Conversation.Priority.choices,
        "sla_clocks": thread.sla_clocks(conversation),
        **extra,
    }


def composer_context(conversation: Conversation, **extra) -> dict:
    # A fresh key per rendered composer: a double click or a resubmitted form sends once.
    window = thread.service_window(conversation)
    return {
        "current": conversation,
        "window": window,
        # Once a Cloud API window has closed, the templates sent before are offered to pick.
        "template_choices": (
            resend.recent_templates(conversation.organization_id) if window.templates_only else []
        ),
        "reply_key": uuid.uuid4(),
        "template_languages": TEMPLATE_LANGUAGES,
        "notes_enabled": True,
        "canned_enabled": True,
        "assist_enabled": True,
        "assist_styles": list(helpers.STYLES.items()),
        "assist_languages": list(helpers.LANGUAGES.items()),
        **extra,
    }


def messages_context(conversation: Conversation, **extra) -> dict:
    notes = conversation.notes.select_related("author", "assistant_output")
    items, truncated = thread.timeline(conversation, notes)
    # Replies waiting for the Gate say why under the clock icon (and what will send them).
    waiting = [
        i.obj.pk
        for i in items
        if i.kind == "message" and i.obj.is_outbound and i.obj.status == Message.Status.PENDING
    ]
    holds = held.held_messages(conversation.organization_id, waiting)
    for i in items:
        if i.kind == "message":
            i.obj.held = holds.get(i.obj.pk)
    today = timezone.localdate()
    return {
        "current": conversation,
        "items": items,
        "truncated": truncated,
        "today": today,
        "yesterday": today - timedelta(days=1),
        # One key per rendered thread: a double click on a reaction sends it once.
        "reactions": outbox.REACTIONS,
        "react_key": uuid.uuid4(),
        "assist_languages": list(helpers.LANGUAGES.items()),
        **extra,
    }


def contact_context(request, conversation: Conversation, **extra) -> dict:
    conversation_tags = list(conversation.tags.all())
    contact_tags = list(conversation.contact.tags.all())
    return {
        "current": conversation,
        "contact": conversation.contact,
        "past": thread.past_conversations(conversation),
        "tags_enabled": True,
        "conversation_tags": conversation_tags,
        "contact_tags": contact_tags,
        "all_tags": list(scoped(request.org, Tag).order_by("name")),
        "insight_enabled": True,
        "insight": helpers.latest_classification(conversation),
        **extra,
    }


def load(request, conversation_id: int) -> Conversation:
    """The conversation, if the signed-in member may work on it (`access`); else 404."""
    conversation = access.conversation_for(request.org, request.member, conversation_id)
    # The related rows the header, composer and panel read, fetched once.
    return (
        scoped(request.org, Conversation)
        .select_related("contact", "number", "assignee", "queue")
        .get(pk=conversation.pk)
    )


@operator_view
def inbox(request):
    return render(request, "inbox/inbox.html", list_context(request))


@operator_view
def conversation_page(request, conversation_id: int):
    conversation = load(request, conversation_id)
    read_receipts.conversation_opened(conversation)
    services.mark_read(conversation)
    notifications.seen(conversation, request.member)
    # Picked in the list: only the thread and the panel are redrawn, the list stays.
    picked = request.htmx and request.htmx.target == "workspace"
    context = {
        **(
            {"list_query": list_state(request)[2]}
            if picked
            else list_context(request, conversation)
        ),
        **head_context(request, conversation),
        **messages_context(conversation),
        **composer_context(conversation),
        **contact_context(request, conversation),
    }
    template = "inbox/_workspace.html" if picked else "inbox/inbox.html"
    return render(request, template, context)


@operator_view
def conversation_list_fragment(request):
    current = None
    current_id = number(request.GET.get("current"))
    if current_id:
        current = (
            access.conversations_for(request.org, request.member).filter(pk=current_id).first()
        )
    context = list_context(request, current)
    if request.GET.get("more"):
        return render(request, "inbox/_conversation_items.html", context)
    response = render(request, "inbox/_conversation_list.html", context)
    if request.htmx and request.GET.get("push"):
        # The filters are in the address, so a reload or a shared link shows the same list.
        path = reverse("conversation", args=[current.pk]) if current else reverse("inbox")
        response["HX-Push-Url"] = (
            f"{path}?{context['list_query']}" if context["list_query"] else path
        )
    return response


@operator_view
def thread_fragment(request, conversation_id: int):
    conversation = load(request, conversation_id)
    read_receipts.conversation_opened(conversation)
    services.mark_read(conversation)
    notifications.seen(conversation, request.member)
    return render(request, "inbox/_messages.html", messages_context(conversation))


@operator_view
def head_fragment(request, conversation_id: int):
    conversation = load(request, conversation_id)
    return render(request, "inbox/_thread_head.html", head_context(request, conversation))


@operator_view
def composer_fragment(request, conversation_id: int):
    conversation = load(request, conversation_id)
    return render(request, "inbox/_composer.html", composer_context(conversation))


@operator_view
def contact_fragment(request, conversation_id: int):
    conversation = load(request, conversation_id)
    return render(request, "inbox/_contact.html", contact_context(request, conversation))


def after_send(request, conversation: Conversation, error: str = "", **extra):
    """The composer again (fresh, or with the error and the draft) and the thread beside it."""
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.id)
    context = {
        **composer_context(conversation, reply_error=error, **extra),
        **messages_context(conversation),
        "oob": True,
    }
    return render(request, "inbox/_composer.html", context, status=422 if error else 200)


@operator_view
@require_POST
def reply(request, conversation_id: int):
    conversation = load(request, conversation_id)
    body = request.POST.get("body", "").strip()
    if request.POST.get("mode") == "note":
        return note(request, conversation, body)
    error = ""
    if not body:
        error = _("Type a reply before sending.")
    elif len(body) > MAX_REPLY_LENGTH:
        error = _("A WhatsApp message holds at most %(n)s characters.") % {"n": MAX_REPLY_LENGTH}
    elif thread.service_window(conversation).templates_only:
        error = _("The 24-hour window is closed: only an approved template can be sent.")
    if not error:
        engine.reply(
            conversation,
            body,
            request.POST.get("idempotency_key") or None,
            acting_member=request.member,
        )
    return after_send(request, conversation, error, draft=body if error else "")


def note(request, conversation: Conversation, body: str):
    """A private note for the team, written in the composer's Note mode."""
    error = ""
    if not body:
        error = _("Write the note before saving it.")
    else:
        try:
            notes.add_note(conversation, body, acting_member=request.member)
        except Refused as exc:
            error = str(exc)
    return after_send(request, conversation, error, draft=body if error else "", note_mode=True)


@operator_view
def canned_picker(request, conversation_id: int):
    """The composer's `/` picker: canned replies whose shortcode starts with what follows the
    slash, each rendered for this conversation (plain text, escaped by the template)."""
    conversation = load(request, conversation_id)
    q = request.GET.get("q", "")[:32]
    replies = [
        (reply, canned_replies.render_canned(reply, conversation, request.member))
        for reply in canned_replies.search_canned_replies(request.org, q, limit=10)
    ]
    return render(request, "inbox/_canned.html", {"replies": replies, "q": q})


@operator_view
@require_POST
def toggle_tag(request, conversation_id: int):
    """Put a tag on, or take it off, the conversation or its contact."""
    conversation = load(request, conversation_id)
    post = request.POST
    tag = get_for_org_or_404(request.org, Tag, pk=number(post.get("tag")) or 0)
    on_contact = post.get("on") == "contact"
    adding = post.get("do") != "remove"
    error = ""
    try:
        if on_contact:
            change_tag = tags.tag_contact if adding else tags.untag_contact
            change_tag(conversation.contact, tag, acting_member=request.member)
        else:
            change_tag = tags.tag_conversation if adding else tags.untag_conversation
            change_tag(conversation, tag, acting_member=request.member)
    except Refused as exc:
        error = str(exc)
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.id)
    context = contact_context(request, conversation, tag_error=error)
    response = render(request, "inbox/_contact.html", context, status=409 if error else 200)
    return trigger_client_event(response, "conversa:changed", {"conversation_id": conversation.pk})


@operator_view
@require_POST
def send_template(request, conversation_id: int):
    conversation = load(request, conversation_id)
    name = request.POST.get("template_name", "").strip()
    language = request.POST.get("template_language", "").strip()
    variables = [v.strip() for v in request.POST.get("template_variables", "").splitlines()]
    variables = [v for v in variables if v]
    error = ""
    if not resend.TEMPLATE_NAME.match(name):
        error = _("A template name has lowercase letters, digits and underscores only.")
    elif not resend.TEMPLATE_LANGUAGE.match(language):
        error = _("Choose the template's language.")
    elif len(variables) > 20 or any(len(v) > 1024 for v in variables):
        error = _("At most 20 values, each up to 1024 characters.")
    if not error:
        key = request.POST.get("idempotency_key") or str(uuid.uuid4())
        template = {"name": name, "language": language, "variables": variables}
        resend.send_template(conversation, template, f"chat:{key}", acting_member=request.member)
    draft = {"name": name, "language": language, "variables": "\n".join(variables)}
    return after_send(request, conversation, error, template_draft=draft if error else None)


@operator_view
@require_POST
def retry(request, conversation_id: int, message_id: int):
    conversation = load(request, conversation_id)
    message = get_for_org_or_404(request.org, Message, pk=message_id, conversation=conversation)
    # Already retried or no longer failed: a refusal, which the page shows (operator_view).
    resend.retry(message, acting_member=request.member)
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.id)
    return render(request, "inbox/_messages.html", messages_context(conversation))


def snooze_presets(now: datetime | None = None) -> dict[str, datetime]:
    """The header's snooze choices as instants, in the organization's time zone (the view's
    current one): in an hour, tomorrow at 9:00, next Monday at 9:00."""
    now = timezone.localtime(now)
    nine = time(9, 0)
    tomorrow = now.date() + timedelta(days=1)
    monday = now.date() + timedelta(days=7 - now.weekday())
    tz = timezone.get_current_timezone()
    return {
        "hour": now + timedelta(hours=1),
        "tomorrow": datetime.combine(tomorrow, nine, tz),
        "next_week": datetime.combine(monday, nine, tz),
    }


def snooze_until(choice: str, at: str) -> datetime | None:
    """When a snooze ends: a preset, a local date and time typed in the form ("at"), or None
    for the customer's next message."""
    if choice == "reply":
        return None
    presets = snooze_presets()
    if choice in presets:
        return presets[choice]
    try:
        moment = parse_datetime(at.strip()[:64]) if at else None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if moment is not None and moment > timezone.now() + states.MAX_SNOOZE:
            raise Refused(_("Snooze for at most a year."))
    except (ValueError, OverflowError):  # an impossible date, or one at the calendar's edge
        moment = None
    if moment is None:
        raise Refused(_("Choose when the snooze ends."))
    return moment


def change(request, conversation: Conversation, action: str) -> None:
    """Apply one ownership or state change through the ownership and states services."""
    member, post = request.member, request.POST
    reason = post.get("reason", "").strip()[:500]
    if action == "claim":
        ownership.claim(conversation, acting_member=member)
    elif action == "release":
        ownership.release(conversation, acting_member=member)
    elif action == "assign":
        to = get_for_org_or_404(request.org, Member, pk=number(post.get("member")) or 0)
        ownership.assign(conversation, to, acting_member=member)
    elif action == "transfer":
        target = post.get("target", "")
        kind, _sep, pk = target.partition(":")
        to_member = to_queue = None
        if kind == "m":
            to_member = get_for_org_or_404(request.org, Member, pk=number(pk) or 0)
        elif kind == "q":
            to_queue = get_for_org_or_404(request.org, Queue, pk=number(pk) or 0)
        ownership.transfer(
            conversation,
            acting_member=member,
            to_member=to_member,
            to_queue=to_queue,
            note=post.get("note", "").strip()[:1000],
        )
        helpers.summarize_on(conversation, "transfer", acting_member=member)
    elif action == "resolve":
        survey.resolve(conversation, acting_member=member, reason=reason)
        helpers.summarize_on(conversation, "resolve", acting_member=member)
    elif action == "reopen":
        states.reopen(conversation, acting_member=member, reason=reason)
    elif action == "pending":
        states.mark_pending(conversation, acting_member=member, reason=reason)
    elif action == "snooze":
        until = snooze_until(post.get("until", ""), post.get("at", ""))
        states.snooze(conversation, acting_member=member, until=until, reason=reason)
    elif action == "priority":
        priority = number(post.get("priority"))
        states.set_priority(
            conversation, -1 if priority is None else priority, acting_member=member
        )
    else:
        raise Http404("No such action")


@operator_view
@require_POST
def act(request, conversation_id: int, action: str):
    """Claim, release, assign, transfer, resolve or reopen. A refusal (someone claimed it
    first) is shown in the header, saying who has it."""
    conversation = load(request, conversation_id)
    error = ""
    try:
        change(request, conversation, action)
    except Forbidden:
        raise  # not a clash to show in the header: the role may not (operator_view answers)
    except Refused as exc:
        error = str(exc)
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.id)
    conversation = load(request, conversation_id)
    context = {
        **head_context(request, conversation, action_error=error),
        **messages_context(conversation),
        "oob": True,
    }
    response = render(request, "inbox/_thread_head.html", context, status=409 if error else 200)
    # The list's tabs and counts change with ownership: the page refreshes it at once.
    return trigger_client_event(response, "conversa:changed", {"conversation_id": conversation.pk})
