"""The campaigns' API: create and change drafts, start, pause, resume, cancel and clone them,
preview one contact's message, follow their progress and report, list and export their
recipients. Members read; owners, admins and supervisors change. Every lookup is scoped to
the caller's organization (another's campaign, number, segment, tag or import is a 404 or a
422 naming the field); the services in campaigns.sending check, record and audit, and a move
the campaign's state does not allow (starting it twice, changing one that started) is a 409."""

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import AfterValidator, AwareDatetime, StringConstraints

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id
from conversa.campaigns import campaign_export, messages, progress, sending
from conversa.campaigns.models import Campaign, CampaignRecipient
from conversa.cursors import Cursor, Limit
from conversa.engine.policy_api import SendingHours
from conversa.errors import Forbidden
from conversa.inbox.models import Contact

router = Router(tags=["campaigns"])

Ids = Annotated[list[Id], Field(max_length=sending.MAX_SOURCES)]
Variable = Annotated[str, StringConstraints(max_length=1024)]


def reachable(value: datetime) -> datetime:
    # Checked before any arithmetic: year 1 at +14:00 is no date at all in UTC.
    if not 2000 <= value.year <= 2999:
        raise ValueError("a date between the years 2000 and 2999")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(reachable)]


class CampaignTemplateIn(Schema):
    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$", description="the approved template's name")
    language: str = Field("pt_BR", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    variables: list[Variable] = Field(
        [],
        max_length=20,
        description="one text per placeholder, with {{contact.name}}-style variables",
    )


class CampaignIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    body: str = Field(
        "",
        max_length=messages.MAX_LENGTH,
        description="the text, with {{contact.first_name}}-style variables; empty with a template",
    )
    template: CampaignTemplateIn | None = Field(
        None, description="a pre-approved Cloud API template instead of free text"
    )
    number_ids: Ids = Field([], description="the numbers it sends from, in turn")
    segment_ids: Ids = []
    tag_ids: Ids = []
    import_ids: Ids = []
    start_at: Moment | None = Field(None, description="none: as soon as it is started")
    sending_hours: SendingHours | None = Field(
        None,
        description='when it may send, per weekday ({"mon": [["09:00", "18:00"]]}); none: any time',
    )
    pace_per_minute: int = Field(
        20, ge=0, le=sending.MAX_PACE, description="per number; 0: as fast as quotas allow"
    )
    reply_window_hours: int = Field(72, ge=1, le=sending.MAX_REPLY_WINDOW_HOURS)


class CampaignPatch(Schema):
    """Only the fields sent change (a draft only). Sending `body` drops the template and
    sending `template` drops the text, unless both are sent."""

    name: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, max_length=messages.MAX_LENGTH)
    template: CampaignTemplateIn | None = None
    number_ids: Ids | None = None
    segment_ids: Ids | None = None
    tag_ids: Ids | None = None
    import_ids: Ids | None = None
    start_at: Moment | None = None
    sending_hours: SendingHours | None = None
    pace_per_minute: int | None = Field(None, ge=0, le=sending.MAX_PACE)
    reply_window_hours: int | None = Field(None, ge=1, le=sending.MAX_REPLY_WINDOW_HOURS)


class CampaignOut(Schema):
    id: int
    name: str
    status: str
    body: str
    template: dict | None
    number_ids: list[int]
    segment_ids: list[int]
    tag_ids: list[int]
    import_ids: list[int]
    start_at: datetime | None
    sending_hours: dict
    pace_per_minute: int
    reply_window_hours: int
    cloned_from_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CampaignProgressOut(Schema):
    recipients: int
    queued: int
    sent: int = Field(description="sent, delivered and read are a funnel")
    delivered: int
    read: int
    replied: int
    failed: int
    cancelled: int
    skipped: dict[str, int] = Field(description="skip reason → how many")


class CampaignNumberShare(Schema):
    id: int
    name: str
    waiting: int = Field(description="its messages still to send")
    hold: str = Field(description="what holds them, in words; empty when it is free to send")


class CampaignDetail(CampaignOut):
    progress: CampaignProgressOut
    numbers: list[CampaignNumberShare]


class CampaignPreviewOut(Schema):
    contact_id: int
    body: str = Field(description="the text they would read (a template's readable preview)")
    template: dict | None = Field(description="the template with its values filled in")
    blank_variables: list[str]
    would_send: bool
    skip_reason: str = Field(description="why they would be skipped (a code); empty if not")
    why: str = Field(description="the skip reason in words")


class CampaignHourOut(Schema):
    hour: datetime
    sent: int
    delivered: int
    read: int
    replied: int


class CampaignReportOut(Schema):
    progress: CampaignProgressOut
    over_time: list[CampaignHourOut]


class CampaignRecipientOut(Schema):
    id: int
    contact_id: int
    name: str
    phone: str
    number_id: int | None
    outcome: str = Field(description="what became of their message, in words")
    skip_reason: str
    added_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    replied_at: datetime | None


def must_supervise(request: HttpRequest) -> None:
    if not request.member.supervises:
        raise Forbidden("Only owners, admins and supervisors change campaigns")


def campaign_or_404(request: HttpRequest, campaign_id: int) -> Campaign:
    return get_for_org_or_404(request.org, Campaign, pk=campaign_id)


def campaign_out(campaign: Campaign) -> dict:
    fields = {f: getattr(campaign, f) for f in CampaignOut.model_fields if hasattr(campaign, f)}
    return {
        **fields,
        "number_ids": sorted(n.pk for n in campaign.numbers.all()),
        "segment_ids": sorted(s.pk for s in campaign.segments.all()),
        "tag_ids": sorted(t.pk for t in campaign.tags.all()),
        "import_ids": sorted(i.pk for i in campaign.imports.all()),
    }


def detail(campaign: Campaign) -> dict:
    return {
        **campaign_out(campaign),
        "progress": progress.progress(campaign).as_dict(),
        "numbers": [
            {"id": s.number.pk, "name": s.number.name, "waiting": s.waiting, "hold": s.hold}
            for s in progress.number_shares(campaign)
        ],
    }


def template_of(given: CampaignTemplateIn | None) -> dict | None:
    return given.model_dump() if given is not None else None


def hours_of(given: dict | None) -> dict:
    return {day: [list(span) for span in spans] for day, spans in (given or {}).items()}


@router.get("/campaigns", response=list[CampaignOut])
def list_campaigns(
    request: HttpRequest,
    response: HttpResponse,
    status: Literal["", "draft", "running", "paused", "cancelled", "finished"] = "",
    cursor: Cursor = None,
    limit: Limit = 50,
):
    """Campaigns, newest first, a page at a time (`X-Next-Cursor`)."""
    found = scoped(request.org, Campaign).prefetch_related("numbers", "segments", "tags", "imports")
    if status:
        found = found.filter(status=status)
    return [
        campaign_out(c)
        for c in cursors.page(
            found, order=["-created_at"], cursor=cursor, limit=limit, response=response
        )
    ]


@router.post("/campaigns", response={201: CampaignDetail})
def create_campaign(request: HttpRequest, payload: CampaignIn):
    """A new draft campaign: its message (text or template), numbers, audience (segments,
    tags, imports) and pace. Nothing is sent until it is started."""
    must_supervise(request)
    draft = sending.Draft(
        **{
            **payload.model_dump(exclude={"template", "sending_hours"}),
            "template": template_of(payload.template),
            "sending_hours": hours_of(payload.sending_hours),
            **{key: tuple(getattr(payload, key)) for key in sending.SOURCES},
        }
    )
    campaign = sending.save_campaign(request.org, draft, acting_member=request.member)
    return Status(201, detail(campaign))


@router.get("/campaigns/{campaign_id}", response=CampaignDetail)
def get_campaign(request: HttpRequest, campaign_id: Id):
    """The campaign, its progress now and each number's messages still waiting."""
    return detail(campaign_or_404(request, campaign_id))


@router.patch("/campaigns/{campaign_id}", response=CampaignDetail)
def patch_campaign(request: HttpRequest, campaign_id: Id, payload: CampaignPatch):
    """Change a draft (409 once it has started: clone it instead)."""
    campaign = campaign_or_404(request, campaign_id)
    must_supervise(request)
    sent = payload.model_fields_set
    changes = {}
    for key in sent:
        value = getattr(payload, key)
        if key == "template":
            changes[key] = template_of(value)
        elif key == "sending_hours":
            changes[key] = hours_of(value)
        elif key in sending.SOURCES:
            changes[key] = tuple(value or ())
        elif key == "start_at" or value is not None:
            changes[key] = value
    if "body" in changes and "template" not in sent:
        changes["template"] = None
    if "template" in sent and "body" not in sent:
        changes["body"] = ""
    draft = sending.draft_of(campaign)
    for key, value in changes.items():
        setattr(draft, key, value)
    sending.save_campaign(request.org, draft, acting_member=request.member, campaign=campaign)
    return detail(campaign)


@router.post("/campaigns/{campaign_id}/start", response=CampaignDetail)
def start_campaign(request: HttpRequest, campaign_id: Id):
    """Start a draft: it takes its audience now and sends at its pace from its start time
    (409 when it has started already or is over)."""
    campaign = campaign_or_404(request, campaign_id)
    must_supervise(request)
    sending.start(campaign, acting_member=request.member)
    return detail(campaign)


@router.post("/campaigns/{campaign_id}/pause", response=CampaignDetail)
def pause_campaign(request: HttpRequest, campaign_id: Id):
    """Hold its messages not yet sending (409 unless it is sending)."""
    campaign = campaign_or_404(request, campaign_id)
    must_supervise(request)
    sending.pause(campaign, acting_member=request.member)
    return detail(campaign)


@router.post("/campaigns/{campaign_id}/resume", response=CampaignDetail)
def resume_campaign(request: HttpRequest, campaign_id: Id):
    """Send the rest from now, at its pace (409 unless it is paused)."""
    campaign = campaign_or_404(request, campaign_id)
    must_supervise(request)
    sending.resume(campaign, acting_member=request.member)
    return detail(campaign)


@router.post("/campaigns/{campaign_id}/cancel", response=CampaignDetail)
def cancel_campaign(request: HttpRequest, campaign_id: Id):
    """Stop it for good: its messages not yet sending are cancelled (409 when it is over)."""
    campaign = campaign_or_404(request, campaign_id)
    must_supervise(request)
    sending.cancel(campaign, acting_member=request.member)
    return detail(campaign)


@router.post("/campaigns/{campaign_id}/clone", response={201: CampaignDetail})
def clone_campaign(request: HttpRequest, campaign_id: Id):
    """A new draft with the campaign's message, audience, numbers and pace."""
    campaign = campaign_or_404(request, campaign_id)
    must_supervise(request)
    return Status(201, detail(sending.clone(campaign, acting_member=request.member)))


@router.get("/campaigns/{campaign_id}/preview", response=CampaignPreviewOut)
def preview_campaign(request: HttpRequest, campaign_id: Id, contact_id: Id):
    """The message the contact would receive, or why they would be skipped."""
    campaign = campaign_or_404(request, campaign_id)
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    found = sending.preview(campaign, contact)
    labels = dict(CampaignRecipient.Skip.choices)
    return {
        "contact_id": contact.pk,
        "body": found.rendered.body,
        "template": found.rendered.template,
        "blank_variables": found.rendered.blank,
        "would_send": not found.skip_reason,
        "skip_reason": found.skip_reason,
        "why": str(labels.get(found.skip_reason, "")),
    }


@router.get("/campaigns/{campaign_id}/report", response=CampaignReportOut)
def campaign_report(request: HttpRequest, campaign_id: Id):
    """Its counts now and, per hour, the messages sent, delivered and read and the replies."""
    campaign = campaign_or_404(request, campaign_id)
    return {
        "progress": progress.progress(campaign).as_dict(),
        "over_time": progress.over_time(campaign),
    }


@router.get("/campaigns/{campaign_id}/recipients", response=list[CampaignRecipientOut])
def campaign_recipients(
    request: HttpRequest,
    response: HttpResponse,
    campaign_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Its recipients in the order they were added, a page at a time (`X-Next-Cursor`),
    each with what became of their message."""
    campaign = campaign_or_404(request, campaign_id)
    everyone = progress.recipient_values(campaign)
    rows = cursors.page(everyone, order=["pk"], cursor=cursor, limit=limit, response=response)
    return [
        {
            "id": row["pk"],
            "contact_id": row["contact_id"],
            "name": row["contact__name"],
            "phone": row["contact__phone"],
            "number_id": row["number_id"],
            "outcome": progress.outcome(row),
            "skip_reason": row["skip_reason"],
            "added_at": row["added_at"],
            "sent_at": row["intent__job__message__sent_at"],
            "delivered_at": row["intent__job__message__delivered_at"],
            "read_at": row["intent__job__message__read_at"],
            "replied_at": row["replied_at"],
        }
        for row in rows
    ]


@router.get(
    "/campaigns/{campaign_id}/export",
    openapi_extra={
        "responses": {
            200: {
                "description": "the recipients, one row each (`format=xlsx`: a workbook)",
                "content": {
                    "text/csv": {
                        "schema": {"type": "string"},
                        "example": "phone,name,status,reason\n5511988887777,Ana Souza,read,\n",
                    }
                },
            }
        }
    },
)
def export_campaign(
    request: HttpRequest,
    campaign_id: Id,
    kind: Literal["csv", "xlsx"] = Query("csv", alias="format"),
):
    """Its recipients as a CSV (UTF-8 with a BOM) or XLSX file, one row per recipient with
    what became of their message; times in the organization's time zone. Recorded in the
    audit log."""
    campaign = campaign_or_404(request, campaign_id)
    return campaign_export.export(request, campaign, kind, acting_member=request.member)
