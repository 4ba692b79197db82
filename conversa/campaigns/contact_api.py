"""The contacts' API: the list (the Contacts page's search, filters, sorts and cursor), a
contact with its consent history, editing its name and custom fields, and the audited
actions: block, unblock, opt out, opt back in (each with a reason), and recording a consent
(channel "api"). Every lookup is scoped to the caller's organization (another's contact is a
404); the services check, record and audit."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from conversa.accounts.scoping import get_for_org_or_404
from conversa.bounds import MAX_LIMIT, Id
from conversa.campaigns import consent as consents
from conversa.campaigns import contact_listing
from conversa.campaigns import contacts as services
from conversa.campaigns.models import Consent
from conversa.crm import followups
from conversa.inbox.models import Contact

router = Router(tags=["contacts"])

CURSOR_LENGTH = 400


class ContactTag(Schema):
    id: int
    name: str


class ContactListRow(Schema):
    id: int
    name: str
    phone: str
    tags: list[ContactTag]
    marketing_consent: bool
    opted_out: bool
    blocked: bool
    custom_fields: dict[str, str]
    created_at: datetime
    last_message_at: datetime
    has_open_conversation: bool


class ContactListPage(Schema):
    contacts: list[ContactListRow]
    next_cursor: str | None
    count: int = Field(description=f"how many match, up to {contact_listing.COUNT_CAP + 1}")


class ConsentRecordOut(Schema):
    granted: bool
    channel: str
    evidence: str
    recorded_at: datetime
    recorded_by_id: int | None
    erased: bool


class ContactDetail(Schema):
    id: int
    name: str
    phone: str
    marketing_consent: bool
    opted_out: bool
    blocked: bool
    custom_fields: dict[str, str]
    created_at: datetime
    tags: list[ContactTag]
    consent_history: list[ConsentRecordOut]


class ContactChanges(Schema):
    name: str | None = Field(None, max_length=services.NAME_LENGTH)
    custom_fields: dict[str, str] | None = Field(
        None,
        max_length=services.MAX_FIELDS,
        description="the whole set: keys of 1-40 characters, values of at most 500; "
        "an empty value removes its field",
    )


class ActionReason(Schema):
    reason: str = Field(min_length=1, max_length=services.REASON_LENGTH)


class ConsentGiven(Schema):
    granted: bool
    evidence: str = Field(min_length=1, max_length=consents.EVIDENCE_LIMIT)


YesNo = Literal["", "yes", "no"]


def row(contact: Contact) -> dict:
    return {
        "id": contact.pk,
        "name": contact.name,
        "phone": contact.phone,
        "tags": [{"id": t.pk, "name": t.name} for t in contact.tags.all()],
        "marketing_consent": contact.marketing_consent,
        "opted_out": contact.opted_out,
        "blocked": contact.blocked,
        "custom_fields": contact.custom_fields or {},
        "created_at": contact.created_at,
        "last_message_at": contact.last_at,
        "has_open_conversation": contact.has_open,
    }


def detail(contact: Contact) -> dict:
    return {
        "id": contact.pk,
        "name": contact.name,
        "phone": contact.phone,
        "marketing_consent": contact.marketing_consent,
        "opted_out": contact.opted_out,
        "blocked": contact.blocked,
        "custom_fields": contact.custom_fields or {},
        "created_at": contact.created_at,
        "tags": [{"id": t.pk, "name": t.name} for t in contact.tags.order_by("name")],
        "consent_history": consents.history(contact),
    }


@router.get("/contacts", response=ContactListPage)
def list_contacts(
    request: HttpRequest,
    q: str = Query("", max_length=200, description="name, phone, tag or custom field"),
    consent: YesNo = "",
    opted_out: YesNo = "",
    blocked: YesNo = "",
    wrote_within_days: int | None = Query(None, ge=1, le=contact_listing.MAX_DAYS),
    open_conversation: YesNo = "",
    stage_id: Id | None = None,
    sort: Literal["name", "last", "created"] = "name",
    cursor: str = Query("", max_length=CURSOR_LENGTH, description="a page's `next_cursor`"),
    limit: int = Query(contact_listing.PAGE_SIZE, ge=1, le=MAX_LIMIT),
):
    """Contacts by name (A-Z), last message or creation (newest first), a page at a time:
    pass the answer's `next_cursor` for the next page. The count stops past 1000."""
    filters = contact_listing.Filters(
        q=q,
        consent=consent,
        opted_out=opted_out,
        blocked=blocked,
        wrote_within=wrote_within_days,
        open_conversation=open_conversation,
        stage=stage_id,
        sort=sort,
    )
    page = contact_listing.list_contacts(
        request.org, filters, cursor=cursor or None, limit=limit, count=not cursor
    )
    return {
        "contacts": [row(c) for c in page.contacts],
        "next_cursor": page.next_cursor,
        "count": page.count,
    }


@router.get("/contacts/{contact_id}", response=ContactDetail)
def get_contact(request: HttpRequest, contact_id: Id):
    return detail(get_for_org_or_404(request.org, Contact, pk=contact_id))


@router.patch("/contacts/{contact_id}", response=ContactDetail)
def patch_contact(request: HttpRequest, contact_id: Id, payload: ContactChanges):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    services.update_contact(
        contact,
        name=payload.name,
        custom_fields=payload.custom_fields,
        acting_member=request.member,
    )
    return detail(contact)


@router.post("/contacts/{contact_id}/block", response=ContactDetail)
def block(request: HttpRequest, contact_id: Id, payload: ActionReason):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    services.set_blocked(contact, True, reason=payload.reason, acting_member=request.member)
    return detail(contact)


@router.post("/contacts/{contact_id}/unblock", response=ContactDetail)
def unblock(request: HttpRequest, contact_id: Id, payload: ActionReason):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    services.set_blocked(contact, False, reason=payload.reason, acting_member=request.member)
    return detail(contact)


@router.post("/contacts/{contact_id}/opt-out", response=ContactDetail)
def opt_out(request: HttpRequest, contact_id: Id, payload: ActionReason):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    reason = services.clean_reason(payload.reason)
    followups.set_opted_out(contact, True, reason=reason, acting_member=request.member)
    return detail(contact)


@router.post("/contacts/{contact_id}/opt-in", response=ContactDetail)
def opt_in(request: HttpRequest, contact_id: Id, payload: ActionReason):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    reason = services.clean_reason(payload.reason)
    followups.set_opted_out(contact, False, reason=reason, acting_member=request.member)
    return detail(contact)


@router.post("/contacts/{contact_id}/consent", response={201: ContactDetail})
def record_consent(request: HttpRequest, contact_id: Id, payload: ConsentGiven):
    """Record a grant or a withdrawal of marketing consent, with its evidence (channel
    "api"): the contact's current consent becomes it."""
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    consents.record_consent(
        contact,
        granted=payload.granted,
        channel=Consent.Channel.API,
        evidence=payload.evidence,
        acting_member=request.member,
    )
    return Status(201, detail(contact))


class MergeIn(Schema):
    other_id: Id = Field(description="the contact merged into this one (it is deleted)")
    reason: str = Field(min_length=1, max_length=services.REASON_LENGTH)


@router.post("/contacts/{contact_id}/merge", response=ContactDetail)
def merge(request: HttpRequest, contact_id: Id, payload: MergeIn):
    """Merge another contact (one person seen as two) into this one: its conversations, leads,
    tags and consent move here and it is deleted. Supervisors and above; cannot be undone."""
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    other = get_for_org_or_404(request.org, Contact, pk=payload.other_id)
    services.merge_into(contact, other, reason=payload.reason, acting_member=request.member)
    return detail(contact)
