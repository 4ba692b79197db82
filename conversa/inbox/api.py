import uuid
from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from ninja import Field, Header, Query, Router, Schema
from ninja.errors import ValidationError
from ninja.responses import Status
from pydantic import AwareDatetime, BaseModel, ConfigDict

from conversa import cursors
from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.assistant import helpers
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit
from conversa.engine import outbox, resend
from conversa.engine import services as engine
from conversa.engine.api import IntentOut, intent_out
from conversa.errors import Conflict, Forbidden
from conversa.inbox import (
    canned_replies,
    deadlines,
    listing,
    media,
    notes,
    ownership,
    read_receipts,
    states,
    surveys,
    tags,
)
from conversa.inbox.access import conversation_for
from conversa.inbox.models import (
    MAX_SURVEY_OPEN_HOURS,
    Attachment,
    CannedReply,
    Contact,
    Conversation,
    Message,
    Note,
    Queue,
    Tag,
)
from conversa.inbox.views import MAX_REPLY_LENGTH
from conversa.surveys import services as survey

router = Router(tags=["inbox"])


# The list's rows are plain pydantic models read from the ORM's attributes by pydantic's own
# (compiled) code: ninja's Schema wraps every row in a Python getter that costs ~30 µs a row,
# a tenth of a whole list request's time.
class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    priority: int
    number_id: int
    queue_id: int | None
    assignee_id: int | None
    contact: ContactOut
    unread_count: int
    last_message_at: datetime
    snoozed_until: datetime | None = None
    resolved_at: datetime | None = None
    opened_at: datetime | None = None
    first_response_at: datetime | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None


# What a row reads, and no more: a page loads 50 of them, each with a dozen date columns.
ROW_COLUMNS = [
    *(name for name in ConversationOut.model_fields if name != "contact"),
    *(f"contact__{name}" for name in ContactOut.model_fields),
]


class MessageOut(Schema):
    id: int
    direction: str
    kind: str
    body: str
    status: str
    provider_message_id: str
    error: str
    created_at: datetime


class ReplyIn(Schema):
    body: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)


@router.get("/conversations", response=list[ConversationOut])
def list_conversations(
    request: HttpRequest,
    response: HttpResponse,
    tab: Literal["mine", "queue", "all"] | None = None,
    status: str | None = None,
    operator: Id | None = None,
    number: Id | None = None,
    tag: Id | None = None,
    q: str = Query("", max_length=200),
    cursor: str | None = None,
    limit: int = Query(listing.PAGE_SIZE, ge=1, le=listing.MAX_PAGE_SIZE),
):
    """The operator view's list: `tab` mine / queue / all (all: supervisors; the default for
    them, mine for others), filters, search over name, number and message text; newest
    activity first. The next page's cursor is in the `X-Next-Cursor` header (absent on the
    last page), each tab's count in `X-Tab-Counts` (`mine=3,queue=5,all=1000+`: counted up to
    1000, or 50 under a search)."""
    member = request.member
    default = listing.ALL if listing.ALL in listing.tabs_for(member) else listing.MINE
    filters = listing.Filters(status=status or "", operator=operator, number=number, tag=tag, q=q)
    page = listing.list_conversations(
        request.org,
        member,
        tab=tab or default,
        filters=filters,
        cursor=cursor,
        limit=limit,
        columns=ROW_COLUMNS,
    )
    if page.next_cursor:
        response["X-Next-Cursor"] = page.next_cursor
    cap = listing.count_cap(filters)
    response["X-Tab-Counts"] = ",".join(
        f"{t}={listing.count_label(n, cap)}" for t, n in page.counts.items()
    )
    return page.conversations


@router.get("/conversations/{conversation_id}/messages", response=list[MessageOut])
def list_messages(
    request: HttpRequest,
    response: HttpResponse,
    conversation_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The conversation's messages, oldest first, a page at a time (`X-Next-Cursor`)."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return cursors.page(
        conversation.messages.all(),
        order=["created_at"],
        cursor=cursor,
        limit=limit,
        response=response,
    )


@router.post("/conversations/{conversation_id}/reply", response={200: IntentOut, 201: IntentOut})
def send_reply(
    request: HttpRequest,
    conversation_id: Id,
    payload: ReplyIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    """Answer in a conversation. A repeated Idempotency-Key returns the first intent with 200."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    key = f"api:{idempotency_key}" if idempotency_key else None
    intent, created = engine.reply(
        conversation, payload.body.strip(), key, acting_member=request.member
    )
    return Status(201 if created else 200, intent_out(intent))


class ReactionIn(Schema):
    emoji: str = Field(
        max_length=8, description=f"one of {' '.join(outbox.REACTIONS)}; empty takes it back"
    )


def conversation_message(request: HttpRequest, conversation_id: int, message_id: int):
    conversation = conversation_for(request.org, request.member, conversation_id)
    return get_for_org_or_404(request.org, Message, pk=message_id, conversation=conversation)


@router.post(
    "/conversations/{conversation_id}/messages/{message_id}/reaction",
    response={200: IntentOut, 201: IntentOut},
)
def react(
    request: HttpRequest,
    conversation_id: Id,
    message_id: Id,
    payload: ReactionIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=100),
):
    """React to a customer's message (an empty emoji takes the reaction back). A reaction the
    Gate blocks is a 409 saying why; a repeated Idempotency-Key returns the first intent."""
    message = conversation_message(request, conversation_id, message_id)
    key = f"api:react:{message.pk}:{idempotency_key}:{payload.emoji}" if idempotency_key else None
    key = key or f"api:react:{message.pk}:{uuid.uuid4()}:{payload.emoji}"
    intent, created = outbox.react(message, payload.emoji, key[:255], acting_member=request.member)
    if intent.status == intent.Status.BLOCKED:
        raise Conflict(gettext(intent.latest_decision.reason))
    return Status(201 if created else 200, intent_out(intent))


@router.post(
    "/conversations/{conversation_id}/messages/{message_id}/retry",
    response={200: IntentOut, 201: IntentOut},
)
def retry_message(request: HttpRequest, conversation_id: Id, message_id: Id):
    """Send a failed outbound message again, as a new intent the Gate decides afresh; retried
    twice, it is sent once. Not a failed message: a 422 saying so."""
    message = conversation_message(request, conversation_id, message_id)
    intent, created = resend.retry(message, acting_member=request.member)
    return Status(201 if created else 200, intent_out(intent))


class AttachmentOut(Schema):
    id: int
    message_id: int | None
    kind: str
    state: str
    mime_type: str
    file_name: str
    size: int | None
    attempts: int
    next_attempt_at: datetime | None
    error: str


@router.post("/attachments/{attachment_id}/retry", response=AttachmentOut, tags=["media"])
def retry_attachment(request: HttpRequest, attachment_id: Id):
    """Put a customer's file whose download failed back in line (read as its conversation
    is: by those who may work on it)."""
    attachment = get_for_org_or_404(request.org, Attachment, pk=attachment_id)
    if attachment.message_id is not None:
        conversation_for(request.org, request.member, attachment.message.conversation_id)
    return media.retry_download(attachment, acting_member=request.member)


class AssignIn(Schema):
    member_id: Id


class TransferIn(Schema):
    member_id: Id | None = None
    queue_id: Id | None = None
    note: str = Field("", max_length=1000)


class ReasonIn(Schema):
    reason: str = Field("", max_length=500)


def changed(request: HttpRequest, conversation_id: Id, change) -> Conversation:
    """Apply an ownership change; a refusal is a 409 saying why (and who has it)."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    change(conversation)
    return scoped(request.org, Conversation).select_related("contact").get(pk=conversation.pk)


@router.post("/conversations/{conversation_id}/claim", response=ConversationOut)
def claim(request: HttpRequest, conversation_id: Id):
    """Take an unassigned conversation; 409 with `assignee` when someone has it already."""
    return changed(
        request, conversation_id, lambda c: ownership.claim(c, acting_member=request.member)
    )


@router.post("/conversations/{conversation_id}/release", response=ConversationOut)
def release(request: HttpRequest, conversation_id: Id):
    return changed(
        request, conversation_id, lambda c: ownership.release(c, acting_member=request.member)
    )


@router.post("/conversations/{conversation_id}/assign", response=ConversationOut)
def assign(request: HttpRequest, conversation_id: Id, payload: AssignIn):
    """A supervisor gives the conversation to an operator of the organization."""
    member = get_for_org_or_404(request.org, Member, pk=payload.member_id)
    return changed(
        request,
        conversation_id,
        lambda c: ownership.assign(c, member, acting_member=request.member),
    )


@router.post("/conversations/{conversation_id}/transfer", response=ConversationOut)
def transfer(request: HttpRequest, conversation_id: Id, payload: TransferIn):
    """To one operator (`member_id`) or one queue (`queue_id`), with a note (and the
    assistant's summary note when the organization turned that on)."""
    member = queue = None
    if payload.member_id is not None:
        member = get_for_org_or_404(request.org, Member, pk=payload.member_id)
    if payload.queue_id is not None:
        queue = get_for_org_or_404(request.org, Queue, pk=payload.queue_id)

    def transfer_it(conversation: Conversation) -> None:
        ownership.transfer(
            conversation,
            acting_member=request.member,
            to_member=member,
            to_queue=queue,
            note=payload.note,
        )
        # The assistant's summary note, when the organization turned it on.
        helpers.summarize_on(conversation, "transfer", acting_member=request.member)

    return changed(request, conversation_id, transfer_it)


@router.post("/conversations/{conversation_id}/resolve", response=ConversationOut)
def resolve(request: HttpRequest, conversation_id: Id, payload: ReasonIn):
    """Resolved (the satisfaction survey asked when it is on), with the assistant's summary
    note when the organization turned that on."""

    def resolve_it(conversation: Conversation) -> None:
        survey.resolve(conversation, acting_member=request.member, reason=payload.reason)
        helpers.summarize_on(conversation, "resolve", acting_member=request.member)

    return changed(request, conversation_id, resolve_it)


@router.post("/conversations/{conversation_id}/reopen", response=ConversationOut)
def reopen(request: HttpRequest, conversation_id: Id, payload: ReasonIn):
    return changed(
        request,
        conversation_id,
        lambda c: states.reopen(c, acting_member=request.member, reason=payload.reason),
    )


class SnoozeIn(Schema):
    # Empty: until the customer writes. Either way their next message wakes it.
    until: AwareDatetime | None = None
    reason: str = Field("", max_length=500)


class PriorityIn(Schema):
    priority: int = Field(ge=0, le=3, description="0 low, 1 normal, 2 high, 3 urgent")


@router.post("/conversations/{conversation_id}/pending", response=ConversationOut)
def mark_pending(request: HttpRequest, conversation_id: Id, payload: ReasonIn):
    """Waiting on the customer; their next message makes it open again."""
    return changed(
        request,
        conversation_id,
        lambda c: states.mark_pending(c, acting_member=request.member, reason=payload.reason),
    )


@router.post("/conversations/{conversation_id}/snooze", response=ConversationOut)
def snooze(request: HttpRequest, conversation_id: Id, payload: SnoozeIn):
    """Snoozed until `until` (an ISO time with its offset, in the future) or, without it,
    until the customer writes."""
    if payload.until is not None and payload.until <= timezone.now():
        raise ValidationError(
            [{"type": "value_error", "loc": ["body", "until"], "msg": "Not in the future."}]
        )
    if payload.until is not None and payload.until > timezone.now() + states.MAX_SNOOZE:
        raise ValidationError(
            [{"type": "value_error", "loc": ["body", "until"], "msg": "At most a year ahead."}]
        )
    return changed(
        request,
        conversation_id,
        lambda c: states.snooze(
            c, acting_member=request.member, until=payload.until, reason=payload.reason
        ),
    )


@router.post("/conversations/{conversation_id}/priority", response=ConversationOut)
def set_priority(request: HttpRequest, conversation_id: Id, payload: PriorityIn):
    return changed(
        request,
        conversation_id,
        lambda c: states.set_priority(c, payload.priority, acting_member=request.member),
    )


# Tags, canned replies and notes (conversa/inbox/tags.py, canned_replies.py, notes.py)


class TagOut(Schema):
    id: int
    name: str
    colour: str


TagColour = Tag.VALID_COLOUR.schema_type()


class TagIn(Schema):
    name: str = Field(min_length=1, max_length=50)
    colour: TagColour = Field(
        Tag.Colour.GREY, description="One of the palette's: " + ", ".join(Tag.Colour.values)
    )


class TagRef(Schema):
    tag_id: Id


class CannedReplyOut(Schema):
    id: int
    shortcode: str
    body: str
    updated_at: datetime


class CannedReplyIn(Schema):
    shortcode: str = Field(min_length=1, max_length=33)
    body: str = Field(min_length=1, max_length=CannedReply.MAX_LENGTH)


class RenderedOut(Schema):
    text: str


class NoteOut(Schema):
    id: int
    conversation_id: int
    author_id: int | None
    author_name: str
    # Written by the assistant (why it handed the conversation to the team).
    by_assistant: bool
    body: str
    created_at: datetime


class NoteIn(Schema):
    body: str = Field(min_length=1, max_length=Note.MAX_LENGTH)


@router.get("/tags", response=list[TagOut], tags=["tags"])
def list_tags(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's tags by name, a page at a time (`X-Next-Cursor`)."""
    tags_ = scoped(request.org, Tag)
    return cursors.page(tags_, order=["name"], cursor=cursor, limit=limit, response=response)


@router.post("/tags", response={201: TagOut}, tags=["tags"])
def create_tag(request: HttpRequest, payload: TagIn):
    """A new tag; 409 when the name exists in any case."""
    tag = tags.create_tag(request.org, payload.name, payload.colour, acting_member=request.member)
    return Status(201, tag)


@router.delete("/tags/{tag_id}", response={204: None}, tags=["tags"])
def delete_tag(request: HttpRequest, tag_id: Id):
    """Delete a tag: it leaves every conversation and contact."""
    tag = get_for_org_or_404(request.org, Tag, pk=tag_id)
    tags.delete_tag(tag, acting_member=request.member)
    return Status(204, None)


@router.post("/conversations/{conversation_id}/tags", response=list[TagOut], tags=["tags"])
def tag_conversation(request: HttpRequest, conversation_id: Id, payload: TagRef):
    """Put a tag on a conversation (again is fine); its tags afterwards."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    tag = get_for_org_or_404(request.org, Tag, pk=payload.tag_id)
    tags.tag_conversation(conversation, tag, acting_member=request.member)
    return conversation.tags.order_by("name", "id")


@router.delete(
    "/conversations/{conversation_id}/tags/{tag_id}", response=list[TagOut], tags=["tags"]
)
def untag_conversation(request: HttpRequest, conversation_id: Id, tag_id: Id):
    conversation = conversation_for(request.org, request.member, conversation_id)
    tag = get_for_org_or_404(request.org, Tag, pk=tag_id)
    tags.untag_conversation(conversation, tag, acting_member=request.member)
    return conversation.tags.order_by("name", "id")


@router.get("/conversations/{conversation_id}/tags", response=list[TagOut], tags=["tags"])
def conversation_tags(
    request: HttpRequest,
    response: HttpResponse,
    conversation_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    conversation = conversation_for(request.org, request.member, conversation_id)
    found = conversation.tags.all()
    return cursors.page(found, order=["name"], cursor=cursor, limit=limit, response=response)


@router.get("/contacts/{contact_id}/tags", response=list[TagOut], tags=["tags"])
def contact_tags(
    request: HttpRequest,
    response: HttpResponse,
    contact_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    found = contact.tags.all()
    return cursors.page(found, order=["name"], cursor=cursor, limit=limit, response=response)


@router.post("/contacts/{contact_id}/tags", response=list[TagOut], tags=["tags"])
def tag_contact(request: HttpRequest, contact_id: Id, payload: TagRef):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    tag = get_for_org_or_404(request.org, Tag, pk=payload.tag_id)
    tags.tag_contact(contact, tag, acting_member=request.member)
    return contact.tags.order_by("name", "id")


@router.delete("/contacts/{contact_id}/tags/{tag_id}", response=list[TagOut], tags=["tags"])
def untag_contact(request: HttpRequest, contact_id: Id, tag_id: Id):
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    tag = get_for_org_or_404(request.org, Tag, pk=tag_id)
    tags.untag_contact(contact, tag, acting_member=request.member)
    return contact.tags.order_by("name", "id")


@router.get("/canned-replies", response=list[CannedReplyOut], tags=["canned replies"])
def list_canned_replies(
    request: HttpRequest,
    response: HttpResponse,
    q: str = Query("", max_length=100),
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's canned replies by shortcode; with `q`, those whose shortcode starts
    with it (what follows the `/` typed in the composer). A page at a time (`X-Next-Cursor`)."""
    found = canned_replies.search_canned_replies(request.org, q, limit=None)
    return cursors.page(found, order=["shortcode"], cursor=cursor, limit=limit, response=response)


@router.post("/canned-replies", response={201: CannedReplyOut}, tags=["canned replies"])
def create_canned_reply(request: HttpRequest, payload: CannedReplyIn):
    """422 naming every problem (shortcode's form, unknown `{{variables}}`); 409 when the
    shortcode is taken."""
    reply = canned_replies.save_canned_reply(
        request.org, payload.shortcode, payload.body, acting_member=request.member
    )
    return Status(201, reply)


@router.get("/canned-replies/{reply_id}", response=CannedReplyOut, tags=["canned replies"])
def get_canned_reply(request: HttpRequest, reply_id: Id):
    return get_for_org_or_404(request.org, CannedReply, pk=reply_id)


@router.put("/canned-replies/{reply_id}", response=CannedReplyOut, tags=["canned replies"])
def update_canned_reply(request: HttpRequest, reply_id: Id, payload: CannedReplyIn):
    reply = get_for_org_or_404(request.org, CannedReply, pk=reply_id)
    return canned_replies.save_canned_reply(
        request.org, payload.shortcode, payload.body, acting_member=request.member, reply=reply
    )


@router.delete("/canned-replies/{reply_id}", response={204: None}, tags=["canned replies"])
def delete_canned_reply(request: HttpRequest, reply_id: Id):
    reply = get_for_org_or_404(request.org, CannedReply, pk=reply_id)
    canned_replies.delete_canned_reply(reply, acting_member=request.member)
    return Status(204, None)


@router.get(
    "/conversations/{conversation_id}/canned-replies/{reply_id}",
    response=RenderedOut,
    tags=["canned replies"],
)
def render_canned_reply(request: HttpRequest, conversation_id: Id, reply_id: Id):
    """The reply filled in for this conversation and the calling operator, as plain text for
    the composer (the operator still sends it)."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    reply = get_for_org_or_404(request.org, CannedReply, pk=reply_id)
    return {"text": canned_replies.render_canned(reply, conversation, request.member)}


def note_out(note: Note) -> dict:
    return {
        "id": note.pk,
        "conversation_id": note.conversation_id,
        "author_id": note.author_id,
        "author_name": note.author.display_name if note.author else "",
        "by_assistant": note.by_assistant,
        "body": note.body,
        "created_at": note.created_at,
    }


@router.get("/conversations/{conversation_id}/notes", response=list[NoteOut], tags=["notes"])
def list_notes(
    request: HttpRequest,
    response: HttpResponse,
    conversation_id: Id,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The conversation's private notes, oldest first, a page at a time (`X-Next-Cursor`)."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    notes_ = conversation.notes.select_related("author")
    rows = cursors.page(notes_, order=["created_at"], cursor=cursor, limit=limit, response=response)
    return [note_out(note) for note in rows]


@router.post("/conversations/{conversation_id}/notes", response={201: NoteOut}, tags=["notes"])
def add_note(request: HttpRequest, conversation_id: Id, payload: NoteIn):
    """A private note for the team; never sent to the customer."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    note = notes.add_note(conversation, payload.body, acting_member=request.member)
    return Status(201, note_out(note))


# SLA (conversa/inbox/deadlines.py)


class ClockOut(Schema):
    name: Literal["first_response", "resolution"]
    state: Literal["ok", "at_risk", "breached"]
    due_at: datetime
    seconds_left: int = Field(description="Business seconds; negative: past due by that many")


class BreachedOut(Schema):
    queue_id: int | None
    breached: int


class BusinessHoursIO(Schema):
    time_zone: str
    hours: dict[str, list[list[str]]] = Field(
        description='{"mon": [["09:00", "18:00"]], …}; {} means always open'
    )
    holidays: list[str] = Field(description="ISO dates, whole local days off")


@router.get("/conversations/{conversation_id}/sla", response=ClockOut | None, tags=["sla"])
def conversation_sla(request: HttpRequest, conversation_id: Id):
    """The conversation's most urgent running SLA clock; null when none runs."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return deadlines.sla_states([conversation])[conversation.pk]


@router.get("/sla/breached", response=list[BreachedOut], tags=["sla"])
def breached(request: HttpRequest):
    """Per queue (null: outside any), its unresolved conversations past a due time."""
    counts = deadlines.breached_counts(request.org)
    return [{"queue_id": queue_id, "breached": n} for queue_id, n in counts.items()]


@router.get("/business-hours", response=BusinessHoursIO, tags=["sla"])
def business_hours(request: HttpRequest):
    org = request.org
    return {"time_zone": org.time_zone, "hours": org.business_hours, "holidays": org.holidays}


@router.put("/business-hours", response=BusinessHoursIO, tags=["sla"])
def set_business_hours(request: HttpRequest, payload: BusinessHoursIO):
    """Change the schedule the SLA clock runs in (422 naming every problem); due times of
    unresolved conversations are recomputed."""
    deadlines.set_business_hours(
        request.org,
        acting_member=request.member,
        hours=payload.hours,
        holidays=payload.holidays,
        time_zone=payload.time_zone,
    )
    return business_hours(request)


class SurveyIO(Schema):
    enabled: bool
    question: str = Field("", max_length=surveys.MAX_QUESTION, description="blank: the default")
    open_hours: int = Field(ge=1, le=MAX_SURVEY_OPEN_HOURS, description="how long an answer counts")


def supervisors_only(request: HttpRequest) -> None:
    if not request.member.supervises:
        raise Forbidden(gettext("Only supervisors and admins change the inbox's settings."))


@router.put("/survey", response=SurveyIO, tags=["settings"])
def set_survey(request: HttpRequest, payload: SurveyIO):
    """The satisfaction survey after a resolved conversation: on or off, its question and how
    long an answer counts (queues may override it). Supervisors and above; recorded."""
    saved = surveys.update_settings(
        request.org,
        acting_member=request.member,
        enabled=payload.enabled,
        question=payload.question,
        open_hours=payload.open_hours,
    )
    return {"enabled": saved.enabled, "question": saved.question, "open_hours": saved.open_hours}


class ReadReceiptsIO(Schema):
    enabled: bool = Field(description="opening a conversation tells the customer it was read")


@router.put("/read-receipts", response=ReadReceiptsIO, tags=["settings"])
def set_read_receipts(request: HttpRequest, payload: ReadReceiptsIO):
    """Whether opening a conversation tells the customer their messages were read.
    Supervisors and above."""
    supervisors_only(request)
    read_receipts.set_read_receipts(request.org, payload.enabled, acting_member=request.member)
    return {"enabled": request.org.send_read_receipts}
