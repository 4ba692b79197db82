import uuid
from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict, model_validator

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit
from conversa.engine import services
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.engine.queries import filter_intents, timeline
from conversa.errors import InvalidTransition
from conversa.inbox import contacts
from conversa.numbers.models import Number

router = Router(tags=["engine"])


class GateDecisionOut(Schema):
    number_id: int | None
    verdict: str
    reason_code: str
    reason: str
    defer_until: datetime | None
    created_at: datetime


class JobOut(Schema):
    id: int
    number_id: int
    status: str
    attempts: int
    provider_message_id: str
    last_error: str


class IntentOut(Schema):
    id: int
    origin: str
    status: str
    idempotency_key: str
    contact_id: int
    conversation_id: int | None
    body: str
    template: dict | None
    # Media ({"kind", "caption"}), a location, contact cards or a reaction; see engine/content.py.
    content: dict | None = None
    created_at: datetime
    decision: GateDecisionOut | None
    job: JobOut | None


def intent_out(intent: MessageIntent) -> dict:
    return {
        **{f: getattr(intent, f) for f in IntentOut.model_fields if f not in {"decision", "job"}},
        "decision": intent.latest_decision,
        "job": getattr(intent, "job", None),
    }


class TimelineEntry(Schema):
    at: datetime
    verb: str
    actor: str
    data: dict


class IntentDetail(IntentOut):
    decisions: list[GateDecisionOut]
    timeline: list[TimelineEntry]
    message_status: str | None


class TemplateIn(Schema):
    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$", description="the approved template's name")
    language: str = Field("pt_BR", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    variables: list[str] = Field([], max_length=20, description="the body's {{1}}, {{2}}…")


class IntentIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"phone": "5511988887777", "body": "Seu pedido 1234 saiu para entrega."},
                {
                    "phone": "5511988887777",
                    "template": {
                        "name": "pedido_enviado",
                        "language": "pt_BR",
                        "variables": ["Ana", "1234"],
                    },
                    "number_id": 42,
                },
            ]
        }
    )

    phone: str = Field(pattern=r"^\+?[0-9]{8,15}$", description="E.164, digits")
    body: str = Field("", max_length=4096, description="the text; empty when `template` is given")
    template: TemplateIn | None = Field(
        None, description="a pre-approved Cloud API template instead of free text"
    )
    number_id: Id | None = Field(
        None, description="the number to send from; none: the Gate picks one that may send now"
    )

    @model_validator(mode="after")
    def text_or_template(self):
        if bool(self.body.strip()) == bool(self.template):
            raise ValueError("give either a non-empty body or a template")
        return self


class ResolveIn(Schema):
    action: Literal["resend", "mark_failed"]


def template_preview(template: dict) -> str:
    """How a template reads in the inbox and the timeline: its name and its values."""
    values = " · ".join(template["variables"])
    return f"[{template['name']}] {values}".strip()


def intent_detail(intent: MessageIntent) -> dict:
    job = getattr(intent, "job", None)
    message = job.message if job else None
    return {
        **intent_out(intent),
        "decisions": list(intent.decisions.all()),
        "timeline": timeline(intent),
        "message_status": message.status if message else None,
    }


@router.get("/intents", response=list[IntentOut])
def list_intents(
    request: HttpRequest,
    response: HttpResponse,
    status: str | None = None,
    origin: str | None = None,
    job_status: str | None = None,
    number_id: Id | None = None,
    contact_id: Id | None = None,
    since: datetime | None = None,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Intents, newest first, with the Gate's latest decision and the job's status, filtered;
    a page at a time (the next page's cursor in `X-Next-Cursor`)."""
    intents = filter_intents(
        scoped(request.org, MessageIntent),
        status=status,
        origin=origin,
        job_status=job_status,
        number_id=number_id,
        contact_id=contact_id,
        since=since,
    )
    intents = intents.select_related("job").prefetch_related("decisions")
    rows = cursors.page(
        intents, order=["-created_at"], cursor=cursor, limit=limit, response=response
    )
    return [intent_out(intent) for intent in rows]


@router.post("/intents", response={200: IntentDetail, 201: IntentDetail})
def create_intent(
    request: HttpRequest,
    payload: IntentIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    """Send a text to a number (origin API). A repeated Idempotency-Key returns the first
    intent with 200 instead of creating another."""
    number = None
    if payload.number_id is not None:
        number = get_for_org_or_404(request.org, Number, pk=payload.number_id)
    template = payload.template.dict() if payload.template else None
    intent, created = services.create_intent(
        request.org,
        contact=contacts.find_or_create_contact(
            request.org, phone=payload.phone, acting_member=request.member
        )[0],
        body=payload.body or template_preview(template),
        template=template,
        origin=MessageIntent.Origin.API,
        idempotency_key=f"api:{idempotency_key}" if idempotency_key else f"api:{uuid.uuid4()}",
        number=number,
        created_by=request.member,
    )
    return Status(201 if created else 200, intent_detail(intent))


@router.get("/intents/{intent_id}", response=IntentDetail)
def get_intent(request: HttpRequest, intent_id: Id):
    """One intent with every Gate decision and its timeline."""
    return intent_detail(get_for_org_or_404(request.org, MessageIntent, pk=intent_id))


@router.post("/intents/{intent_id}/cancel", response={200: IntentDetail, 409: dict})
def cancel_intent(request: HttpRequest, intent_id: Id):
    """Cancel an intent that has not started sending."""
    intent = get_for_org_or_404(request.org, MessageIntent, pk=intent_id)
    services.cancel(intent, acting_member=request.member)
    return intent_detail(intent)


@router.post("/intents/{intent_id}/resolve", response={200: IntentDetail, 409: dict})
def resolve_intent(request: HttpRequest, intent_id: Id, payload: ResolveIn):
    """Settle an UNCERTAIN send: resend it, or mark it failed."""
    intent = get_for_org_or_404(request.org, MessageIntent, pk=intent_id)
    services.refuse_unless_settles(request.member, intent)  # before saying what state it is in
    job = getattr(intent, "job", None)
    if job is None or job.status != ExecutionJob.Status.UNCERTAIN:
        raise InvalidTransition("only an UNCERTAIN send can be resolved")
    services.resolve_uncertain(job, payload.action, acting_member=request.member)
    return intent_detail(intent)
