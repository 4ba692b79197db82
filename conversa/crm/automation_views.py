"""The automations page: the flow-style list, the slide-over editor, Dispatch now and its
progress. Changes go through the CRM's services."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.crm import automations, followups, queries
from conversa.crm.models import Automation, AutomationStep, Pipeline, Stage
from conversa.errors import Refused
from conversa.inbox.models import Tag
from conversa.numbers.models import Number
from conversa.web import number, operator_view, refused, whole

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
    number: str = ""  # a number's id, "any" (no number chosen) or "" (all)
    sort: str = "name"

    @classmethod
    def from_params(cls, params) -> "AutomationFilters":
        chosen = params.get("number", "")
        return cls(
            stage=number(params.get("event")),
            status=params.get("status", "") if params.get("status") in STATUSES else "",
            number=chosen if chosen == "any" or number(chosen) else "",
            sort=params.get("sort") if params.get("sort") in SORTS else "name",
        )

    def query(self) -> str:
        params = {
            "event": self.stage or "",
            "status": self.status,
            "number": self.number,
            "sort": "" if self.sort == "name" else self.sort,
        }
        return urlencode({k: v for k, v in params.items() if v})

    @property
    def active(self) -> bool:
        return bool(self.stage or self.status or self.number)


def automation_rows(request, filters: AutomationFilters) -> list:
    rows = queries.automations_of(request.org)
    if filters.stage:
        rows = rows.filter(stage_id=filters.stage)
    if filters.status:
        rows = rows.filter(active=filters.status == "active")
    if filters.number == "any":
        rows = rows.filter(number__isnull=True)
    elif filters.number:
        rows = rows.filter(number_id=int(filters.number))
    rows = list(rows)
    schedule = followups.schedules([automation.pk for automation in rows])
    for automation in rows:
        decorate(automation, schedule.get(automation.pk))
    queries.explain_waits(request.org, rows)
    if filters.sort == "next":
        far = timezone.now() + timedelta(days=36500)
        rows.sort(key=lambda a: (a.next_run or far, a.name.lower()))
    elif filters.sort == "pending":
        rows.sort(key=lambda a: (-a.pending, a.name.lower()))
    elif filters.sort == "updated":
        rows.sort(key=lambda a: a.updated_at, reverse=True)
    return rows


def decorate(automation: Automation, schedule: tuple | None) -> Automation:
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
        "numbers": scoped(request.org, Number).order_by("name"),
        "can_manage": request.member.supervises,
        "any_automation": scoped(request.org, Automation).exists(),
        "pipelines_many": scoped(request.org, Pipeline).count() > 1,
        **extra,
    }


@operator_view
def automation_list(request):
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
        "numbers": scoped(request.org, Number).order_by("name"),
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
            "number": None,
            "active": True,
            "steps": [blank_step()],
        }
    return {
        "name": automation.name,
        "stage": automation.stage_id,
        "tag": automation.tag_id,
        "owner": automation.owner_id,
        "number": automation.number_id,
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
        "number": number(post.get("number")),
        "active": post.get("active") == "on",
        "steps": steps,
    }


def step_problems(step: dict, custom_fields: list[str]) -> list[str]:
    """One step's problems, for the line under it as it is typed (the service checks them all
    again on save)."""
    found = []
    if whole(step["delay"]) is None:
        found.append(_("The delay is a whole number (0 for at once)."))
    found += AutomationStep.template_problems(step["template"], custom_fields)
    return found


def spec_of(step: dict) -> dict:
    return {
        "delay": -1 if (delay := whole(step["delay"])) is None else delay,
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
    """The slide-over: GET shows the form, POST saves through `automations.save_automation`. From
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
        "number": (Number, draft["number"]),
    }
    found = {
        name: scoped(request.org, model).filter(pk=pk).first() if pk else None
        for name, (model, pk) in lookups.items()
    }
    try:
        if found["stage"] is None:
            raise Refused(_("Choose the stage that starts the automation."))
        if any(whole(step["delay"]) is None for step in draft["steps"]):
            raise Refused(_("Each step's delay is a whole number (0 for at once)."))
        saved = automations.save_automation(
            request.org,
            acting_member=request.member,
            name=draft["name"],
            stage=found["stage"],
            steps=[spec_of(step) for step in draft["steps"]],
            tag=found["tag"],
            owner=found["owner"],
            number=found["number"],
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
    context = {"a": automation, "can_manage": request.member.supervises}
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
        automations.set_automation_active(
            automation, request.POST.get("active") == "1", acting_member=request.member
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
        automations.delete_automation(automation, acting_member=request.member)
    except Refused as exc:
        return refused(request, exc)
    if not request.htmx:
        return redirect("automations")
    return HttpResponse("")


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
    """The "Dispatch now" button: `automations.dispatch_now` makes every due step runnable now;
    the overlay then follows that dispatch's progress."""
    try:
        result = automations.dispatch_now(request.org, acting_member=request.member)
    except Refused as exc:
        return refused(request, exc)
    context = progress_context(request, result["at"], queued=result["queued"])
    if not request.htmx:
        return redirect("automations")
    return render(request, "crm/_dispatch.html", context)


@operator_view
def dispatch_progress(request):
    """The overlay's poll: what became of the steps due when the dispatch was asked."""
    if not request.member.supervises:
        raise PermissionDenied
    at = parse_at(request.GET.get("at", ""))
    if at is None:
        raise Http404("No dispatch")
    queued = number(request.GET.get("queued"))
    return render(request, "crm/_dispatch.html", progress_context(request, at, queued))
