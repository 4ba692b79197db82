"""The team's side of the API: operators (who they are, their availability and capacity) and
queues (created, changed, deleted, their SLA targets). Supervisors change them; refusals come
from the services (`inbox/queues.py`, `inbox/deadlines.py`) as the rest of the inbox API's do."""

from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.responses import Status

from conversa import cursors
from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit
from conversa.inbox import deadlines, presence, queues
from conversa.inbox.models import Queue

router = Router(tags=["operators"])


class OperatorOut(Schema):
    id: int
    display_name: str
    role: str
    availability: str
    capacity: int
    open_count: int
    queue_ids: list[int]


class AvailabilityIn(Schema):
    availability: Literal["online", "away", "offline"]


class QueueOut(Schema):
    id: int
    name: str
    distribution: str
    first_response_minutes: int | None
    resolution_minutes: int | None
    member_ids: list[int]
    number_ids: list[int]


def operator_out(member: Member) -> dict:
    fields = [f for f in OperatorOut.model_fields if f != "queue_ids"]
    return {
        **{f: getattr(member, f) for f in fields},
        "queue_ids": sorted(q.pk for q in member.queues.all()),
    }


@router.get("/operators", response=list[OperatorOut])
def list_operators(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's members as operators, by name, a page at a time."""
    members = scoped(request.org, Member).prefetch_related("queues")
    rows = cursors.page(
        members, order=["display_name"], cursor=cursor, limit=limit, response=response
    )
    return [operator_out(member) for member in rows]


@router.get("/operators/me", response=OperatorOut)
def me(request: HttpRequest):
    """The operator profile of whoever is calling (the session's member or the token's)."""
    return operator_out(request.member)


@router.post("/operators/me/availability", response=OperatorOut)
def set_my_availability(request: HttpRequest, payload: AvailabilityIn):
    """Online operators under capacity receive new conversations; away and offline do not.
    A choice as the app's menu makes it: away or offline holds until chosen again or until the
    member's sockets have all been gone for the grace period (conversa/inbox/presence.py)."""
    presence.choose(request.member, payload.availability, acting_member=request.member)
    request.member.refresh_from_db()  # its open count, if it took work
    return operator_out(request.member)


class QueueIn(Schema):
    name: str = Field(max_length=200)
    member_ids: list[Id] = Field([], max_length=1000)
    number_ids: list[Id] = Field([], max_length=1000)
    distribution: Literal["off", "round_robin", "least_load"] = "off"
    first_response_minutes: int | None = Field(None, ge=1, le=deadlines.MAX_TARGET_MINUTES)
    resolution_minutes: int | None = Field(None, ge=1, le=deadlines.MAX_TARGET_MINUTES)


class CapacityIn(Schema):
    capacity: int


def queue_out(queue: Queue) -> dict:
    return {
        **{f: getattr(queue, f) for f in QueueOut.model_fields if not f.endswith("_ids")},
        "member_ids": sorted(m.pk for m in queue.members.all()),
        "number_ids": sorted(n.pk for n in queue.numbers.all()),
    }


@router.get("/queues", response=list[QueueOut])
def list_queues(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's queues by name, a page at a time."""
    found = scoped(request.org, Queue).prefetch_related("members", "numbers")
    return [
        queue_out(q)
        for q in cursors.page(found, order=["name"], cursor=cursor, limit=limit, response=response)
    ]


@router.post("/queues", response={201: QueueOut})
def create_queue(request: HttpRequest, payload: QueueIn):
    """A new queue (supervisors): members, numbers (a number's new conversations land in its
    oldest queue), distribution rule, SLA targets in business minutes. 409 when the name is
    taken in any case; 422 for an unknown member or number, or a target that is not positive."""
    queue = queues.create_queue(request.org, acting_member=request.member, **payload.dict())
    return Status(201, queue_out(queue))


@router.put("/queues/{queue_id}", response=QueueOut)
def update_queue(request: HttpRequest, queue_id: Id, payload: QueueIn):
    """Everything about a queue at once, as its settings form does; refused as creating is.
    Members taken out keep what they hold; members added take what waits, when it
    distributes."""
    queue = get_for_org_or_404(request.org, Queue, pk=queue_id)
    queues.update_queue(queue, acting_member=request.member, **payload.dict())
    return queue_out(queue)


@router.delete("/queues/{queue_id}", response={204: None})
def delete_queue(request: HttpRequest, queue_id: Id):
    """Delete a queue: its conversations stay, in no queue, without SLA due times."""
    queue = get_for_org_or_404(request.org, Queue, pk=queue_id)
    queues.delete_queue(queue, acting_member=request.member)
    return Status(204, None)


@router.put("/operators/{member_id}/capacity", response=OperatorOut)
def set_capacity(request: HttpRequest, member_id: Id, payload: CapacityIn):
    """How many open conversations an operator may hold before distribution passes them over
    (supervisors; 0 to 500). More room, while they are online, takes what waits at once."""
    member = get_for_org_or_404(request.org, Member, pk=member_id)
    queues.set_capacity(member, payload.capacity, acting_member=request.member)
    member.refresh_from_db()  # its open count, if it took work
    return operator_out(member)


class QueueTargetsIn(Schema):
    first_response_minutes: int | None = Field(None, ge=1, le=deadlines.MAX_TARGET_MINUTES)
    resolution_minutes: int | None = Field(None, ge=1, le=deadlines.MAX_TARGET_MINUTES)


@router.put("/queues/{queue_id}/sla", response=QueueOut, tags=["sla"])
def set_queue_targets(request: HttpRequest, queue_id: Id, payload: QueueTargetsIn):
    """A queue's first-response and resolution targets in business minutes (null: none)."""
    queue = get_for_org_or_404(request.org, Queue, pk=queue_id)
    deadlines.set_queue_targets(
        queue,
        acting_member=request.member,
        first_response_minutes=payload.first_response_minutes,
        resolution_minutes=payload.resolution_minutes,
    )
    return queue_out(queue)


class NotificationsIO(Schema):
    """The caller's own presence and notification preferences (the whole set)."""

    automatic: bool = Field(description="online when signed in, away when idle")
    notify_assigned: bool
    notify_messages: bool
    notify_mentions: bool
    notify_sound: bool


@router.put("/operators/me/notifications", response=NotificationsIO)
def set_my_notifications(request: HttpRequest, payload: NotificationsIO):
    """The caller's own notifications and "online when I connect" (nobody else's)."""
    return presence.set_preferences(request.member, acting_member=request.member, **payload.dict())
