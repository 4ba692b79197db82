"""The CRM pages: a pipeline's board and list, a lead's page (the automations are in
`automation_views`, the pipelines' settings in `pipeline_views`).

Every change goes through the CRM's services (`move_lead` is the one way a lead changes stage);
these views read, scope to the organization and render.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.crm import queries, services
from conversa.crm.models import Lead, Pipeline, Stage
from conversa.errors import NotFound, Refused
from conversa.inbox import contacts
from conversa.inbox.models import Conversation
from conversa.web import number, operator_view, refused

CARDS_PER_COLUMN = 50
LIST_PAGE_SIZE = 50


@dataclass
class LeadFilters:
    stage: int | None = None
    owner: int | None = None  # a member's id; 0 for "nobody"
    q: str = ""

    @classmethod
    def from_request(cls, request) -> "LeadFilters":
        return cls.from_params(request.GET)

    @classmethod
    def from_params(cls, params) -> "LeadFilters":
        owner = params.get("owner", "")
        return cls(
            stage=number(params.get("stage")),
            owner=0 if owner == "none" else number(owner),
            q=params.get("q", "").strip()[:200],
        )

    def apply(self, leads):
        if self.stage:
            leads = leads.filter(stage_id=self.stage)
        if self.owner == 0:
            leads = leads.filter(owner__isnull=True)
        elif self.owner:
            leads = leads.filter(owner_id=self.owner)
        if self.q:
            digits = re.sub(r"\D", "", self.q)
            match = Q(title__icontains=self.q) | Q(contact__name__icontains=self.q)
            if len(digits) >= 3:
                match |= Q(contact__phone__contains=digits)
            leads = leads.filter(match)
        return leads

    @property
    def active(self) -> bool:
        return bool(self.stage or self.owner is not None or self.q)

    def query(self, **extra) -> str:
        params = {
            "stage": self.stage or "",
            "owner": "none" if self.owner == 0 else (self.owner or ""),
            "q": self.q,
            **extra,
        }
        return urlencode({k: v for k, v in params.items() if v})


def current_pipeline(request) -> Pipeline | None:
    """The pipeline named in the address, else the organization's first one."""
    pipelines = scoped(request.org, Pipeline).order_by("created_at", "id")
    wanted = number(request.GET.get("pipeline"))
    if wanted:
        return get_for_org_or_404(request.org, Pipeline, pk=wanted)
    return pipelines.first()


def stages_of(pipeline: Pipeline) -> list[Stage]:
    return list(pipeline.stages.order_by("position", "id"))


def columns_for(request, pipeline: Pipeline, filters: LeadFilters) -> list[Stage]:
    """The board's columns: each stage with its lead count, total value and its first cards,
    in two queries (the sums, then the cards numbered within their stage)."""
    stages = stages_of(pipeline)
    leads = filters.apply(scoped(request.org, Lead).filter(pipeline=pipeline))
    totals = {
        row["stage_id"]: row
        for row in leads.values("stage_id").annotate(n=Count("id"), total=Sum("value"))
    }
    cards = (
        leads.select_related("contact", "owner")
        .annotate(rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=[F("id").desc()]))
        .filter(rank__lte=CARDS_PER_COLUMN)
        .order_by("-id")
    )
    by_stage: dict[int, list[Lead]] = {}
    for lead in cards:
        by_stage.setdefault(lead.stage_id, []).append(lead)
    for stage in stages:
        row = totals.get(stage.pk, {})
        stage.lead_count = row.get("n", 0)
        stage.total_value = Decimal(row.get("total") or 0).quantize(Decimal("0.01"))
        stage.cards = by_stage.get(stage.pk, [])
        stage.hidden_count = stage.lead_count - len(stage.cards)
    return stages


def query_with_pipeline(context) -> str:
    """The filters' query string, naming the pipeline when there is more than one."""
    extra = {"pipeline": context["pipeline"].pk} if len(context["pipelines"]) > 1 else {}
    return context["filters"].query(**extra)


def pipeline_context(request, **extra) -> dict:
    pipeline = current_pipeline(request)
    filters = LeadFilters.from_request(request)
    return {
        "pipeline": pipeline,
        "pipelines": list(scoped(request.org, Pipeline).order_by("created_at", "id")),
        "filters": filters,
        "owners": scoped(request.org, Member).order_by("display_name"),
        "can_manage": request.member.supervises,
        **extra,
    }


@operator_view
def board(request):
    context = pipeline_context(request, view="board")
    if context["pipeline"]:
        context["columns"] = columns_for(request, context["pipeline"], context["filters"])
    return render(request, "crm/board.html", context)


@operator_view
def board_fragment(request):
    """The board alone: redrawn when a realtime event says a lead changed, or after a move
    this page did not make."""
    context = pipeline_context(request, view="board")
    if not context["pipeline"]:
        return HttpResponse(status=204)
    context["columns"] = columns_for(request, context["pipeline"], context["filters"])
    response = render(request, "crm/_board.html", context)
    if request.htmx and request.htmx.trigger == "crm-filters":
        # Filtered from the form: the address keeps the filters for a reload or a link.
        response["HX-Push-Url"] = f"{reverse('pipeline')}?{query_with_pipeline(context)}"
    return response


@operator_view
def lead_list(request):
    context = pipeline_context(request, view="list")
    pipeline, filters = context["pipeline"], context["filters"]
    if pipeline:
        leads = (
            filters.apply(scoped(request.org, Lead).filter(pipeline=pipeline))
            .select_related("contact", "owner", "stage")
            .order_by("-id")
        )
        page = Paginator(leads, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            page=page,
            stages=stages_of(pipeline),
            list_query=filters.query(pipeline=pipeline.pk),
        )
    template = (
        "crm/_lead_table.html"
        if request.htmx and request.htmx.target == "lead-table"
        else "crm/list.html"
    )
    response = render(request, template, context)
    if request.htmx and pipeline and request.htmx.trigger == "crm-filters":
        path = reverse("lead-list")
        response["HX-Push-Url"] = f"{path}?{context['list_query']}"
    return response


def lead_form_context(request, pipeline: Pipeline, **extra) -> dict:
    return {
        "pipeline": pipeline,
        "pipelines": list(scoped(request.org, Pipeline).order_by("created_at", "id")),
        "stages": stages_of(pipeline),
        "owners": scoped(request.org, Member).order_by("display_name"),
        **extra,
    }


def phone_digits(raw: str) -> str:
    return re.sub(r"\D", "", raw or "")


@operator_view
def new_lead(request):
    """A lead for a contact found (or made) by phone, in a stage of the pipeline: through
    `services.create_lead`, so its arrival fires that stage's automations like any move."""
    source = request.POST if request.method == "POST" else request.GET
    pipeline = (
        get_for_org_or_404(request.org, Pipeline, pk=number(source.get("pipeline")) or 0)
        if number(source.get("pipeline"))
        else current_pipeline(request)
    )
    if pipeline is None:
        return redirect("pipeline")
    stages = stages_of(pipeline)
    draft = {
        "phone": source.get("phone", "").strip()[:32],
        "name": source.get("name", "").strip()[:200],
        "title": source.get("title", "").strip()[:300],
        "value": source.get("value", "").strip()[:32],
        "stage": number(source.get("stage")) or (stages[0].pk if stages else None),
        "owner": number(source.get("owner")) if "owner" in source else request.member.pk,
        "notes": source.get("notes", "")[:5000],
    }
    if request.method != "POST":
        return render(
            request,
            "crm/lead_new.html",
            lead_form_context(request, pipeline, draft=draft, errors={}),
        )
    errors = {}
    digits = phone_digits(draft["phone"])
    if not 8 <= len(digits) <= 15:
        errors["phone"] = _("A phone number has 8 to 15 digits, with the country code.")
    if not draft["title"]:
        errors["title"] = _("Say what the lead is about.")
    value = parse_value(draft["value"])
    if value is None:
        errors["value"] = _("The value is a number from 0 to 9,999,999,999.99.")
    stage = next((s for s in stages if s.pk == draft["stage"]), None)
    if stage is None:
        errors["stage"] = _("Choose a stage of this pipeline.")
    owner = None
    if draft["owner"]:
        owner = scoped(request.org, Member).filter(pk=draft["owner"]).first()
        if owner is None:
            errors["owner"] = _("Choose someone of your team.")
    if not errors:
        try:
            with transaction.atomic():
                contact, _created = contacts.find_or_create_contact(
                    request.org,
                    phone=draft["phone"],
                    name=draft["name"],
                    acting_member=request.member,
                )
                lead = services.create_lead(
                    contact,
                    stage,
                    draft["title"],
                    acting_member=request.member,
                    value=value,
                    owner=owner,
                    notes=draft["notes"],
                )
        except Refused as exc:
            errors["form"] = str(exc)
        else:
            return redirect("lead", lead_id=lead.pk)
    context = lead_form_context(request, pipeline, draft=draft, errors=errors)
    return render(request, "crm/lead_new.html", context, status=422)


def parse_value(raw: str) -> Decimal | None:
    """A value as typed: "1.500,50", "1,500.50", "R$ 1500" or "" (0); None when it is not one."""
    text = re.sub(r"^\s*(R\$|US\$|\$|€)?\s*", "", raw or "").replace(" ", "")
    if not text:
        return Decimal(0)
    if not re.fullmatch(r"[\d.,]+", text):
        return None
    if "," in text and "." in text:
        # The last separator is the decimal one.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        decimals = len(text.rsplit(",", 1)[1])
        text = (
            text.replace(",", ".")
            if decimals <= 2 and text.count(",") == 1
            else text.replace(",", "")
        )
    elif text.count(".") > 1 or (text.count(".") == 1 and len(text.rsplit(".", 1)[1]) == 3):
        text = text.replace(".", "")  # 1.500 is fifteen hundred, as typed in Brazil
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value >= Decimal("1e10"):
        return None
    return value.quantize(Decimal("0.01"))


def lead_context(request, lead: Lead, **extra) -> dict:
    lead = (
        scoped(request.org, Lead)
        .select_related("contact", "stage", "pipeline", "owner")
        .get(pk=lead.pk)
    )
    stages = stages_of(lead.pipeline)
    keys = lead.pipeline.custom_fields or []
    values = extra.pop("field_values", None) or lead.custom_fields or {}
    conversation = (
        scoped(request.org, Conversation)
        .filter(contact_id=lead.contact_id)
        .order_by("-last_message_at", "-id")
        .first()
    )
    return {
        "lead": lead,
        "stages": stages,
        "columns": stages,
        "owners": scoped(request.org, Member).order_by("display_name"),
        "fields": [(key, values.get(key, "")) for key in keys],
        "conversation": conversation,
        "timeline": timeline_of(lead),
        **extra,
    }


def timeline_of(lead: Lead) -> list[dict]:
    """The backend's timeline of the lead, with its times as datetimes for the template."""
    entries = services.timeline_page(lead, cursor=None, limit=100).rows
    for entry in entries:
        due = entry["data"].get("due_at")
        if isinstance(due, str):
            entry["data"]["due_at"] = datetime.fromisoformat(due)
    return entries


@operator_view
def lead_page(request, lead_id: int):
    lead = get_for_org_or_404(request.org, Lead, pk=lead_id)
    context = lead_context(request, lead)
    if request.htmx and request.htmx.target == "lead-timeline":
        return render(request, "crm/_timeline.html", context)
    return render(request, "crm/lead.html", context)


@operator_view
@require_POST
def edit_lead(request, lead_id: int):
    """Title, value, owner, notes and custom fields through `services.update_lead` (its stage
    moves through `move`); a refusal is shown on the form with what was typed."""
    lead = get_for_org_or_404(request.org, Lead, pk=lead_id)
    post = request.POST
    keys = lead.pipeline.custom_fields or []
    fields = {key: post.get(f"field-{key}", "").strip() for key in keys}
    draft = {
        "title": post.get("title", "").strip()[:300],
        "value": post.get("value", "").strip()[:32],
        "owner": number(post.get("owner")),
        "notes": post.get("notes", "")[:5000],
    }
    errors = {}
    value = parse_value(draft["value"])
    if value is None:
        errors["value"] = _("The value is a number from 0 to 9,999,999,999.99.")
    if not draft["title"]:
        errors["title"] = _("Say what the lead is about.")
    owner = (
        scoped(request.org, Member).filter(pk=draft["owner"]).first() if draft["owner"] else None
    )
    if draft["owner"] and owner is None:
        errors["owner"] = _("Choose someone of your team.")
    if not errors:
        try:
            services.update_lead(
                lead,
                acting_member=request.member,
                title=draft["title"],
                value=value,
                owner=owner,
                notes=draft["notes"],
                custom_fields={k: v for k, v in fields.items() if v},
            )
        except Refused as exc:
            errors["form"] = str(exc)
        else:
            return redirect("lead", lead_id=lead.pk)
    context = lead_context(request, lead, errors=errors, draft=draft, field_values=fields)
    return render(request, "crm/lead.html", context, status=422)


def board_response(request, lead: Lead, *, notice: str = "", status: int = 200) -> HttpResponse:
    """After a move from the board: every column's head (count and total) out of band, from
    the database, so the page's optimistic arithmetic is replaced by the truth; and what the
    move scheduled, which the page shows in a toast."""
    page = urlsplit(request.htmx.current_url or "")
    filters = LeadFilters.from_params(QueryDict(page.query))
    columns = columns_for(request, lead.pipeline, filters)
    context = {"columns": columns, "oob": True, "notice": notice}
    return render(request, "crm/_moved.html", context, status=status)


@operator_view
@require_POST
def move(request, lead_id: int):
    """Move a lead to another stage of its pipeline through `services.move_lead` (the same
    stage: nothing happens). From the board (htmx) the answer is the columns' heads; a refusal
    is a 4xx with the reason as plain text, and the page puts the card back."""
    lead = get_for_org_or_404(request.org, Lead, pk=lead_id)
    stage = scoped(request.org, Stage).filter(pk=number(request.POST.get("stage")) or 0).first()
    try:
        if stage is None:
            raise NotFound(_("That stage no longer exists."))
        change = services.move_lead(lead, stage, acting_member=request.member)
    except Refused as exc:
        return refused(request, exc)
    notice = queries.followup_notice(change)
    if not request.htmx:
        if notice:
            messages.info(request, notice)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("lead", args=[lead.pk])
        return redirect(back)
    return board_response(request, lead, notice=notice)
