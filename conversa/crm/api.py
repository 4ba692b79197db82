"""The CRM's API: pipelines and stages, leads (a PATCH with `stage_id` moves one), lead
timelines, automations with their steps, follow-up counters and dispatch.

Every lookup is scoped to the caller's organization (another's lead is a 404). Handlers stay
thin: the services check and record. `POST /api/internal/follow-ups/dispatch` is for a
scheduler outside the app: it takes the internal token (CONVERSA_INTERNAL_TOKEN) instead of
a member's session or API token.
"""

import hmac
import os
from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from ninja.security import HttpBearer

from conversa import cursors
from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id, IdOrZero, Money
from conversa.crm import automations, followups, services
from conversa.crm.models import Automation, AutomationStep, FollowUp, Lead, Pipeline, Stage
from conversa.cursors import Cursor, Limit
from conversa.errors import Conflict, Forbidden, Refused
from conversa.inbox import contacts
from conversa.inbox.models import Contact, Tag
from conversa.numbers.models import Number

router = Router(tags=["crm"])

# Schemas

StageColour = Stage.VALID_COLOUR.schema_type()


class StageOut(Schema):
    id: int
    name: str
    position: int
    colour: str
    is_won: bool
    is_lost: bool


class PipelineOut(Schema):
    id: int
    name: str
    custom_fields: list[str]
    stages: list[StageOut]


class StageIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    colour: StageColour = Field(Stage.DEFAULT_COLOUR, description='A hex colour: "#16a34a", "#0a0"')
    is_won: bool = False
    is_lost: bool = False
    position: int | None = Field(None, ge=0, le=1000, description="none: last")


class PipelineIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    stages: list[StageIn] = Field([], max_length=50)
    custom_fields: list[str] = Field([], description="keys of the leads' custom fields")


class ContactRef(Schema):
    id: int
    name: str
    phone: str


class LeadOut(Schema):
    id: int
    pipeline_id: int
    stage_id: int
    contact: ContactRef
    title: str
    value: Decimal
    owner_id: int | None
    notes: str
    custom_fields: dict[str, str]
    created_at: datetime
    updated_at: datetime
    stage_entered_at: datetime


class LeadIn(Schema):
    contact_id: Id | None = Field(None, description="an existing contact, or give `phone`")
    phone: str | None = Field(None, pattern=r"^\+?[0-9]{8,15}$")
    name: str = Field("", max_length=200, description="the new contact's name, with `phone`")
    pipeline_id: Id
    stage_id: Id | None = Field(None, description="none: the pipeline's first stage")
    title: str = Field(min_length=1, max_length=200)
    value: Money = Decimal("0")
    owner_id: Id | None = None
    notes: str = Field("", max_length=10000)
    custom_fields: dict[str, str] = {}


class LeadPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    value: Money | None = None
    owner_id: Id | None = None
    notes: str | None = Field(None, max_length=10000)
    custom_fields: dict[str, str] | None = None
    stage_id: Id | None = Field(None, description="move the lead (the same stage: nothing)")


class TimelineEntryOut(Schema):
    at: datetime
    kind: str
    verb: str
    data: dict


class StepIO(Schema):
    position: int | None = Field(None, description="answered; in a request, the list's order")
    delay: int = Field(0, ge=0)
    delay_unit: Literal["minutes", "hours", "days"] = "minutes"
    business_hours: bool = Field(False, description="then at the next business-hours slot")
    template: str = Field(max_length=AutomationStep.MAX_LENGTH)


class AutomationOut(Schema):
    id: int
    name: str
    pipeline_id: int
    stage_id: int
    tag_id: int | None
    owner_id: int | None
    number_id: int | None
    active: bool
    steps: list[StepIO]
    pending: int
    next_due_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AutomationIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    stage_id: Id
    tag_id: Id | None = None
    owner_id: Id | None = None
    number_id: Id | None = None
    active: bool = True
    steps: list[StepIO] = Field(min_length=1, max_length=20)


class PreviewIn(Schema):
    template: str = Field(max_length=AutomationStep.MAX_LENGTH)
    lead_id: Id


class FollowUpOut(Schema):
    id: int
    lead_id: int
    automation_id: int | None
    position: int
    intent_id: int
    due_at: datetime
    state: str
    cancel_reason: str
    cancelled_at: datetime | None
    body: str


class DispatchOut(Schema):
    at: datetime
    made_runnable: int
    queued: int
    progress: dict | None


class InternalDispatchIn(Schema):
    organization: str | None = Field(None, description="an organization's slug; none: all")


# Helpers


def lead_qs(request):
    return scoped(request.org, Lead).select_related("contact")


def member_or_404(request, member_id: Id | None) -> Member | None:
    return None if member_id is None else get_for_org_or_404(request.org, Member, pk=member_id)


def automation_out(automation: Automation, pending: dict) -> dict:
    count, next_due = pending.get(automation.pk, (0, None))
    return {
        **{f: getattr(automation, f) for f in AutomationOut.model_fields if hasattr(automation, f)},
        "pipeline_id": automation.stage.pipeline_id,
        "steps": list(automation.steps.all()),
        "pending": count,
        "next_due_at": next_due,
    }


def follow_up_out(f: FollowUp) -> dict:
    return {
        **{f_: getattr(f, f_) for f_ in FollowUpOut.model_fields if f_ not in {"body", "state"}},
        "state": str(f.state),
        "body": f.intent.body,
    }


# Pipelines and stages


@router.get("/crm/pipelines", response=list[PipelineOut])
def list_pipelines(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's pipelines by name with their stages in order, a page at a time."""
    found = scoped(request.org, Pipeline).prefetch_related("stages")
    return cursors.page(found, order=["name"], cursor=cursor, limit=limit, response=response)


@router.post("/crm/pipelines", response={201: PipelineOut})
def create_pipeline(request: HttpRequest, payload: PipelineIn):
    """A new pipeline with its stages (owners, admins, supervisors)."""
    pipeline = services.create_pipeline(
        request.org,
        payload.name,
        acting_member=request.member,
        stages=[stage.dict() for stage in payload.stages],
        custom_fields=payload.custom_fields,
    )
    return Status(201, pipeline)


@router.post("/crm/pipelines/{pipeline_id}/stages", response={201: StageOut})
def add_stage(request: HttpRequest, pipeline_id: Id, payload: StageIn):
    """A new stage in the pipeline, last unless `position` says where."""
    pipeline = get_for_org_or_404(request.org, Pipeline, pk=pipeline_id)
    stage = services.add_stage(pipeline, acting_member=request.member, **payload.dict())
    return Status(201, stage)


class FieldsIn(Schema):
    custom_fields: list[str] = Field(
        max_length=50, description="the whole set of keys the leads' {{lead.<key>}} may name"
    )


@router.put("/crm/pipelines/{pipeline_id}/fields", response=PipelineOut)
def set_fields(request: HttpRequest, pipeline_id: Id, payload: FieldsIn):
    """Declare the pipeline's custom fields (owners, admins, supervisors)."""
    pipeline = get_for_org_or_404(request.org, Pipeline, pk=pipeline_id)
    services.set_custom_fields(pipeline, payload.custom_fields, acting_member=request.member)
    return scoped(request.org, Pipeline).prefetch_related("stages").get(pk=pipeline.pk)


class StagePatch(Schema):
    """Only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=120)
    colour: StageColour | None = Field(None, description='A hex colour: "#16a34a", "#0a0"')
    is_won: bool | None = None
    is_lost: bool | None = None


@router.patch("/crm/stages/{stage_id}", response=StageOut)
def change_stage(request: HttpRequest, stage_id: Id, payload: StagePatch):
    """Rename, recolour or re-flag (won, lost) a stage (owners, admins, supervisors)."""
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    sent = payload.dict(exclude_unset=True)
    current = {f: getattr(stage, f) for f in ("name", "colour", "is_won", "is_lost")}
    wanted = {**current, **{k: v for k, v in sent.items() if v is not None}}
    return services.change_stage(stage, acting_member=request.member, **wanted)


class StageMoveIn(Schema):
    direction: Literal["up", "down"] = Field(description="one place earlier or later")


@router.post("/crm/stages/{stage_id}/move", response=PipelineOut)
def move_stage(request: HttpRequest, stage_id: Id, payload: StageMoveIn):
    """Move a stage one place in its pipeline (at either end it stays); the pipeline's stages
    in their new order."""
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    offset = -1 if payload.direction == "up" else 1
    services.move_stage(stage, offset, acting_member=request.member)
    return scoped(request.org, Pipeline).prefetch_related("stages").get(pk=stage.pipeline_id)


@router.delete("/crm/stages/{stage_id}", response={204: None})
def delete_stage(request: HttpRequest, stage_id: Id):
    """Delete an empty stage; one with leads, automations or history is a 409 saying why."""
    stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
    services.delete_stage(stage, acting_member=request.member)
    return Status(204, None)


# Leads


@router.get("/crm/leads", response=list[LeadOut])
def list_leads(
    request: HttpRequest,
    response: HttpResponse,
    pipeline_id: Id | None = None,
    stage_id: Id | None = None,
    owner_id: IdOrZero | None = None,
    q: str = Query("", max_length=200, description="title, contact name or number"),
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Leads, most recently changed first, filtered (`owner_id` 0: leads with no owner), a
    page at a time (`X-Next-Cursor`)."""
    leads = lead_qs(request)
    if pipeline_id is not None:
        leads = leads.filter(pipeline_id=pipeline_id)
    if stage_id is not None:
        leads = leads.filter(stage_id=stage_id)
    if owner_id == 0:
        leads = leads.filter(owner__isnull=True)
    elif owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    if q.strip():
        term = q.strip()
        leads = leads.filter(
            Q(title__icontains=term)
            | Q(contact__name__icontains=term)
            | Q(contact__phone__contains=term.lstrip("+"))
        )
    return cursors.page(leads, order=["-updated_at"], cursor=cursor, limit=limit, response=response)


@router.post("/crm/leads", response={201: LeadOut})
def create_lead(request: HttpRequest, payload: LeadIn):
    """A new lead in a stage (its pipeline's first by default): a stage entry, so the
    stage's automations fire."""
    pipeline = get_for_org_or_404(request.org, Pipeline, pk=payload.pipeline_id)
    if payload.stage_id is not None:
        stage = get_for_org_or_404(request.org, Stage, pk=payload.stage_id, pipeline=pipeline)
    else:
        stage = pipeline.stages.order_by("position", "id").first()
        if stage is None:
            raise Conflict("The pipeline has no stage")
    if payload.contact_id is not None:
        contact = get_for_org_or_404(request.org, Contact, pk=payload.contact_id)
    elif payload.phone:
        contact, _created = contacts.find_or_create_contact(
            request.org, phone=payload.phone, name=payload.name, acting_member=request.member
        )
    else:
        raise Refused("Give contact_id or phone")
    owner = member_or_404(request, payload.owner_id)
    lead = services.create_lead(
        contact,
        stage,
        payload.title,
        acting_member=request.member,
        value=payload.value,
        owner=owner,
        notes=payload.notes,
        custom_fields=payload.custom_fields,
    )
    return Status(201, lead_qs(request).get(pk=lead.pk))


@router.get("/crm/leads/{lead_id}", response=LeadOut)
def get_lead(request: HttpRequest, lead_id: Id):
    return get_for_org_or_404(request.org, Lead, pk=lead_id)


@router.patch("/crm/leads/{lead_id}", response=LeadOut)
def update_lead(request: HttpRequest, lead_id: Id, payload: LeadPatch):
    """Change a lead's fields; `stage_id` moves it (`move_lead`): into the stage it is in
    already, nothing happens and the answer is still 200."""
    lead = get_for_org_or_404(request.org, Lead, pk=lead_id)
    given = payload.dict(exclude_unset=True)
    stage_id = given.pop("stage_id", None)
    if "owner_id" in given:
        given["owner"] = member_or_404(request, given.pop("owner_id"))
    if given:
        services.update_lead(lead, acting_member=request.member, **given)
    if stage_id is not None:
        stage = get_for_org_or_404(request.org, Stage, pk=stage_id)
        services.move_lead(lead, stage, acting_member=request.member)
    return lead_qs(request).get(pk=lead.pk)


@router.get("/crm/leads/{lead_id}/timeline", response=list[TimelineEntryOut])
def lead_timeline(
    request: HttpRequest,
    response: HttpResponse,
    lead_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Stage moves, follow-ups (scheduled, sent, cancelled with reasons) and messages, newest
    first, a page at a time."""
    lead = get_for_org_or_404(request.org, Lead, pk=lead_id)
    found = services.timeline_page(lead, cursor=cursor, limit=limit)
    if found.next_cursor:
        response[cursors.HEADER] = found.next_cursor
    return found.rows


@router.get("/crm/leads/{lead_id}/follow-ups", response=list[FollowUpOut])
def lead_follow_ups(
    request: HttpRequest,
    response: HttpResponse,
    lead_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The lead's follow-ups, soonest due first, a page at a time."""
    lead = get_for_org_or_404(request.org, Lead, pk=lead_id)
    found = FollowUp.objects.filter(lead=lead).select_related("intent__job")
    return [
        follow_up_out(f)
        for f in cursors.page(
            found, order=["due_at"], cursor=cursor, limit=limit, response=response
        )
    ]


# Automations


def automation_args(request, payload: AutomationIn) -> dict:
    get = get_for_org_or_404
    return {
        "name": payload.name,
        "stage": get(request.org, Stage, pk=payload.stage_id),
        "tag": payload.tag_id and get(request.org, Tag, pk=payload.tag_id),
        "owner": member_or_404(request, payload.owner_id),
        "number": payload.number_id and get(request.org, Number, pk=payload.number_id),
        "active": payload.active,
        "steps": [step.dict(exclude={"position"}) for step in payload.steps],
    }


def automations_qs(request):
    return scoped(request.org, Automation).select_related("stage").prefetch_related("steps")


NEVER_DUE = 1e18  # an automation with nothing due sorts after every real time (in seconds)


@router.get("/crm/automations", response=list[AutomationOut])
def list_automations(
    request: HttpRequest,
    response: HttpResponse,
    pipeline_id: Id | None = None,
    stage_id: Id | None = None,
    active: bool | None = None,
    number_id: Id | None = None,
    sort: Literal["name", "-updated_at", "next_due_at"] = "name",
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Automations with their steps, pending steps and next due time, filtered and sorted, a
    page at a time (`X-Next-Cursor`)."""
    rows = automations_qs(request)
    if pipeline_id is not None:
        rows = rows.filter(stage__pipeline_id=pipeline_id)
    if stage_id is not None:
        rows = rows.filter(stage_id=stage_id)
    if active is not None:
        rows = rows.filter(active=active)
    if number_id is not None:
        rows = rows.filter(number_id=number_id)
    if sort != "next_due_at":
        order = ["-updated_at"] if sort == "-updated_at" else ["name"]
        shown = cursors.page(rows, order=order, cursor=cursor, limit=limit, response=response)
        pending = followups.schedules([a.pk for a in shown])
        return [automation_out(a, pending) for a in shown]
    # The next due time is computed from the follow-ups, and may be none (last): the page is
    # cut from the organization's automations in memory, ordered by a number that is never null.
    everything = list(rows)
    pending = followups.schedules([a.pk for a in everything])
    out = [automation_out(a, pending) for a in everything]
    for row in out:
        due = row["next_due_at"]
        row["due_order"] = due.timestamp() if due else NEVER_DUE
    return cursors.page(out, order=["due_order"], cursor=cursor, limit=limit, response=response)


@router.post("/crm/automations", response={201: AutomationOut})
def create_automation(request: HttpRequest, payload: AutomationIn):
    """A new automation; refused (422) with every problem at once, unknown variables named."""
    args = automation_args(request, payload)
    automation = automations.save_automation(request.org, acting_member=request.member, **args)
    return Status(201, automation_out(automations_qs(request).get(pk=automation.pk), {}))


@router.post("/crm/automations/preview", response=dict)
def preview_step(request: HttpRequest, payload: PreviewIn):
    """A step's message rendered for a lead; 422 naming unknown variables."""
    lead = get_for_org_or_404(request.org, Lead, pk=payload.lead_id)
    return {"text": automations.preview_step(payload.template, lead)}


@router.get("/crm/automations/{automation_id}", response=AutomationOut)
def get_automation(request: HttpRequest, automation_id: Id):
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    return automation_out(automation, followups.schedules([automation.pk]))


@router.put("/crm/automations/{automation_id}", response=AutomationOut)
def update_automation(request: HttpRequest, automation_id: Id, payload: AutomationIn):
    """Replace an automation's trigger, filters and steps (for stage entries from now on)."""
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    args = automation_args(request, payload)
    automations.save_automation(
        request.org, acting_member=request.member, automation=automation, **args
    )
    return get_automation(request, automation_id)


@router.post("/crm/automations/{automation_id}/pause", response=AutomationOut)
def pause_automation(request: HttpRequest, automation_id: Id):
    """Pause: fires nothing more, and its pending steps are cancelled."""
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    automations.set_automation_active(automation, False, acting_member=request.member)
    return get_automation(request, automation_id)


@router.post("/crm/automations/{automation_id}/resume", response=AutomationOut)
def resume_automation(request: HttpRequest, automation_id: Id):
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    automations.set_automation_active(automation, True, acting_member=request.member)
    return get_automation(request, automation_id)


@router.delete("/crm/automations/{automation_id}", response={204: None})
def delete_automation(request: HttpRequest, automation_id: Id):
    """Delete; its pending steps are cancelled, the leads keep their history."""
    automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    automations.delete_automation(automation, acting_member=request.member)
    return Status(204, None)


# Follow-ups: counters and dispatch


@router.get("/crm/follow-ups/counters", response=dict)
def follow_up_counters(request: HttpRequest, automation_id: Id | None = None):
    """Scheduled (still to go), sent, blocked, failed, cancelled by reason, duplicate-blocked."""
    automation = None
    if automation_id is not None:
        automation = get_for_org_or_404(request.org, Automation, pk=automation_id)
    return followups.counters(request.org, automation)


@router.post("/crm/follow-ups/dispatch", response=DispatchOut)
def dispatch(request: HttpRequest):
    """The "Dispatch now" button: make every due step runnable at once; the workers send."""
    return automations.dispatch_now(request.org, acting_member=request.member)


@router.get("/crm/follow-ups/dispatch/progress", response=dict)
def dispatch_progress(request: HttpRequest, since: datetime):
    """What became of the steps a dispatch (its `at`) made runnable: sent, deferred by the
    Gate's reason, failed by reason, in progress; `done` when none is left in progress."""
    return followups.dispatch_progress(request.org, since)


class InternalToken(HttpBearer):
    """CONVERSA_INTERNAL_TOKEN, compared in constant time: a missing header is a 401, a wrong
    token (or none configured) a 403."""

    def authenticate(self, request, token: str):
        expected = os.environ.get("CONVERSA_INTERNAL_TOKEN", "")
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise Forbidden("Not a valid internal token")
        return "internal"


@router.post("/internal/follow-ups/dispatch", response=dict, auth=InternalToken())
def internal_dispatch(request: HttpRequest, payload: InternalDispatchIn | None = None):
    """For a scheduler outside the app: the same dispatch as the button, for one organization
    (its slug) or all."""
    org = None
    if payload is not None and payload.organization:
        org = Organization.objects.filter(slug=payload.organization).first()
        if org is None:
            raise Http404("No such organization")
    result = followups.dispatch_due(org)
    return {**result, "at": result["at"].isoformat()}
