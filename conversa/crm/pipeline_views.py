"""The pipelines' settings page: pipelines, their stages and custom fields. Changes go
through the CRM's services."""

import re

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.crm import services
from conversa.crm.models import Automation, Lead, Pipeline, Stage
from conversa.crm.views import stages_of
from conversa.errors import Refused
from conversa.inbox.models import Tag
from conversa.web import number, operator_view

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
    if not request.member.supervises:
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
            stage.in_palette = stage.colour in PALETTE_VALUES
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
            acting_member=request.member,
            stages=[
                {"name": name, "colour": PALETTE_VALUES[index % len(PALETTE_VALUES)]}
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
        colour = palette_colour(draft["colour"], Stage.DEFAULT_COLOUR)
        if colour is None:
            raise Refused(_("Choose a colour of the palette."))
        services.add_stage(
            pipeline,
            draft["name"],
            acting_member=request.member,
            colour=colour,
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
        "colour": post.get("colour", ""),
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
        services.set_custom_fields(pipeline, keys, acting_member=request.member)
    except Refused as exc:
        return manage_page(
            request, pipeline, status=422, errors={"fields": str(exc)}, fields_draft=text
        )
    return back_to(pipeline, "fields")


@operator_view
@require_POST
def stage_edit(request, stage_id: int):
    """Rename, recolour or re-flag a stage (`services.change_stage`). No colour chosen keeps
    its colour (one the API set, outside the palette), or gives the default to a row saved
    with a colour pages may not print."""
    supervisor_only(request)
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    draft = stage_draft(request.POST)
    try:
        colour = palette_colour(draft["colour"], stage.safe_colour)
        if colour is None:
            raise Refused(_("Choose a colour of the palette."))
        services.change_stage(
            stage,
            acting_member=request.member,
            name=draft["name"],
            colour=colour,
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
    services.move_stage(stage, offset, acting_member=request.member)
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
        services.delete_stage(stage, acting_member=request.member)
    except Refused as exc:
        return stage_refused(request, stage, exc)
    return back_to(pipeline, "stages")
