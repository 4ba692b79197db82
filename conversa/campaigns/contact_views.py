"""The Contacts pages: the list (search, filters, sorts, pages by keyset) and a contact's page
with its actions (edit, tags, consent, block, opt out, merge). Views stay thin: the listing
is `contact_listing`, each change one service call that checks and audits it. A refusal
shows on the contact's page, beside the forms, with what was typed kept."""

import re
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.campaigns import consent, contact_listing
from conversa.campaigns import contacts as services
from conversa.campaigns.contact_listing import MAX_DAYS, SORTS, YES_NO, Filters
from conversa.campaigns.models import Consent
from conversa.crm import followups
from conversa.crm.models import Lead, Stage
from conversa.engine import resend
from conversa.errors import Refused
from conversa.inbox import tags
from conversa.inbox.listing import COUNT_CAP, count_label
from conversa.inbox.models import Contact, Conversation, Tag
from conversa.numbers.models import Number
from conversa.web import number, operator_view, whole

# The first message's key as the form carries it (a UUID made when the page was drawn), so a
# double submit sends once; anything else gets a fresh one.
KEY = re.compile(r"[0-9a-f-]{36}")
# The languages the template field offers, as the inbox's composer does.
TEMPLATE_LANGUAGES = ["pt_BR", "en_US", "es"]

ACTIONS = {
    "block": lambda c, reason, m: services.set_blocked(c, True, reason=reason, acting_member=m),
    "unblock": lambda c, reason, m: services.set_blocked(c, False, reason=reason, acting_member=m),
    "opt-out": lambda c, reason, m: followups.set_opted_out(
        c, True, reason=services.clean_reason(reason), acting_member=m
    ),
    "opt-in": lambda c, reason, m: followups.set_opted_out(
        c, False, reason=services.clean_reason(reason), acting_member=m
    ),
}


def read_filters(params) -> Filters:
    def choice(name: str) -> str:
        value = params.get(name, "")
        return value if value in YES_NO else ""

    return Filters(
        q=params.get("q", "")[:200],
        consent=choice("consent"),
        opted_out=choice("opted_out"),
        blocked=choice("blocked"),
        wrote_within=whole(params.get("wrote_within"), most=MAX_DAYS) or None,
        open_conversation=choice("open"),
        stage=number(params.get("stage")),
        sort=params.get("sort") if params.get("sort") in SORTS else contact_listing.NAME,
    )


def filter_query(filters: Filters) -> str:
    """The filters as a query string, for the "more" link and the address bar."""
    pairs = {
        "q": filters.q,
        "consent": filters.consent,
        "opted_out": filters.opted_out,
        "blocked": filters.blocked,
        "wrote_within": filters.wrote_within or "",
        "open": filters.open_conversation,
        "stage": filters.stage or "",
        "sort": filters.sort,
    }
    return urlencode({k: v for k, v in pairs.items() if v})


@operator_view
def contact_list(request):
    """The list; to htmx, only the rows (a new filter's, or the next page's with `cursor`)."""
    filters = read_filters(request.GET)
    cursor = request.GET.get("cursor") or None
    page = contact_listing.list_contacts(request.org, filters, cursor=cursor, count=not cursor)
    context = {
        "page": page,
        "filters": filters,
        "query": filter_query(filters),
        "count_text": count_label(page.count, COUNT_CAP),
        "stages": scoped(request.org, Stage)
        .select_related("pipeline")
        .order_by("pipeline__name", "position"),
        "cursor": cursor,
    }
    if request.htmx and request.htmx.target in ("contact-list", "contact-more"):
        return render(request, "contacts/_rows.html", context)
    return render(request, "contacts/list.html", context)


def contact_context(request, contact: Contact, **extra) -> dict:
    conversations = (
        Conversation.objects.filter(contact=contact)
        .select_related("number", "assignee")
        .annotate(note_count=Count("notes"))
        .order_by("-last_message_at")
    )
    numbers = list(scoped(request.org, Number).order_by("name", "id"))
    for n in numbers:
        n.needs_template = services.needs_template(contact, n)
    return {
        "contact": contact,
        "numbers": numbers,
        "any_template_only": any(n.needs_template for n in numbers),
        "template_choices": resend.recent_templates(request.org.pk),
        "template_languages": TEMPLATE_LANGUAGES,
        "new_key": str(uuid.uuid4()),
        "identifiers": contact.identifiers,
        "applied": list(contact.tags.order_by("name")),
        "all_tags": list(scoped(request.org, Tag).order_by("name")),
        "fields": sorted((contact.custom_fields or {}).items()),
        "history": consent.history(contact),
        "conversations": list(conversations[:50]),
        "leads": list(
            Lead.objects.filter(contact=contact)
            .select_related("stage", "pipeline")
            .order_by("-updated_at")[:50]
        ),
        "channels": Consent.Channel,
        **extra,
    }


def load(request, contact_id: int) -> Contact:
    return get_for_org_or_404(request.org, Contact, pk=contact_id)


@operator_view
def contact_page(request, contact_id: int):
    contact = load(request, contact_id)
    contact = Contact.objects.prefetch_related("identities").get(pk=contact.pk)
    return render(request, "contacts/contact.html", contact_context(request, contact))


def refused_here(request, contact: Contact, exc: Refused, form: str):
    """The contact's page again, the refusal shown beside the form that caused it."""
    context = contact_context(
        request, contact, error=str(exc), error_form=form, posted=request.POST
    )
    return render(request, "contacts/contact.html", context, status=400)


def done(request, contact: Contact, text: str):
    messages.success(request, text)
    return redirect("contact", contact.pk)


@operator_view
@require_POST
def contact_edit(request, contact_id: int):
    contact = load(request, contact_id)
    keys = request.POST.getlist("field_key")[: services.MAX_FIELDS + 1]
    values = request.POST.getlist("field_value")[: services.MAX_FIELDS + 1]
    fields: dict[str, str] = {}
    for key, value in zip(keys, values, strict=False):
        if key.strip() or value.strip():
            fields[key.strip()] = value  # a value with no name is refused by the service
    try:
        services.update_contact(
            contact,
            name=request.POST.get("name", contact.name),
            custom_fields=fields,
            acting_member=request.member,
        )
    except Refused as exc:
        return refused_here(request, contact, exc, "edit")
    return done(request, contact, _("Contact saved."))


@operator_view
@require_POST
def contact_tags(request, contact_id: int):
    contact = load(request, contact_id)
    tag_id = number(request.POST.get("tag"))
    if tag_id is None:
        return redirect("contact", contact.pk)
    tag = get_for_org_or_404(request.org, Tag, pk=tag_id)
    if request.POST.get("do") == "remove":
        tags.untag_contact(contact, tag, acting_member=request.member)
    else:
        tags.tag_contact(contact, tag, acting_member=request.member)
    return redirect("contact", contact.pk)


@operator_view
@require_POST
def contact_consent(request, contact_id: int):
    """A member records a grant or a withdrawal, with the evidence they hold."""
    contact = load(request, contact_id)
    granted = request.POST.get("granted")
    try:
        if granted not in ("1", "0"):
            raise Refused(_("Say whether the contact agreed or withdrew."), field="granted")
        evidence = request.POST.get("evidence", "").strip()
        if not evidence:
            raise Refused(_("Write down the evidence: what they said, where and when."))
        consent.record_consent(
            contact,
            granted=granted == "1",
            channel=Consent.Channel.AGENT,
            evidence=evidence,
            acting_member=request.member,
        )
    except Refused as exc:
        return refused_here(request, contact, exc, "consent")
    return done(request, contact, _("Consent recorded."))


@operator_view
@require_POST
def contact_action(request, contact_id: int, action: str):
    contact = load(request, contact_id)
    if action not in ACTIONS:
        raise Http404("No such action")
    try:
        changed = ACTIONS[action](contact, request.POST.get("reason", ""), request.member)
    except Refused as exc:
        return refused_here(request, contact, exc, action)
    texts = {
        "block": _("Contact blocked: nothing will be sent to them."),
        "unblock": _("Contact unblocked."),
        "opt-out": _("Contact opted out of automated and campaign messages."),
        "opt-in": _("Contact opted back in."),
    }
    return done(request, contact, texts[action] if changed else _("Nothing to change."))


@operator_view
@require_POST
def contact_start(request, contact_id: int):
    """Write first to the contact from a number: a text, or a template where WhatsApp asks
    for one. The message's own page then shows what became of it."""
    contact = load(request, contact_id)
    sender = get_for_org_or_404(request.org, Number, pk=number(request.POST.get("number")) or 0)
    key = request.POST.get("idempotency_key", "")
    key = key if KEY.fullmatch(key) else str(uuid.uuid4())
    template = None
    if name := request.POST.get("template_name", "").strip():
        lines = request.POST.get("template_variables", "").splitlines()
        template = {
            "name": name,
            "language": request.POST.get("template_language", "").strip(),
            "variables": [v.strip() for v in lines if v.strip()],
        }
    try:
        intent = services.start_conversation(
            contact,
            sender,
            body=request.POST.get("body", ""),
            template=template,
            idempotency_key=key,
            acting_member=request.member,
        )
    except Refused as exc:
        return refused_here(request, contact, exc, "start")
    return redirect("intent", intent.pk)


@operator_view
def contact_merge(request, contact_id: int):
    """Merge another contact into this one (supervisors and above): find it by search,
    confirm, give the reason."""
    contact = load(request, contact_id)
    if not request.member.supervises:
        raise PermissionDenied
    other = None
    if other_id := number(request.POST.get("other") or request.GET.get("other")):
        other = get_for_org_or_404(request.org, Contact, pk=other_id)
    if request.method == "POST" and other is not None and request.POST.get("confirm") == "1":
        try:
            services.merge_into(
                contact, other, reason=request.POST.get("reason", ""), acting_member=request.member
            )
        except Refused as exc:
            return render(
                request,
                "contacts/merge.html",
                {"contact": contact, "other": other, "error": str(exc), "posted": request.POST},
                status=400,
            )
        return done(request, contact, _("Contacts merged."))
    q = request.GET.get("q", "")[:200].strip()
    found = []
    if q and other is None:
        page = contact_listing.list_contacts(request.org, Filters(q=q), limit=20, count=False)
        found = [c for c in page.contacts if c.pk != contact.pk]
    return render(
        request,
        "contacts/merge.html",
        {"contact": contact, "other": other, "q": q, "found": found},
    )
