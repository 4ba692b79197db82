"""The CRM pages: a pipeline's board and list, a lead's page, the automations.

Every change goes through the CRM's services (`move_lead` is the one way a lead changes stage);
these views read, scope to the organization and render.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.crm import followups, queries, services
from conversa.crm.models import Automation, AutomationStep, Lead, Pipeline, Stage
from conversa.inbox import services as inbox
from conversa.inbox.listing import SUPERVISING
from conversa.inbox.models import Conversation, Tag
from conversa.inbox.teamwork import Refused
from conversa.inbox.views import number, operator_view
from conversa.instances.models import Instance

CARDS_PER_COLUMN = 50
LIST_PAGE_SIZE = 50
COLOUR = re.compile(r"^#[0-9a-fA-F]{3,8}$")
DEFAULT_COLOUR = "#64748b"


def safe_colour(value: str) -> str:
    """A stage's colour goes into a style attribute: only a hex colour gets there."""
    return value if value and COLOUR.match(value) else DEFAULT_COLOUR


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
    stages = list(pipeline.stages.order_by("position", "id"))
    for stage in stages:
        stage.safe_color = safe_colour(stage.color)
    return stages


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
        "can_manage": request.member.role in SUPERVISING,
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
        for lead in page:
            lead.stage.safe_color = safe_colour(lead.stage.color)
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
                contact, _created = inbox.find_or_create_contact(request.org, digits, draft["name"])
                lead = services.create_lead(
                    contact,
                    stage,
                    draft["title"],
                    by=request.member,
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
    lead.stage.safe_color = safe_colour(lead.stage.color)
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
    entries = services.lead_timeline(lead, limit=100)
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
                by=request.member,
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


def board_response(request, lead: Lead, *, status: int = 200) -> HttpResponse:
    """After a move from the board: every column's head (count and total) out of band, from
    the database, so the page's optimistic arithmetic is replaced by the truth."""
    page = urlsplit(request.htmx.current_url or "")
    filters = LeadFilters.from_params(QueryDict(page.query))
    columns = columns_for(request, lead.pipeline, filters)
    return render(request, "crm/_moved.html", {"columns": columns, "oob": True}, status=status)


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
            raise Refused(_("That stage no longer exists."), 404)
        services.move_lead(lead, stage, by=request.member)
    except Refused as exc:
        return refused(request, exc)
    if not request.htmx:
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("lead", args=[lead.pk])
        return redirect(back)
    return board_response(request, lead)


# Automations

SORTS = {
    "name": gettext_lazy("Name"),
    "next": gettext_lazy("Next run"),
    "pending": gettext_lazy("Pending steps"),
    "updated": gettext_lazy("Recently changed"),
}
STATUSES = ("active", "paused")
TIMING_EXACT, TIMING_BUSINESS = "exact", "business"


@dataclass
class AutomationFilters:
    stage: int | None = None
    status: str = ""
    instance: str = ""  # an instance's id, "any" (no number chosen) or "" (all)
    sort: str = "name"

    @classmethod
    def from_params(cls, params) -> "AutomationFilters":
        instance = params.get("instance", "")
        return cls(
            stage=number(params.get("event")),
            status=params.get("status", "") if params.get("status") in STATUSES else "",
            instance=instance if instance == "any" or instance.isdigit() else "",
            sort=params.get("sort") if params.get("sort") in SORTS else "name",
        )

    def query(self) -> str:
        params = {
            "event": self.stage or "",
            "status": self.status,
            "instance": self.instance,
            "sort": "" if self.sort == "name" else self.sort,
        }
        return urlencode({k: v for k, v in params.items() if v})

    @property
    def active(self) -> bool:
        return bool(self.stage or self.status or self.instance)


def automation_rows(request, filters: AutomationFilters) -> list:
    rows = queries.automations_of(request.org)
    if filters.stage:
        rows = rows.filter(stage_id=filters.stage)
    if filters.status:
        rows = rows.filter(active=filters.status == "active")
    if filters.instance == "any":
        rows = rows.filter(instance__isnull=True)
    elif filters.instance:
        rows = rows.filter(instance_id=int(filters.instance))
    rows = list(rows)
    schedule = followups.schedules([automation.pk for automation in rows])
    for automation in rows:
        decorate(automation, schedule.get(automation.pk))
    if filters.sort == "next":
        far = timezone.now() + timedelta(days=36500)
        rows.sort(key=lambda a: (a.next_run or far, a.name.lower()))
    elif filters.sort == "pending":
        rows.sort(key=lambda a: (-a.pending, a.name.lower()))
    elif filters.sort == "updated":
        rows.sort(key=lambda a: a.updated_at, reverse=True)
    return rows


def decorate(automation: Automation, schedule: tuple | None) -> Automation:
    automation.stage.safe_color = safe_colour(automation.stage.color)
    automation.pending, automation.next_run = schedule or (0, None)
    automation.step_list = sorted(automation.steps.all(), key=lambda step: step.position)
    for step in automation.step_list:
        step.delay_text = delay_text(step.delay, step.delay_unit, step.business_hours)
        step.parts = template_parts(step.template[:240])
        step.cut = len(step.template) > 240
    return automation


def delay_text(delay: int, unit: str, business_hours: bool = False) -> str:
    """ "At once", "after 2 days", "after 3 hours, in business hours"."""
    if delay == 0:
        text = _("at once")
    elif unit == "days":
        text = ngettext("after %(n)s day", "after %(n)s days", delay) % {"n": delay}
    elif unit == "hours":
        text = ngettext("after %(n)s hour", "after %(n)s hours", delay) % {"n": delay}
    else:
        text = ngettext("after %(n)s minute", "after %(n)s minutes", delay) % {"n": delay}
    if business_hours:
        text = _("%(when)s, in business hours") % {"when": text}
    return text


def template_parts(template: str) -> list[tuple[str, bool]]:
    """A message split into text and {{variables}}, for the row to mark the variables (each
    part escaped by the template)."""
    parts, at = [], 0
    for match in AutomationStep.PLACEHOLDER.finditer(template):
        if match.start() > at:
            parts.append((template[at : match.start()], False))
        parts.append((match.group(0), True))
        at = match.end()
    if at < len(template):
        parts.append((template[at:], False))
    return parts


def automations_context(request, **extra) -> dict:
    filters = AutomationFilters.from_params(request.GET)
    stages = (
        scoped(request.org, Stage)
        .filter(automations__isnull=False)
        .select_related("pipeline")
        .distinct()
        .order_by("pipeline__name", "position")
    )
    return {
        "filters": filters,
        "rows": automation_rows(request, filters),
        "event_stages": list(stages),
        "status_counts": scoped(request.org, Automation).aggregate(
            running=Count("id", filter=Q(active=True)), stopped=Count("id", filter=Q(active=False))
        ),
        "sorts": SORTS,
        "numbers": scoped(request.org, Instance).order_by("name"),
        "can_manage": request.member.role in SUPERVISING,
        "any_automation": scoped(request.org, Automation).exists(),
        "pipelines_many": scoped(request.org, Pipeline).count() > 1,
        **extra,
    }


@operator_view
def automations(request):
    """The automations as a flow-style list (trigger → steps), with filter chips and sorting;
    the list alone when its filters change."""
    context = automations_context(request)
    if request.htmx and request.htmx.target == "automation-list":
        response = render(request, "crm/_automation_list.html", context)
        if request.htmx.trigger == "automation-filters":
            query = context["filters"].query()
            response["HX-Push-Url"] = (
                f"{reverse('automations')}?{query}" if query else reverse("automations")
            )
        return response
    return render(request, "crm/automations.html", context)


def editor_context(request, automation: Automation | None, draft: dict | None = None, **extra):
    """The slide-over's form: what is saved (or the draft sent back with its problems), the
    choices, and each step's preview for a sample lead."""
    if draft is None:
        draft = draft_of(automation)
    stage = (
        scoped(request.org, Stage).filter(pk=draft["stage"] or 0).select_related("pipeline").first()
    )
    pipelines = list(
        scoped(request.org, Pipeline).prefetch_related("stages").order_by("created_at", "id")
    )
    if stage is None and pipelines:
        first = pipelines[0].stages.all()
        stage = first[0] if first else None
    lead, real = queries.sample_lead(request.org, stage, request.member)
    fields = (stage.pipeline.custom_fields if stage else []) or []
    for step in draft["steps"]:
        # An empty message is a problem on save, not while the form is still being filled.
        typed = step["template"].strip() or extra.get("error")
        step["problems"] = step_problems(step, fields) if typed else []
        step["preview"] = (
            AutomationStep.render(step["template"], lead)
            if step["template"].strip() and not step["problems"]
            else ""
        )
    return {
        "automation": automation,
        "draft": draft,
        "pipelines": pipelines,
        "tags": scoped(request.org, Tag).order_by("name"),
        "owners": scoped(request.org, Member).order_by("display_name"),
        "numbers": scoped(request.org, Instance).order_by("name"),
        "units": AutomationStep.Unit.choices,
        "sample": lead,
        "sample_is_real": real,
        "variables": AutomationStep.known_variables(fields),
        "blank": {**blank_step(), "problems": [], "preview": ""},
        **extra,
    }


def draft_of(automation: Automation | None) -> dict:
    if automation is None:
        return {
            "name": "",
            "stage": None,
            "tag": None,
            "owner": None,
            "instance": None,
            "active": True,
            "steps": [blank_step()],
        }
    return {
        "name": automation.name,
        "stage": automation.stage_id,
        "tag": automation.tag_id,
        "owner": automation.owner_id,
        "instance": automation.instance_id,
        "active": automation.active,
        "steps": [
            {
                "delay": str(step.delay),
                "delay_unit": step.delay_unit,
                "timing": TIMING_BUSINESS if step.business_hours else TIMING_EXACT,
                "template": step.template,
            }
            for step in automation.steps.order_by("position")
        ],
    }


def blank_step() -> dict:
    return {"delay": "0", "delay_unit": "minutes", "timing": TIMING_EXACT, "template": ""}


def draft_from(post) -> dict:
    """The form as sent: steps are parallel lists, in the order shown."""
    delays = post.getlist("step-delay")
    units = post.getlist("step-unit")
    timings = post.getlist("step-timing")
    templates = post.getlist("step-template")
    steps = [
        {
            "delay": (delays[i] if i < len(delays) else "0").strip()[:12],
            "delay_unit": units[i] if i < len(units) else "minutes",
            "timing": timings[i] if i < len(timings) else TIMING_EXACT,
            "template": templates[i][: AutomationStep.MAX_LENGTH + 100],
        }
        for i in range(min(len(templates), 25))
    ]
    return {
        "name": post.get("name", "").strip()[:200],
        "stage": number(post.get("stage")),
        "tag": number(post.get("tag")),
        "owner": number(post.get("owner")),
        "instance": number(post.get("instance")),
        "active": post.get("active") == "on",
        "steps": steps,
    }


def step_problems(step: dict, custom_fields: list[str]) -> list[str]:
    """One step's problems, for the line under it as it is typed (the service checks them all
    again on save)."""
    found = []
    if not step["delay"].isdigit():
        found.append(_("The delay is a whole number (0 for at once)."))
    found += AutomationStep.template_problems(step["template"], custom_fields)
    return found


def spec_of(step: dict) -> dict:
    return {
        "delay": int(step["delay"]) if step["delay"].isdigit() else -1,
        "delay_unit": step["delay_unit"],
        "business_hours": step["timing"] == TIMING_BUSINESS,
        "template": step["template"],
    }


def editor_response(request, automation, draft=None, *, status=200, **extra):
    context = editor_context(request, automation, draft, **extra)
    if request.htmx:
        return render(request, "crm/_automation_form.html", context, status=status)
    context.update(automations_context(request), editor=True)
    return render(request, "crm/automations.html", context, status=status)


@operator_view
def automation_editor(request, automation_id: int | None = None):
    """The slide-over: GET shows the form, POST saves through `services.save_automation`. From
    the page (htmx) a saved automation answers its row; a refusal answers the form again
    (422) with the service's words and each step's problems."""
    automation = (
        get_for_org_or_404(request.org, Automation, pk=automation_id) if automation_id else None
    )
    if request.method != "POST":
        return editor_response(request, automation)
    draft = draft_from(request.POST)
    lookups = {
        "stage": (Stage, draft["stage"]),
        "tag": (Tag, draft["tag"]),
        "owner": (Member, draft["owner"]),
        "instance": (Instance, draft["instance"]),
    }
    found = {
        name: scoped(request.org, model).filter(pk=pk).first() if pk else None
        for name, (model, pk) in lookups.items()
    }
    try:
        if found["stage"] is None:
            raise Refused(_("Choose the stage that starts the automation."))
        if any(not step["delay"].isdigit() for step in draft["steps"]):
            raise Refused(_("Each step's delay is a whole number (0 for at once)."))
        saved = services.save_automation(
            request.org,
            by=request.member,
            name=draft["name"],
            stage=found["stage"],
            steps=[spec_of(step) for step in draft["steps"]],
            tag=found["tag"],
            owner=found["owner"],
            instance=found["instance"],
            active=draft["active"],
            automation=automation,
        )
    except Refused as exc:
        return editor_response(request, automation, draft, status=exc.status, error=str(exc))
    if not request.htmx:
        return redirect("automations")
    return automation_row_response(request, saved)


def automation_row_response(request, automation: Automation, status: int = 200):
    automation = queries.automations_of(request.org).get(pk=automation.pk)
    decorate(automation, followups.schedules([automation.pk]).get(automation.pk))
    context = {"a": automation, "can_manage": request.member.role in SUPERVISING}
    return render(request, "crm/_automation_row.html", context, status=status)


@operator_view
@require_POST
def automation_check(request):
    """As the form is typed: each step's preview for the sample lead and its problems (out of
    band, by step), checked by the model's own rules."""
    draft = draft_from(request.POST)
    context = editor_context(request, None, draft)
    return render(request, "crm/_automation_check.html", context)


@operator_view
@require_POST
def automation_active(request, automation_id: int):
    """Pause (its pending steps are cancelled) or resume."""
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    try:
        services.set_automation_active(
            automation, request.POST.get("active") == "1", by=request.member
        )
    except Refused as exc:
        return refused(request, exc)
    if not request.htmx:
        return redirect("automations")
    return automation_row_response(request, automation)


@operator_view
@require_POST
def automation_delete(request, automation_id: int):
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    try:
        services.delete_automation(automation, by=request.member)
    except Refused as exc:
        return refused(request, exc)
    if not request.htmx:
        return redirect("automations")
    return HttpResponse("")


def refused(request, exc: Refused) -> HttpResponse:
    """A refusal: its words as plain text for the page's toast (htmx; 400 for invalid input or a clash,
    else its own status), or the usual error page."""
    status = 400 if exc.status in (409, 422) else exc.status
    if request.htmx or status not in (403, 404):
        return HttpResponse(str(exc), status=status, content_type="text/plain; charset=utf-8")
    if status == 403:
        raise PermissionDenied(str(exc))
    raise Http404(str(exc))


# Dispatch now


def parse_at(value: str):
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return at if timezone.is_aware(at) else None


def progress_context(request, at, queued: int | None = None) -> dict:
    progress = followups.dispatch_progress(request.org, at)
    reasons = queries.gate_reasons(request.org, progress["deferred"])
    progress["deferred_list"] = [
        (reasons.get(code) or code.replace("_", " "), n)
        for code, n in sorted(progress["deferred"].items(), key=lambda item: -item[1])
    ]
    progress["failed_list"] = sorted(progress["failed"].items(), key=lambda item: -item[1])
    total = progress["sent"] + progress["deferred_total"] + progress["failed_total"]
    phase = "done" if progress["done"] else ("processing" if total else "queued")
    return {
        "at": at.isoformat(),
        "p": progress,
        "phase": phase,
        "queued": queued,
        "total": total + progress["in_progress"] + progress["uncertain"],
    }


@operator_view
@require_POST
def dispatch(request):
    """The "Dispatch now" button: `services.dispatch_now` makes every due step runnable now;
    the overlay then follows that dispatch's progress."""
    try:
        result = services.dispatch_now(request.org, by=request.member)
    except Refused as exc:
        return refused(request, exc)
    context = progress_context(request, result["at"], queued=result["queued"])
    if not request.htmx:
        return redirect("automations")
    return render(request, "crm/_dispatch.html", context)


@operator_view
def dispatch_progress(request):
    """The overlay's poll: what became of the steps due when the dispatch was asked."""
    if request.member.role not in SUPERVISING:
        raise PermissionDenied
    at = parse_at(request.GET.get("at", ""))
    if at is None:
        raise Http404("No dispatch")
    queued = number(request.GET.get("queued"))
    return render(request, "crm/_dispatch.html", progress_context(request, at, queued))


# Pipelines: their stages and custom fields

# The colours a stage is given from the page (the API may set any hex colour): the tags'
# palette, as hex, each with the tag colour's name.
STAGE_PALETTE = [
    ("#64748b", Tag.Colour.GREY.label),
    ("#dc2626", Tag.Colour.RED.label),
    ("#ea580c", Tag.Colour.ORANGE.label),
    ("#ca8a04", Tag.Colour.YELLOW.label),
    ("#16a34a", Tag.Colour.GREEN.label),
    ("#0d9488", Tag.Colour.TEAL.label),
    ("#0ea5e9", Tag.Colour.BLUE.label),
    ("#8b5cf6", Tag.Colour.PURPLE.label),
    ("#db2777", Tag.Colour.PINK.label),
]
PALETTE_VALUES = [value for value, _label in STAGE_PALETTE]
MAX_NEW_STAGES = 20


def supervisor_only(request) -> None:
    if request.member.role not in SUPERVISING:
        raise PermissionDenied(_("Only owners, admins and supervisors manage this."))


def manage_context(request, pipeline: Pipeline | None, **extra) -> dict:
    """The page: every pipeline (with its counts), and the chosen one's stages, each with how
    many leads and automations it has."""
    pipelines = list(
        scoped(request.org, Pipeline)
        .annotate(n_stages=Count("stages", distinct=True), n_leads=Count("leads", distinct=True))
        .order_by("created_at", "id")
    )
    stages = []
    if pipeline is not None:
        stages = stages_of(pipeline)
        leads = dict(
            scoped(request.org, Lead)
            .filter(pipeline=pipeline)
            .order_by()
            .values_list("stage_id")
            .annotate(n=Count("id"))
        )
        automations = dict(
            scoped(request.org, Automation)
            .filter(stage__pipeline=pipeline)
            .order_by()
            .values_list("stage_id")
            .annotate(n=Count("id"))
        )
        for stage in stages:
            stage.lead_count = leads.get(stage.pk, 0)
            stage.automation_count = automations.get(stage.pk, 0)
            stage.in_palette = stage.color in PALETTE_VALUES
    extra.setdefault("errors", {})
    extra.setdefault("draft", {})
    return {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "stages": stages,
        "palette": STAGE_PALETTE,
        "fields_text": ", ".join(pipeline.custom_fields or []) if pipeline else "",
        **extra,
    }


def manage_page(request, pipeline: Pipeline | None, *, status: int = 200, **extra):
    context = manage_context(request, pipeline, **extra)
    return render(request, "crm/pipelines.html", context, status=status)


def back_to(pipeline: Pipeline, anchor: str = ""):
    url = f"{reverse('pipelines')}?pipeline={pipeline.pk}"
    return redirect(f"{url}#{anchor}" if anchor else url)


def palette_colour(raw: str | None, default: str) -> str | None:
    """A colour chosen on the page: one of the palette's, the default when none was chosen,
    None when it is not one of them."""
    if not raw:
        return default
    return raw if raw in PALETTE_VALUES else None


@operator_view
def pipelines(request):
    """The pipelines' settings: GET lists them and shows the chosen one (`?pipeline=`, else
    the first); POST creates a pipeline with its first stages (one name per line), through
    `services.create_pipeline`."""
    supervisor_only(request)
    if request.method != "POST":
        wanted = number(request.GET.get("pipeline"))
        pipeline = (
            get_for_org_or_404(request.org, Pipeline, pk=wanted)
            if wanted
            else scoped(request.org, Pipeline).order_by("created_at", "id").first()
        )
        return manage_page(request, pipeline)
    draft = {
        "name": request.POST.get("name", "").strip()[:200],
        "stages": request.POST.get("stages", "")[:5000],
    }
    names = [" ".join(line.split()) for line in draft["stages"].splitlines()]
    names = [name for name in names if name]
    try:
        if not names:
            raise Refused(_("Give the pipeline at least one stage, one name per line."))
        if len(names) > MAX_NEW_STAGES:
            raise Refused(_("Up to %(n)s stages at first.") % {"n": MAX_NEW_STAGES})
        created = services.create_pipeline(
            request.org,
            draft["name"],
            by=request.member,
            stages=[
                {"name": name, "color": PALETTE_VALUES[index % len(PALETTE_VALUES)]}
                for index, name in enumerate(names)
            ],
        )
    except Refused as exc:
        current = scoped(request.org, Pipeline).order_by("created_at", "id").first()
        return manage_page(
            request, current, status=422, errors={"new": str(exc)}, draft={"new": draft}
        )
    return back_to(created)


@operator_view
@require_POST
def pipeline_add_stage(request, pipeline_id: int):
    """A new stage at the end of the pipeline, through `services.add_stage`."""
    supervisor_only(request)
    pipeline = get_for_org_or_404(request.org, Pipeline, pk=pipeline_id)
    draft = stage_draft(request.POST)
    try:
        colour = palette_colour(draft["color"], DEFAULT_COLOUR)
        if colour is None:
            raise Refused(_("Choose a colour of the palette."))
        services.add_stage(
            pipeline,
            draft["name"],
            by=request.member,
            color=colour,
            is_won=draft["outcome"] == "won",
            is_lost=draft["outcome"] == "lost",
        )
    except Refused as exc:
        return manage_page(
            request, pipeline, status=422, errors={"add": str(exc)}, draft={"add": draft}
        )
    return back_to(pipeline, "stages")


def stage_draft(post) -> dict:
    outcome = post.get("outcome", "")
    return {
        "name": post.get("name", "").strip()[:200],
        "color": post.get("color", ""),
        "outcome": outcome if outcome in ("won", "lost") else "",
    }


@operator_view
@require_POST
def pipeline_fields(request, pipeline_id: int):
    """The custom fields' keys, typed separated by commas, spaces or lines, through
    `services.set_custom_fields` (its refusal shown on the form)."""
    supervisor_only(request)
    pipeline = get_for_org_or_404(request.org, Pipeline, pk=pipeline_id)
    text = request.POST.get("fields", "")[:5000]
    keys = [key for key in re.split(r"[\s,;]+", text) if key]
    try:
        services.set_custom_fields(pipeline, keys, by=request.member)
    except Refused as exc:
        return manage_page(
            request, pipeline, status=422, errors={"fields": str(exc)}, fields_draft=text
        )
    return back_to(pipeline, "fields")


@operator_view
@require_POST
def stage_edit(request, stage_id: int):
    """Rename, recolour or re-flag a stage (`services.change_stage`). No colour chosen keeps
    its colour (one the API set, outside the palette)."""
    supervisor_only(request)
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    draft = stage_draft(request.POST)
    try:
        colour = palette_colour(draft["color"], stage.color)
        if colour is None:
            raise Refused(_("Choose a colour of the palette."))
        services.change_stage(
            stage,
            by=request.member,
            name=draft["name"],
            color=colour,
            is_won=draft["outcome"] == "won",
            is_lost=draft["outcome"] == "lost",
        )
    except Refused as exc:
        return stage_refused(request, stage, exc, draft)
    return back_to(stage.pipeline, f"stage-{stage.pk}")


def stage_refused(request, stage: Stage, exc: Refused, draft: dict | None = None):
    """The page again, the refusal shown on the stage's row (its edit form open with what was
    typed, when it was an edit)."""
    return manage_page(
        request,
        stage.pipeline,
        status=400 if exc.status in (409, 422) else exc.status,
        errors={"stage": stage.pk, "stage_error": str(exc)},
        draft={"stage": draft} if draft else {},
    )


@operator_view
@require_POST
def stage_move(request, stage_id: int):
    """One place earlier (`direction=up`) or later (`down`), through `services.move_stage`."""
    supervisor_only(request)
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        return HttpResponse(status=400)
    services.move_stage(stage, offset, by=request.member)
    return back_to(stage.pipeline, f"stage-{stage.pk}")


@operator_view
@require_POST
def stage_delete(request, stage_id: int):
    """Delete an empty stage (`services.delete_stage`); one with leads, automations or
    history is refused, the reason shown on its row."""
    supervisor_only(request)
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    pipeline = stage.pipeline
    try:
        services.delete_stage(stage, by=request.member)
    except Refused as exc:
        return stage_refused(request, stage, exc)
    return back_to(pipeline, "stages")
